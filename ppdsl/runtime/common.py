"""Imports, constants and the conversions every part shares: JSON text and
times (ISO-8601 text, epoch seconds, datetimes)."""

# --- runtime ---
import json as _json
import math as _math  # noqa: F401  (the values part uses it)
import re as _re  # noqa: F401  (generated code compiles matches() patterns with it)
import time as _time  # noqa: F401  (the events part uses it)
from datetime import datetime as _datetime, timedelta as _timedelta, timezone as _timezone

_UTC = _timezone.utc
_MAX_DATA = 64 * 1024
_ORD = {int: 1, float: 1, str: 2, _datetime: 3, _timedelta: 4}
# the compact JSON text of LANGUAGE.md section 6 (one encoder, not one per event)
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
