"""The values of expressions: template formatting, ppflow's equality and
ordering, null-safe arithmetic and the built-in functions. Nothing here
raises on a value of the wrong type: it gives null (None) or false."""

from .common import _ORD, _UTC, _datetime, _iso, _json, _jsonable, _math, _time_of, _timedelta, _utc


# --- runtime ---
def _fmt(v):
    """How a value prints in a template (docs/language.md section 4)."""
    t = type(v)
    if t is str:
        return v
    if v is None:
        return ""
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return _int_text(v)
    if t is float:
        return repr(v)
    if t is _datetime:
        return _iso(v)
    if t is _timedelta:
        return f"{int(v.total_seconds())}s"
    try:
        return _json.dumps(_jsonable(v), ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):  # not JSON (from a caller's dict), too long, too deep
        return ""


def _int_text(v):
    try:
        return repr(v)
    except ValueError:  # more digits than Python converts at once (3.11+): convert in parts
        head, tail = divmod(abs(v), 10**4000)
        return ("-" if v < 0 else "") + _int_text(head) + repr(tail).rjust(4000, "0")


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
        if ta is _datetime and tb is _datetime:
            return _utc(a) == _utc(b)
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
    if k is None or k != _ORD.get(type(b)):
        return False
    try:
        return a < b
    except TypeError:  # a naive datetime against an aware one: naive means UTC
        return _utc(a) < _utc(b)


def _le(a, b):
    k = _ORD.get(type(a))
    if k is None or k != _ORD.get(type(b)):
        return False
    try:
        return a <= b
    except TypeError:  # a naive datetime against an aware one: naive means UTC
        return _utc(a) <= _utc(b)


def _gt(a, b):
    k = _ORD.get(type(a))
    if k is None or k != _ORD.get(type(b)):
        return False
    try:
        return a > b
    except TypeError:  # a naive datetime against an aware one: naive means UTC
        return _utc(a) > _utc(b)


def _ge(a, b):
    k = _ORD.get(type(a))
    if k is None or k != _ORD.get(type(b)):
        return False
    try:
        return a >= b
    except TypeError:  # a naive datetime against an aware one: naive means UTC
        return _utc(a) >= _utc(b)


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
        if ta is _datetime and tb is _datetime:
            return _utc(a) - _utc(b)
        if (ta is _datetime and tb is _timedelta) or (ta is _timedelta and tb is _timedelta):
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
        return _json.loads(s, parse_constant=lambda _c: None, parse_float=lambda t: _fin(float(t)))
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
