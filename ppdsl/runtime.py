"""The runtime that every compiled module carries, pasted in verbatim below the
marker line. It imports only the standard library and never raises from an
expression: helpers return None (null) or False on values of the wrong type.

The generated part of the module defines _FLOWS, _EVENT_NAMES, _EVENT_UUIDS,
_BY_UUID, _BY_NAME and _DECLARED, which the functions here read.
"""
# --- runtime ---
import json as _json
import math as _math
import re as _re  # noqa: F401  (generated code compiles matches() patterns with it)
import time as _time
from datetime import datetime as _datetime, timedelta as _timedelta, timezone as _timezone

_UTC = _timezone.utc
_MAX_DATA = 64 * 1024
_ORD = {int: 1, float: 1, str: 2, _datetime: 3, _timedelta: 4}
# the compact JSON text of LANGUAGE.md section 6 (one encoder, not one per event)
_COMPACT = _json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


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
    for flow in _FLOWS:
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
        by_name = _BY_NAME.get(name)
        if by_name is None:
            raise ValueError(f"unknown event_name {_show(name)}{_known()}")
        if found is not None and by_name != found:
            raise ValueError(f"event_uuid {_show(uuid)} is event {found} ({_EVENT_NAMES[found]}) "
                             f"but event_name {_show(name)} is event {by_name}; send identifiers of one event")
        found = by_name
    if seq is not None:
        if type(seq) is not int or not (seq in _EVENT_NAMES if _DECLARED else 1 <= seq <= 8):
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
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"event_data must be a JSON value: {exc}") from None
        try:
            size = len(text) if text.isascii() else len(text.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise ValueError(f"event_data holds {_show(exc.object[exc.start:exc.end])}, which is not "
                             "valid Unicode (a lone UTF-16 surrogate)") from None
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


def _show(value):
    """A value as JSON spells it (true, null, "x"), shortened."""
    try:
        text = _json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):  # not JSON, or an int too long to print
        text = "a number too long to show" if type(value) is int else f"a {type(value).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


def _at_time(value):
    """The `at` argument: epoch seconds, ISO-8601 text or a datetime."""
    if type(value) is str:
        try:
            value = float(value)  # epoch seconds as text: checked like event_timestamp below
        except ValueError:
            pass
    if type(value) is str or type(value) is _datetime:
        parsed = _time_of(value)
        if parsed is None:
            raise ValueError(f"the event time must be seconds since the epoch or an ISO-8601 time, got {_show(value)}")
        return parsed
    return _timestamp(value, "the event time")


def _timestamp(value, what):
    """Epoch seconds → aware datetime, with a message that says what is wrong."""
    if type(value) not in (int, float):
        raise ValueError(f"{what} must be a number of seconds since the epoch, got {_show(value)}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{what} must be a finite number of seconds, got {value}")
    if value < 0:
        raise ValueError(f"{what} must not be negative, got {value}")
    if value >= 1e11:
        hint = f" ({value / 1000:.3f})" if value < 1e15 else ""
        raise ValueError(f"{what} {_show(value)} looks like milliseconds; send seconds since the epoch{hint}")
    return _datetime.fromtimestamp(value, _UTC)


def _time_of(value):
    """A visitor or --at time (ISO-8601 text, epoch seconds or datetime) → aware datetime, or None."""
    t = type(value)
    try:
        if t is str:
            text = value.strip()
            if text[-1:] in "Zz" and text:
                text = text[:-1] + "+00:00"
            try:
                dt = _datetime.fromisoformat(text)
            except ValueError:
                return _datetime.fromtimestamp(float(text), _UTC) if text else None
        elif t is int or t is float:
            return _datetime.fromtimestamp(value, _UTC)
        elif t is _datetime:
            dt = value
        else:
            return None
        tz = dt.tzinfo
        return dt if tz is _UTC else dt.replace(tzinfo=_UTC) if tz is None else dt.astimezone(_UTC)
    except (ValueError, OverflowError, OSError):  # e.g. year 1 at +01:00 is before year 1 in UTC
        return None


def _iso(dt):
    if dt.tzinfo is not _UTC:
        dt = dt.astimezone(_UTC)
    return dt.replace(tzinfo=None).isoformat() + "Z"


def _update(V, ev):
    """The statistics update of LANGUAGE.md section 6, step 2."""
    kc, kf, kl, kd = _STAT_KEYS[ev.seq]
    count = V.get(kc)
    if count is None:
        count = 0
    elif type(count) is not int or count < 0:
        raise ValueError(f"visitor {kc} must be a whole number >= 0, got {_show(count)}")
    first, last = _stored_time(V, kf), _stored_time(V, kl)
    now = ev.now
    ev.count = V[kc] = count + 1
    if first is None or now < first:
        V[kf] = ev.time_text
    elif _not_utc_text(V[kf]):  # epoch seconds or another offset: the output is ISO-8601 UTC
        V[kf] = _iso(first)
    if last is None or now >= last:
        V[kl] = ev.time_text
        V[kd] = ev.data_text
    elif _not_utc_text(V[kl]):
        V[kl] = _iso(last)


def _not_utc_text(value):
    return type(value) is not str or value[-1:] != "Z"


_STAT_KEYS = {s: (f"event_count_{s}", f"event_first_time_{s}", f"event_last_time_{s}", f"event_last_data_{s}")
              for s in range(1, 9)}


def _stored_time(V, key):
    value = V.get(key)
    if value is None:
        return None
    dt = _time_of(value)
    if dt is None:
        raise ValueError(f"visitor {key} must be an ISO-8601 time or epoch seconds, got {_show(value)}")
    return dt


# ----------------------------------------------------------------- actions


def _do(R, action):
    """Run a reply, assign or ticket through `effects`; False when it failed."""
    effects = R.effects
    if effects is None:
        R.actions.append(action)
        return True
    try:
        ok = effects(action) is not False
    except Exception as exc:  # the host's failure, recorded rather than raised
        action["error"] = f"{type(exc).__name__}: {exc}"
        ok = False
    (R.actions if ok else R.failed).append(action)
    return ok


def _set(R, V, flow, line, field, value):
    value = _jsonable(value)
    V[field] = value
    R.actions.append({"flow": flow, "line": line, "type": "set", "field": field, "value": value})


def _convert(R, V, flow, line, value):
    V["customer_user_type"] = value
    R.actions.append({"flow": flow, "line": line, "type": "convert", "customer_user_type": value})


def _jsonable(v):
    try:
        return _jsonable_inner(v)
    except RecursionError:  # only JSON input nests this deep, and it is JSON already
        return v


def _jsonable_inner(v):
    t = type(v)
    if t is _datetime:
        return _iso(v)
    if t is _timedelta:
        return int(v.total_seconds())
    if t is list:
        return [_jsonable_inner(x) for x in v]
    if t is dict:
        return {k: _jsonable_inner(x) for k, x in v.items()}
    return v


# ----------------------------------------------------------------- values


def _fmt(v):
    """How a value prints in a template (LANGUAGE.md section 4)."""
    t = type(v)
    if t is str:
        return v
    if v is None:
        return ""
    if t is bool:
        return "true" if v else "false"
    if t is int or t is float:
        return repr(v)
    if t is _datetime:
        return _iso(v)
    if t is _timedelta:
        return f"{int(v.total_seconds())}s"
    try:
        return _json.dumps(_jsonable(v), ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):  # not JSON (from a caller's dict), too long, too deep
        return ""


def _dt(v):
    if type(v) is _datetime and v.tzinfo is _UTC:
        return v
    return None if v is None else _time_of(v)  # text, epoch seconds, or a datetime in another zone


def _eq(a, b):
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        return ta is tb and a == b
    try:
        if ta is list and tb is list:  # element by element, so [1] != [true] too
            return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b))
        if ta is dict and tb is dict:
            return a.keys() == b.keys() and all(_eq(a[k], b[k]) for k in a)
    except RecursionError:  # only JSON input nests this deep
        pass
    return a == b


def _ne(a, b):
    return not _eq(a, b)


def _chain(first, *rest):
    """A chained comparison `a < b <= c`: rest is test, operand, test, operand..."""
    left = first
    for i in range(0, len(rest), 2):
        right = rest[i + 1]
        if not rest[i](left, right):
            return False
        left = right
    return True


def _lt(a, b):
    k = _ORD.get(type(a))
    return k is not None and k == _ORD.get(type(b)) and a < b


def _le(a, b):
    k = _ORD.get(type(a))
    return k is not None and k == _ORD.get(type(b)) and a <= b


def _gt(a, b):
    k = _ORD.get(type(a))
    return k is not None and k == _ORD.get(type(b)) and a > b


def _ge(a, b):
    k = _ORD.get(type(a))
    return k is not None and k == _ORD.get(type(b)) and a >= b


def _in(a, b):
    return a is not None and _contains(b, a)


def _not_in(a, b):
    # a value of the wrong type makes `not in` false too, not true
    t = type(b)
    searchable = t is list or ((t is str or t is dict) and type(a) is str)
    return a is not None and searchable and not _contains(b, a)


def _isnum(x):
    t = type(x)
    return t is int or t is float


def _fin(x):
    """Arithmetic results that JSON can't hold (inf, nan, ints too long to print) are null."""
    t = type(x)
    if t is float:
        return x if _math.isfinite(x) else None
    return None if t is int and x.bit_length() > 13000 else x


def _add(a, b):
    ta, tb = type(a), type(b)
    try:
        if _isnum(a) and _isnum(b):
            return _fin(a + b)
        if (ta is _datetime and tb is _timedelta) or (ta is _timedelta and tb in (_datetime, _timedelta)):
            return a + b
    except (OverflowError, ValueError):
        pass
    return None


def _sub(a, b):
    ta, tb = type(a), type(b)
    try:
        if _isnum(a) and _isnum(b):
            return _fin(a - b)
        if (ta is _datetime and tb in (_datetime, _timedelta)) or (ta is _timedelta and tb is _timedelta):
            return a - b
    except (OverflowError, ValueError):
        pass
    return None


def _mul(a, b):
    try:
        if _isnum(a) and _isnum(b):
            return _fin(a * b)
        if type(a) is _timedelta and _isnum(b):
            return a * b
        if _isnum(a) and type(b) is _timedelta:
            return b * a
    except (OverflowError, ValueError):
        pass
    return None


def _div(a, b):
    try:
        if _isnum(b) and b != 0 and (_isnum(a) or type(a) is _timedelta):
            return _fin(a / b)
        if type(a) is _timedelta and type(b) is _timedelta and b:
            return a / b
    except (OverflowError, ValueError, ZeroDivisionError):
        pass
    return None


def _mod(a, b):
    try:
        if _isnum(a) and _isnum(b) and b != 0:
            return _fin(a % b)
    except (OverflowError, ValueError, ZeroDivisionError):
        pass
    return None


def _neg(a):
    try:
        return -a if _isnum(a) or type(a) is _timedelta else None
    except OverflowError:  # the most negative duration has no opposite
        return None


def _get(o, key):
    return o.get(key) if type(o) is dict else None


def _idx(o, i):
    t = type(o)
    if t is dict:
        return o.get(i) if type(i) is str else None
    if (t is list or t is str) and type(i) is int and -len(o) <= i < len(o):
        return o[i]
    return None


def _len(x):
    return len(x) if type(x) in (str, list, dict) else None


def _lower(x):
    return x.lower() if type(x) is str else None


def _upper(x):
    return x.upper() if type(x) is str else None


def _contains(a, b):
    t = type(a)
    if t is str:
        return type(b) is str and b in a
    if t is list:
        return any(_eq(b, x) for x in a)
    if t is dict:
        return type(b) is str and b in a
    return False


def _startswith(s, p):
    return type(s) is str and type(p) is str and s.startswith(p)


def _endswith(s, p):
    return type(s) is str and type(p) is str and s.endswith(p)


def _matches(s, rx):
    return type(s) is str and rx.search(s) is not None


def _json_value(s):
    if type(s) is not str:
        return None
    try:
        return _json.loads(s, parse_constant=lambda _c: None)
    except (ValueError, RecursionError):
        return None


def _int(x):
    t = type(x)
    try:
        if t is int or t is bool:
            return int(x)
        if t is float or t is str:
            return int(x) if t is float else int(x.strip())
    except (ValueError, OverflowError):
        pass
    return None


def _float(x):
    t = type(x)
    try:
        if t is int or t is float or t is bool or t is str:
            return _fin(float(x))
    except (ValueError, OverflowError):
        pass
    return None


def _str(x):
    return None if x is None else _fmt(x)


def _bool(x):
    return x if type(x) is bool else None


def _datetime_text(x):
    dt = _dt(x)
    return None if dt is None else _iso(dt)
