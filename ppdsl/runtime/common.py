"""Imports, constants and the conversions every part shares: JSON text and
times (ISO-8601 text, epoch seconds, datetimes)."""

# --- runtime ---
import json as _json
import math as _math  # noqa: F401  (the values part uses it)
import re as _re
import time as _time  # noqa: F401  (the events part uses it)

from datetime import datetime as _datetime, timedelta as _timedelta, timezone as _timezone

_UTC = _timezone.utc


def _nfkc(name):
    """Event names compare after NFKC normalization, as the .ppflow names do."""
    import unicodedata  # only for names that aren't ASCII

    return unicodedata.normalize("NFKC", name)


_MAX_DATA = 64 * 1024
_ORD = {int: 1, float: 1, str: 2, _datetime: 3, _timedelta: 4}
# the compact JSON text of docs/language.md section 6 (one encoder, not one per event)
_COMPACT = _json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


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


# ISO-8601 as ppdsl reads it on every Python (datetime.fromisoformat differs
# between versions): a date, then optionally a time with any fraction
# (truncated to microseconds) and a zone; no zone means UTC. Compiled on first
# use, as most modules only ever read the canonical form below.
_ISO_TIME = None
_ISO_PATTERN = (
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2})(?::?([0-9]{2})(?::?([0-9]{2})(?:[.,]([0-9]+))?)?)?)?"
    r" *(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?"
)


def _canonical_time(text):
    """The form ppdsl writes (docs/language.md section 7), 2026-11-25T08:00:00Z with an
    optional .ffffff, as an aware datetime; None for any other text. Its shape is
    checked here, so every Python's fromisoformat reads it alike (and checks the digits)."""
    n = len(text)
    if (n == 20 or n == 27 and text[19] == ".") and text[-1] == "Z" and text[10] == "T" and text.isascii():
        if text[4] == text[7] == "-" and text[13] == text[16] == ":":
            try:
                return _datetime.fromisoformat(text[:-1] + "+00:00")  # UTC itself, no replace()
            except ValueError:
                pass
    return None


def _parse_iso(text):
    global _ISO_TIME
    dt = _canonical_time(text)
    if dt is not None:
        return dt
    if _ISO_TIME is None:
        _ISO_TIME = _re.compile(_ISO_PATTERN)
    m = _ISO_TIME.fullmatch(text)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, z, sign, zh, zm = m.groups()
    us = int(frac[:6].ljust(6, "0")) if frac else 0
    tz = _UTC
    if sign:
        offset = _timedelta(hours=int(zh), minutes=int(zm or 0))
        tz = _timezone(-offset if sign == "-" else offset)
    dt = _datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), us, tz)
    return dt if tz is _UTC else dt.astimezone(_UTC)


def _time_of(value):
    """A visitor or --at time (ISO-8601 text, epoch seconds or datetime) → aware datetime, or None."""
    t = type(value)
    try:
        if t is str:
            text = value.strip()
            dt = _parse_iso(text)
            if dt is None:
                return _datetime.fromtimestamp(float(text), _UTC) if text else None
            return dt
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


def _utc(dt):
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=_UTC)


def _iso(dt):
    """The canonical text of a time: ISO-8601 UTC with Z, a fraction only when there is one."""
    tz = dt.tzinfo
    if tz is None:  # a naive datetime is UTC, as everywhere in ppdsl
        dt = dt.replace(tzinfo=_UTC)
    elif tz is not _UTC:
        dt = dt.astimezone(_UTC)
    return dt.replace(tzinfo=None).isoformat() + "Z"


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
