"""One tracked event: resolving which event it is, validating it, updating
the visitor's statistics, and `handle`, which runs the flows.

The generated part of each module defines _FLOWS_BY_EVENT, _EVENT_NAMES,
_EVENT_UUIDS, _BY_UUID, _BY_NAME and _DECLARED, which the code here reads."""

from .common import (
    _canonical_time,
    _nfkc,
    _COMPACT,
    _MAX_DATA,
    _UTC,
    _at_time,
    _datetime,
    _iso,
    _json,
    _show,
    _time,
    _time_of,
    _timestamp,
)


# --- runtime ---
class _Event:
    __slots__ = ("seq", "name", "uuid", "count", "data", "data_text", "now", "time_text")


class _Run:
    __slots__ = ("actions", "failed", "effects")

    def __init__(self, effects):
        self.actions = []
        self.failed = []
        self.effects = effects


def handle(payload, visitor=None, effects=None, *, at=None):
    """Process one tracked event (a `window._ppmatc` push) for a visitor.

    Returns {"event", "actions", "failed", "visitor"}; `visitor` is not modified.
    `effects(action)` may return False or raise to make an action fail.
    `at` (epoch seconds, ISO-8601 text or datetime) is the event's time when
    the payload carries no event_timestamp. A rejected event raises ValueError.
    """
    ev = _resolve(payload, at)
    if visitor is None:
        V = {}
    elif isinstance(visitor, dict):
        V = dict(visitor)
    else:
        raise ValueError("the visitor must be a JSON object of PPMessage variables")
    _update(V, ev)
    R = _Run(effects)
    for flow in _FLOWS_BY_EVENT.get(ev.seq, ()):
        flow(R, V, ev)
    return {
        "event": {"seq": ev.seq, "name": ev.name, "uuid": ev.uuid, "count": ev.count, "time": ev.time_text},
        "actions": R.actions,
        "failed": R.failed,
        "visitor": V,
    }


def _resolve(payload, at):
    if isinstance(payload, (str, bytes, bytearray)):
        try:
            payload = _json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"the event is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ValueError('the event must be a JSON object: {"track_event": {"event_name": ..., ...}}')
    te = payload.get("track_event", payload)
    if not isinstance(te, dict):
        raise ValueError("track_event must be a JSON object")
    uuid, name, seq = te.get("event_uuid"), te.get("event_name"), te.get("event_seq")
    found = None
    if uuid is not None:
        if type(uuid) is not str:
            raise ValueError(f"event_uuid must be a string, got {_show(uuid)}")
        found = _BY_UUID.get(uuid)
        if found is None:
            raise ValueError(f"unknown event_uuid {_show(uuid)}{_known()}")
    if name is not None:
        if type(name) is not str:
            raise ValueError(f"event_name must be a string, got {_show(name)}")
        by_name = _BY_NAME.get(name if name.isascii() else _nfkc(name))
        if by_name is None:
            raise ValueError(f"unknown event_name {_show(name)}{_known()}")
        if found is not None and by_name != found:
            raise ValueError(
                f"event_uuid {_show(uuid)} is event {found} ({_EVENT_NAMES[found]}) "
                f"but event_name {_show(name)} is event {by_name}; send identifiers of one event"
            )
        found = by_name
    if seq is not None:
        if type(seq) is not int:
            raise ValueError(f"event_seq must be an integer, got {_show(seq)}")
        if not (seq in _EVENT_NAMES if _DECLARED else 1 <= seq <= 8):
            raise ValueError(f"unknown event_seq {_show(seq)}{_known()}")
        if found is not None and seq != found:
            raise ValueError(f"event_seq {seq} doesn't match the event named by event_uuid/event_name ({found})")
        found = seq
    if found is None:
        raise ValueError("the event names no event: give event_uuid, event_name or event_seq" + _known())
    ev = _Event()
    ev.seq = found
    ev.name = _EVENT_NAMES.get(found)
    ev.uuid = _EVENT_UUIDS.get(found)
    data = te.get("event_data")
    ev.data = data
    if data is None:
        ev.data_text = None
    else:
        try:
            text = _COMPACT(data)
        except ValueError as exc:  # NaN or Infinity, or an int too long to write (Python 3.11+)
            what = "NaN or Infinity, which are not JSON numbers" if "float" in str(exc) else "a number too long"
            raise ValueError(f"event_data holds {what}") from None
        except TypeError:
            raise ValueError("event_data must be a JSON value: it holds something JSON can't") from None
        except RecursionError:
            raise ValueError("event_data is nested too deeply") from None
        try:
            size = len(text) if text.isascii() else len(text.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"event_data holds {_show(exc.object[exc.start : exc.end])}, which is not "
                "valid Unicode (a lone UTF-16 surrogate)"
            ) from None
        if size > _MAX_DATA:
            raise ValueError(f"event_data is {size} bytes as JSON text; the limit is 64 KiB (65536 bytes)")
        ev.data_text = text
    ts = te.get("event_timestamp")
    if ts is None:
        ev.now = _at_time(_time.time() if at is None else at)
    elif (type(ts) is int or type(ts) is float) and 0 <= ts < 1e11:  # the usual case, checked in full below
        ev.now = _datetime.fromtimestamp(ts, _UTC)
    else:
        ev.now = _timestamp(ts, "event_timestamp")
    ev.time_text = _iso(ev.now)
    return ev


def _known():
    if not _DECLARED:
        return "; this ruleset declares no events, so name the event by event_seq (1 to 8)"
    return "; known events: " + ", ".join(f"{s} {n}" for s, n in sorted(_EVENT_NAMES.items()))


def _update(V, ev):
    """The statistics update of docs/language.md section 6.5."""
    kc, kf, kl, kd = _STAT_KEYS[ev.seq]
    count = V.get(kc)
    if count is None:
        count = 0
    elif type(count) is not int or not 0 <= count < _MAX_COUNT:
        raise ValueError(f"visitor {kc} must be a whole number from 0 to 2^53 - 1, got {_show(count)}")
    # the form ppdsl writes is read by one call; anything else (absent, epoch
    # seconds, another form) by _stored_time
    first, last = V.get(kf), V.get(kl)
    first_canonical = last_canonical = True
    if first is not None and (type(first) is not str or (first := _canonical_time(first)) is None):
        first, first_canonical = _stored_time(V, kf)
    if last is not None and (type(last) is not str or (last := _canonical_time(last)) is None):
        last, last_canonical = _stored_time(V, kl)
    now = ev.now
    ev.count = V[kc] = count + 1
    if first is None or now < first:
        V[kf] = ev.time_text
    elif not first_canonical:  # epoch seconds, another offset or fraction: ppdsl writes one form
        V[kf] = _iso(first)
    if last is None or now >= last:
        V[kl] = ev.time_text
        V[kd] = ev.data_text
    elif not last_canonical:
        V[kl] = _iso(last)


_MAX_COUNT = 2**53  # counts stay exact in every JSON reader (JavaScript's safe integers)


_STAT_KEYS = {
    s: (f"event_count_{s}", f"event_first_time_{s}", f"event_last_time_{s}", f"event_last_data_{s}")
    for s in range(1, 9)
}


def _stored_time(V, key):
    """A stored statistic time that is not in the form ppdsl writes, and False to say so."""
    value = V.get(key)
    dt = _time_of(value)
    if dt is None:
        raise ValueError(f"visitor {key} must be an ISO-8601 time or epoch seconds, got {_show(value)}")
    return dt, False
