"""Hypothesis strategies for the ppflow language (LANGUAGE.md, grammar/ppflow.tx),
in the manner of hypothesmith: source text generated rule by rule.

- `valid_programs()` / `program_infos()`: programs meant to pass `ppdsl check`.
  Every name is declared (or built in), every type is one the checker accepts,
  and the text is printed so that it parses back as generated (parentheses by
  precedence, braces where an `else` or `elif` would bind to the wrong `if`).
  `program_infos()` also says what was declared, for the event strategies.
- `any_programs()`: valid programs broken by token-level mutations, and junk.
- `events()` and `visitors()`: payloads a page would push, and stored visitors,
  good and bad.

The vocabulary below is copied from LANGUAGE.md rather than imported from
ppdsl, so that the fuzzer checks the implementation against the contract.

Expression generators are typed: `expr(draw, cx, kind, depth)` gives an
expression whose static type is `kind`, or a type the checker can't know
(JSON, null), which the checker accepts anywhere. Each grammar rule is one
function taking Hypothesis' `draw`; `depth` bounds the recursion.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import operator
import re
import string
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import NamedTuple, Optional, TypeVar
from collections.abc import Callable

from hypothesis import strategies as st

# ----------------------------------------------------------------- the language's vocabulary (LANGUAGE.md)

KEYWORDS = frozenset(
    "event uuid agent group field segment flow priority inactive on any if elif else switch case default "
    "reply assign set let convert ticket end failure and or not in true false null True False TRUE FALSE None".split()
)
SYSTEM_VARS = {
    **{
        name: "str"
        for name in (
            "user_fullname user_email user_mobile user_language user_country user_city customer_user_type "
            "browser_name browser_language page_url page_title user_channel"
        ).split()
    },
    "is_anonymous_user": "bool",
    "is_assigned_user": "bool",
    "user_web_sessions": "int",
    "ent_user_createtime": "datetime",
}
EVENT_VARS = {
    "track_event_seq": "int",
    "track_event_uuid": "str",
    "track_event_count": "int",
    "track_event_data": "str",
    "data": "json",
    "now": "datetime",
}
STAT_NAMES = {"count": "int", "first_time": "datetime", "last_time": "datetime", "last_data": "str"}
FUNCTIONS = {  # name: arity
    "count": 1,
    "first_time": 1,
    "last_time": 1,
    "last_data": 1,
    "len": 1,
    "lower": 1,
    "upper": 1,
    "contains": 2,
    "startswith": 2,
    "endswith": 2,
    "matches": 2,
    "json": 1,
    "int": 1,
    "float": 1,
    "str": 1,
    "exists": 1,
}
FIELD_TYPES = {"int": "int", "float": "float", "string": "str", "bool": "bool", "datetime": "datetime"}
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION_SECONDS = 86400 * 999_999_999
MAX_INT = 10**15 - 1  # 15 digits
UNKNOWN = ("json", "null", "any")  # kinds the checker accepts anywhere
STAT_RE = re.compile(r"event_(count|first_time|last_time|last_data)_[0-9]+$")
EXTRA_RE = re.compile(r"extra_field_[A-Za-z0-9_]+$")

# names that mean something to Python or to the generated module
PYTHON_NAMES = (
    "class import lambda def return yield await async global nonlocal del pass for print exec eval open type "
    "self match case_ _ __builtins__ __import__ __name__ __file__ __class__ _do _set _fmt _eq V E R seq _l1 "
    "_s1 _K1 _seg_1 _flow_1 handle EVENTS _FLOWS _FLOWS_BY_EVENT _BY_NAME _json _re os sys"
).split()
HOSTILE_TEXT = (
    'PWN"); __import__("os").system("echo PWN"); ("',
    "PWN'''+__import__('os').getcwd()+'''",
    "PWN\\",
    "PWN\r__import__('os')",
    "PWN\n#",
    "PWN\u2028\u2029\x85\x0b\x0c\x1c",
    "PWN\x00\x1b[2J\x07",
    "PWN {0} %s {x!r}",
    "PWN😀 ünïcødé 中文 \U0010ffff",
    "}}",
    "{ }",
)
JSON_TEXT = ("NaN", "-Infinity", "123", "-0.0", "1e308", '"x"', '{"a": [1, {}]}', "null", "[", "9" * 5000, "")
# JSON numbers too large for a float: json() gives inf (known bug, see test_json_overflow_is_null)
OVERFLOW_JSON_TEXT = ("1e400", "-1e400", "[1e999, 2]", '{"a": -1e309}')
# ints of more than 13,000 bits (JSON allows them): `+` and `-` in compile_condition's
# fast path don't make them null (known bug, see test_known_bug_condition_fast_path_overflow)
HUGE_INTS = (10**4000, -(10**3990))
REGEXES = ("^/pricing", "a|b", "[0-9]+", r"\d{3}", "(?i)vip", "^$", ".", r"\.", "x*", "[{}]", "PWN\\\\")
ATOM, NEG, MUL, ADD, CMP, NOT, AND, OR = 10, 7, 6, 5, 4, 3, 2, 1

Draw = Callable[[st.SearchStrategy], object]
T = TypeVar("T")


class Ex(NamedTuple):
    """Expression text and how tightly its outermost operator binds (Python's precedence)."""

    text: str
    prec: int = ATOM


class St(NamedTuple):
    """Statement text; `open` when a following `else`/`elif` would bind inside it."""

    text: str
    open: bool = False


@dataclass
class Event:
    seq: int
    name: Optional[str]
    uuid: Optional[str]


@dataclass
class ProgramInfo:
    """A generated program and what it declares."""

    text: str
    events: list[Event]  # empty: events are named by SEQ
    fields: dict[str, str]  # name -> kind
    flow_order: list[str]  # the active flows, in the order they must run
    inactive: list[str]


@dataclass
class Context:
    """What a piece of source may refer to. `lets` is copied into each new scope."""

    events: list[Event]
    agents: list[str]
    groups: list[str]
    fields: dict[str, str]
    segments: dict[str, str]
    lets: dict[str, str] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)  # every value name in the program (fields, segments, lets)
    let_names: list[str] = field(default_factory=list)  # every let's name, for reuse in sibling scopes
    current_event: bool = True  # False for compile_condition: no `data`, `now` or `track_event_*`

    def scope(self) -> Context:
        return dataclasses.replace(self, lets=dict(self.lets))

    def variables(self, kind: str) -> list[str]:
        out = [n for n, k in SYSTEM_VARS.items() if k == kind]
        out += [n for n, k in EVENT_VARS.items() if k == kind and self.current_event]
        for table in (self.fields, self.segments, self.lets):
            out += [n for n, k in table.items() if k == kind]
        return out

    def seqs(self) -> list[int]:
        return [e.seq for e in self.events] if self.events else list(range(1, 9))


@functools.cache
def _integers(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


_BOOLEANS = st.booleans()


def between(draw: Draw, lo: int, hi: int) -> int:
    """An int in [lo, hi] (the strategies are cached: building one per draw is slow)."""
    return draw(_integers(lo, hi))  # type: ignore[return-value]


def pick(draw: Draw, options: Sequence[T]) -> T:
    """One of `options`; shrinking goes to the first."""
    return options[between(draw, 0, len(options) - 1)]


def flip(draw: Draw) -> bool:
    return draw(_BOOLEANS)  # type: ignore[return-value]


def choose(draw: Draw, options: list[Callable[[], Ex]]) -> Ex:
    """One of the alternatives, called; shrinking goes to the first (the simplest)."""
    return pick(draw, options)()


# ----------------------------------------------------------------- names and strings


def _words(first: str, rest: str, max_size: int) -> st.SearchStrategy[str]:
    """Identifiers (st.from_regex is slow to draw from)."""
    return st.builds(operator.add, st.sampled_from(first), st.text(alphabet=rest, max_size=max_size))


_LOWER = string.ascii_lowercase
_WORD = string.ascii_letters + string.digits + "_"
_NAMES = st.one_of(
    _words(_LOWER, _LOWER + string.digits + "_", 10),
    st.sampled_from(PYTHON_NAMES),
    st.sampled_from(["PWN", "PWN_x", "xPWN", "if_", "nothing", "orange", "android", "input", "end_"]),
    _words(string.ascii_letters + "_", _WORD, 40),
)

_EXTRA_SUFFIX = st.text(alphabet=_WORD, min_size=1, max_size=12)
_DIGITS = st.text(alphabet=string.digits, min_size=1, max_size=8)


def identifier(draw: Draw, max_len: int = 24) -> str:
    """Name: any identifier that is not a keyword, often one that means something to Python."""
    name = draw(_NAMES)[:max_len]  # type: ignore[index]
    return name + "_" if name in KEYWORDS else name


def builtin_value_name(name: str) -> bool:
    return name in SYSTEM_VARS or name in EVENT_VARS or bool(STAT_RE.match(name) or EXTRA_RE.match(name))


def fresh_value_name(draw: Draw, cx: Context) -> str:
    """A name for a field, segment or let: not built in, not used before."""
    name = identifier(draw)
    if builtin_value_name(name):
        name = "v_" + name
    base, n = name, 1
    while name in cx.taken:
        n += 1
        name = f"{base}_{n}"
    cx.taken.add(name)
    return name


def unique_names(draw: Draw, count: int, max_len: int = 24) -> list[str]:
    names: list[str] = []
    for _ in range(count):
        name = identifier(draw, max_len)
        base, n = name, 1
        while name in names:
            n += 1
            name = f"{base[: max_len - 4]}_{n}"
        names.append(name)
    return names


@functools.cache
def _texts(max_size: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(alphabet=string.ascii_letters + string.digits + " _-./:", max_size=max_size),
        st.text(max_size=max_size),
        st.sampled_from(HOSTILE_TEXT),
        st.sampled_from(JSON_TEXT),  # for json(), int(), float()
        st.text(alphabet="\\\"'{}\n\t\r #", max_size=max_size),
    )


def text_value(draw: Draw, max_size: int = 20) -> str:
    """The decoded value of a string: any text, often hostile."""
    return draw(_texts(max_size))  # type: ignore[return-value]


def quoted(draw: Draw, value: str) -> str:
    """StringTok: a literal whose decoded value is `value`, with a drawn quote and escape style."""
    return spell(value, pick(draw, ['"', "'"]), escape_all=flip(draw))


def spell(value: str, quote: str, escape_all: bool) -> str:
    """A string literal for `value`: escapes only where needed, or `escape_all` (both
    quotes, tabs, \\uXXXX for everything that isn't ASCII)."""
    out = []
    for ch in value:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + ch)
        elif ch in "\"'":
            out.append("\\" + ch if escape_all else ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t" if escape_all else "\t")
        elif ch == "\r" or (escape_all and not ch.isascii()):
            if code > 0xFFFF:  # a UTF-16 pair, as JSON spells it
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04X}")
            else:
                out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return quote + "".join(out) + quote


def string_lit(draw: Draw, max_size: int = 20) -> str:
    return quoted(draw, text_value(draw, max_size))


def template(draw: Draw, cx: Context) -> str:
    """TEMPLATE: literal text and `{{ EXPR }}` parts, in one string literal."""
    parts = []
    for _ in range(between(draw, 0, 3)):
        if flip(draw):
            parts.append(template_text(draw))
        else:
            inner = expr(draw, cx, pick(draw, KINDS), 2).text
            pad = pick(draw, ["", " ", "  ", "\n"])
            parts.append("{{" + pad + inner + pad[::-1] + "}}")
    if between(draw, 0, 9) == 0:
        parts.append('{{ "{{" }}')  # a literal {{
    return quoted(draw, "".join(parts))


# ----------------------------------------------------------------- literals


def number_lit(draw: Draw) -> Ex:
    """NumberLit (an integer)."""
    n = draw(st.one_of(st.integers(0, 20), st.sampled_from([0, 1, 8, 255, MAX_INT]), st.integers(0, MAX_INT)))
    text = str(n)
    if len(text) < 13 and between(draw, 0, 19) == 0:
        text = "00" + text
    return Ex(text)


def decimal_lit(draw: Draw) -> Ex:
    whole = draw(st.one_of(st.integers(0, 100), st.integers(0, MAX_INT)))
    frac = draw(_DIGITS)
    return Ex(f"{whole}.{frac}")


def duration_lit(draw: Draw) -> Ex:
    unit = pick(draw, list(UNIT_SECONDS))
    n = draw(st.one_of(st.integers(0, 100), st.integers(0, min(MAX_INT, MAX_DURATION_SECONDS // UNIT_SECONDS[unit]))))
    return Ex(f"{n}{unit}")


def word_lit(draw: Draw, kind: str) -> Ex:
    """WordLit: true/false in PPMessage's spellings, null/None."""
    if kind == "null":
        return Ex(pick(draw, ["null", "None"]))
    return Ex(pick(draw, ["true", "false", "True", "False", "TRUE", "FALSE"]))


def negative(draw: Draw, lit: Ex) -> Ex:
    return Ex("-" + lit.text, NEG) if between(draw, 0, 3) == 0 else lit


# ----------------------------------------------------------------- expressions


KINDS = ("int", "float", "str", "bool", "datetime", "duration", "json", "list", "null", "any")


def expr(draw: Draw, cx: Context, kind: str, depth: int) -> Ex:
    """Expr of static type `kind` (or one the checker can't know), at most `depth` operators deep."""
    e = GENERATORS[kind](draw, cx, max(depth, 0))
    if depth > 0 and between(draw, 0, 14) == 0:
        e = Ex(f"({e.text})")  # Paren: redundant parentheses
    return e


def paren(e: Ex, need: int) -> Ex:
    """Parenthesize `e` if it binds less tightly than its place needs."""
    return e if e.prec >= need else Ex(f"({e.text})")


def binary(draw: Draw, left: Ex, op: str, right: Ex, power: int) -> Ex:
    """Expr: two operands and a BinaryOp, with the spellings `&&` and `||` and compact spacing."""
    if op == "and" and flip(draw):
        op = "&&"
    elif op == "or" and flip(draw):
        op = "||"
    space = " " if op[0].isalpha() else pick(draw, [" ", " ", "", "\n  "])
    return Ex(f"{paren(left, power).text}{space}{op}{space}{paren(right, power + 1).text}", power)


def prefix(draw: Draw, op: str, operand: Ex) -> Ex:
    """PrefixOp: `not`, `!` or `-`."""
    if op == "-":
        return Ex("-" + paren(operand, NEG).text, NEG)
    spelled = pick(draw, ["not ", "!", "! "])
    return Ex(spelled + paren(operand, NOT).text, NOT)


def compare(draw: Draw, operands: list[Ex], ops: list[str]) -> Ex:
    """A comparison, chained as in Python when there are more than two operands."""
    text = paren(operands[0], CMP + 1).text
    for op, operand in zip(ops, operands[1:], strict=False):
        space = " " if op[0].isalpha() else pick(draw, [" ", ""])
        text += f"{space}{op}{space}{paren(operand, CMP + 1).text}"
    return Ex(text, CMP)


def call(name: str, *args: Ex) -> Ex:
    """NameAtom with CallArgs."""
    return Ex(f"{name}({', '.join(a.text for a in args)})")


def event_ref(draw: Draw, cx: Context) -> str:
    """EventRef: a SEQ or, when the file declares events, a name."""
    event = pick(draw, cx.events) if cx.events else None
    if event is not None and flip(draw):
        return str(event.name)
    return str(pick(draw, cx.seqs()))


def stat_call(draw: Draw, cx: Context, func: str) -> Ex:
    return call(func, Ex(event_ref(draw, cx)))


def stat_var(draw: Draw, cx: Context, stat: str) -> Ex:
    return Ex(f"event_{stat}_{pick(draw, cx.seqs())}")


def variable(draw: Draw, cx: Context, kind: str) -> Optional[Callable[[], Ex]]:
    names = cx.variables(kind)
    return (lambda: Ex(pick(draw, names))) if names else None


def unknown(draw: Draw, cx: Context, depth: int) -> Ex:
    """An expression the checker types as JSON or null: accepted wherever a value goes."""
    return json_expr(draw, cx, depth - 1) if between(draw, 0, 3) else word_lit(draw, "null")


def alternatives(draw: Draw, cx: Context, kind: str, depth: int, leaves: list, composites: list) -> Ex:
    var = variable(draw, cx, kind)
    options = leaves + ([var] if var else [])
    if depth > 0:
        options += composites + [lambda: unknown(draw, cx, depth)]
    return choose(draw, options)


def int_expr(draw: Draw, cx: Context, depth: int) -> Ex:
    def arithmetic() -> Ex:
        op = pick(draw, ["+", "-", "*", "%"])
        left, right = int_expr(draw, cx, depth - 1), int_expr(draw, cx, depth - 1)
        return binary(draw, left, op, right, MUL if op in "*%" else ADD)

    return alternatives(
        draw,
        cx,
        "int",
        depth,
        [
            lambda: negative(draw, number_lit(draw)),
            lambda: stat_call(draw, cx, "count"),
            lambda: stat_var(draw, cx, "count"),
        ],
        [
            lambda: call("len", expr(draw, cx, pick(draw, ["str", "list"]), depth - 1)),
            lambda: call("int", expr(draw, cx, pick(draw, KINDS), depth - 1)),
            arithmetic,
            lambda: prefix(draw, "-", int_expr(draw, cx, depth - 1)),
            lambda: boolean_operator(draw, cx, "int", depth),
        ],
    )


def float_expr(draw: Draw, cx: Context, depth: int) -> Ex:
    def arithmetic() -> Ex:
        op = pick(draw, ["+", "-", "*", "/", "%"])
        left = expr(draw, cx, pick(draw, ["int", "float"]), depth - 1)
        right = float_expr(draw, cx, depth - 1) if op != "/" else expr(draw, cx, "int", depth - 1)
        if flip(draw):
            left, right = right, left
        return binary(draw, left, op, right, MUL if op in "*/%" else ADD)

    return alternatives(
        draw,
        cx,
        "float",
        depth,
        [lambda: negative(draw, decimal_lit(draw))],
        [
            lambda: call("float", expr(draw, cx, pick(draw, KINDS), depth - 1)),
            arithmetic,
            lambda: prefix(draw, "-", float_expr(draw, cx, depth - 1)),
            lambda: binary(draw, duration_expr(draw, cx, depth - 1), "/", duration_expr(draw, cx, depth - 1), MUL),
        ],
    )


def str_expr(draw: Draw, cx: Context, depth: int) -> Ex:
    return alternatives(
        draw,
        cx,
        "str",
        depth,
        [
            lambda: Ex(string_lit(draw)),
            lambda: stat_call(draw, cx, "last_data"),
            lambda: stat_var(draw, cx, "last_data"),
        ],
        [
            lambda: call(pick(draw, ["lower", "upper"]), str_expr(draw, cx, depth - 1)),
            lambda: call("str", expr(draw, cx, pick(draw, KINDS), depth - 1)),
            lambda: boolean_operator(draw, cx, "str", depth),
        ],
    )


ORDERED = ("number", "str", "datetime", "duration")


def ordered_operand(draw: Draw, cx: Context, cls: str, depth: int) -> Ex:
    kind = pick(draw, ["int", "float"]) if cls == "number" else cls
    return expr(draw, cx, kind, depth)


def bool_expr(draw: Draw, cx: Context, depth: int) -> Ex:
    def ordering() -> Ex:
        cls = pick(draw, ORDERED)
        size = between(draw, 2, 3)
        operands = [ordered_operand(draw, cx, cls, depth - 1) for _ in range(size)]
        ops = [pick(draw, ["<", "<=", ">", ">=", "==", "!="]) for _ in range(size - 1)]
        return compare(draw, operands, ops)

    def equality() -> Ex:
        left = expr(draw, cx, pick(draw, KINDS), depth - 1)
        right = expr(draw, cx, pick(draw, KINDS), depth - 1)
        return compare(draw, [left, right], [pick(draw, ["==", "!="])])

    def membership() -> Ex:
        op = pick(draw, ["in", "not in", "not  in"])
        where = pick(draw, ["list", "str", "json"])
        item = str_expr(draw, cx, depth - 1) if where == "str" else expr(draw, cx, pick(draw, KINDS), depth - 1)
        return compare(draw, [item, expr(draw, cx, where, depth - 1)], [op])

    def function() -> Ex:
        name = pick(draw, ["contains", "startswith", "endswith", "matches", "exists"])
        if name == "contains":
            where = expr(draw, cx, pick(draw, ["str", "list", "json"]), depth - 1)
            return call(name, where, expr(draw, cx, pick(draw, KINDS), depth - 1))
        if name == "matches":
            return call(name, str_expr(draw, cx, depth - 1), Ex(quoted(draw, pick(draw, REGEXES))))
        if name == "exists":
            return call(name, expr(draw, cx, pick(draw, KINDS), depth - 1))
        return call(name, str_expr(draw, cx, depth - 1), str_expr(draw, cx, depth - 1))

    return alternatives(
        draw,
        cx,
        "bool",
        depth,
        [lambda: word_lit(draw, "bool")],
        [
            ordering,
            ordering,
            equality,
            membership,
            function,
            function,
            function,
            lambda: prefix(draw, "not", expr(draw, cx, pick(draw, KINDS), depth - 1)),
            lambda: boolean_operator(draw, cx, "bool", depth),
        ],
    )


def boolean_operator(draw: Draw, cx: Context, kind: str, depth: int) -> Ex:
    """`and`/`or` over operands of one kind: the result has that kind."""
    result = expr(draw, cx, kind, depth - 1)
    for _ in range(between(draw, 1, 2)):
        op = pick(draw, ["and", "or"])
        result = binary(draw, result, op, expr(draw, cx, kind, depth - 1), AND if op == "and" else OR)
    return result


def datetime_expr(draw: Draw, cx: Context, depth: int) -> Ex:
    def shifted() -> Ex:
        op = pick(draw, ["+", "-", "+r"])
        when, by = datetime_expr(draw, cx, depth - 1), duration_expr(draw, cx, depth - 1)
        if op == "+r":
            return binary(draw, by, "+", when, ADD)
        return binary(draw, when, op, by, ADD)

    return alternatives(
        draw,
        cx,
        "datetime",
        depth,
        [
            lambda: stat_call(draw, cx, pick(draw, ["first_time", "last_time"])),
            lambda: stat_var(draw, cx, pick(draw, ["first_time", "last_time"])),
        ],
        [shifted],
    )


def duration_expr(draw: Draw, cx: Context, depth: int) -> Ex:
    def arithmetic() -> Ex:
        op = pick(draw, ["+", "-", "*", "*r", "/"])
        if op in "+-":
            return binary(draw, duration_expr(draw, cx, depth - 1), op, duration_expr(draw, cx, depth - 1), ADD)
        number = expr(draw, cx, pick(draw, ["int", "float"]), depth - 1)
        if op == "*r":
            return binary(draw, number, "*", duration_expr(draw, cx, depth - 1), MUL)
        return binary(draw, duration_expr(draw, cx, depth - 1), op, number, MUL)

    return alternatives(
        draw,
        cx,
        "duration",
        depth,
        [lambda: negative(draw, duration_lit(draw))],
        [
            lambda: binary(draw, datetime_expr(draw, cx, depth - 1), "-", datetime_expr(draw, cx, depth - 1), ADD),
            arithmetic,
            lambda: prefix(draw, "-", duration_expr(draw, cx, depth - 1)),
        ],
    )


def member_name(draw: Draw) -> str:
    """Trailer `.member`: any identifier, keywords included (`data.event`)."""
    return (
        draw(st.one_of(st.sampled_from(sorted(KEYWORDS)), st.just("x"), st.just("page_url")))
        if flip(draw)
        else identifier(draw)
    )


def json_expr(draw: Draw, cx: Context, depth: int) -> Ex:
    def trailer() -> Ex:
        obj = paren(json_expr(draw, cx, depth - 1), ATOM)
        how = between(draw, 0, 2)
        if how == 0:
            return Ex(f"{obj.text}.{member_name(draw)}")
        index = str_expr(draw, cx, depth - 1) if how == 1 else int_expr(draw, cx, depth - 1)
        return Ex(f"{obj.text}[{index.text}]")

    def indexed() -> Ex:  # Index on a list or a string
        obj = paren(expr(draw, cx, pick(draw, ["list", "str"]), depth - 1), ATOM)
        return Ex(f"{obj.text}[{int_expr(draw, cx, depth - 1).text}]")

    def data() -> str:
        return "data" if cx.current_event else "extra_field_" + draw(_EXTRA_SUFFIX)

    return alternatives(
        draw,
        cx,
        "json",
        depth,
        [
            lambda: Ex(data()),
            lambda: Ex("extra_field_" + draw(_EXTRA_SUFFIX)),
            lambda: Ex(f"{data()}.{member_name(draw)}"),
            lambda: Ex(f"{data()}[{string_lit(draw, 8)}]"),
            lambda: call("json", Ex(quoted(draw, pick(draw, JSON_TEXT + OVERFLOW_JSON_TEXT)))),
        ],
        [lambda: call("json", str_expr(draw, cx, depth - 1)), trailer, indexed],
    )


def list_expr(draw: Draw, cx: Context, depth: int) -> Ex:
    """ListLit: items of any kinds, sometimes with a trailing comma."""
    size = between(draw, 0, 3 if depth > 0 else 1)
    items = [expr(draw, cx, pick(draw, KINDS), depth - 1).text for _ in range(size)]
    trailing = "," if items and flip(draw) else ""
    return Ex("[" + ", ".join(items) + trailing + "]")


def null_expr(draw: Draw, cx: Context, depth: int) -> Ex:
    return word_lit(draw, "null")


def any_expr(draw: Draw, cx: Context, depth: int) -> Ex:
    """Kinds the checker can't pin down: arithmetic on JSON, `and`/`or` over mixed kinds."""
    if depth <= 0:
        return json_expr(draw, cx, 0)
    how = between(draw, 0, 2)
    if how == 0:
        op = pick(draw, ["+", "-", "*", "/", "%"])
        left, right = (
            json_expr(draw, cx, depth - 1),
            expr(draw, cx, pick(draw, ["int", "float", "json"]), depth - 1),
        )
        return binary(draw, left, op, right, MUL if op in "*/%" else ADD)
    if how == 1:
        return prefix(draw, "-", json_expr(draw, cx, depth - 1))
    # no durations: `10m or 5m` is a duration, which no field can store
    kinds = [k for k in KINDS if k not in ("duration", "any")]
    op = pick(draw, ["and", "or"])
    left = expr(draw, cx, pick(draw, kinds), depth - 1)
    return binary(draw, left, op, expr(draw, cx, pick(draw, kinds), depth - 1), AND if op == "and" else OR)


GENERATORS = {
    "int": int_expr,
    "float": float_expr,
    "str": str_expr,
    "bool": bool_expr,
    "datetime": datetime_expr,
    "duration": duration_expr,
    "json": json_expr,
    "list": list_expr,
    "null": null_expr,
    "any": any_expr,
}


# ----------------------------------------------------------------- statements


def stmt(draw: Draw, cx: Context, depth: int) -> St:
    """Stmt: an action, if, switch, block, let or end."""
    options = [lambda: action_stmt(draw, cx, depth)] * 3 + [lambda: end_stmt(draw), lambda: let_stmt(draw, cx)]
    if depth > 0:
        options += [
            lambda: if_stmt(draw, cx, depth),
            lambda: if_stmt(draw, cx, depth),
            lambda: switch_stmt(draw, cx, depth),
            lambda: block(draw, cx, depth),
        ]
    return choose(draw, options)  # type: ignore[arg-type,return-value]


def sep(draw: Draw) -> str:
    """Whitespace between statements and items: spaces, line breaks (LF or CRLF), comments."""
    return draw(
        st.sampled_from(["\n", "\n", " ", "\n  ", "\r\n", "\t", "  # a comment\n", " #PWN \x85\u2028\x00\n", "\n\n"])
    )


def body(draw: Draw, s: St, followed: bool) -> str:
    """A branch body; in braces when an `elif`/`else` follows that would otherwise bind inside it."""
    return "{ " + s.text + " }" if followed and s.open else s.text


def if_stmt(draw: Draw, cx: Context, depth: int) -> St:
    """IfStmt with Elif parts and an optional else."""
    branches = [(expr(draw, cx, pick(draw, ("bool",) * 4 + KINDS), 3), stmt(draw, cx.scope(), depth - 1))]
    for _ in range(between(draw, 0, 2)):
        branches.append((expr(draw, cx, pick(draw, ("bool",) * 4 + KINDS), 2), stmt(draw, cx.scope(), depth - 1)))
    orelse = stmt(draw, cx.scope(), depth - 1) if flip(draw) else None
    text = ""
    for i, (cond, then) in enumerate(branches):
        followed = i + 1 < len(branches) or orelse is not None
        text += f"{'if' if i == 0 else sep(draw) + 'elif'} {cond.text} {body(draw, then, followed)}"
    if orelse is not None:
        text += f"{sep(draw)}else {orelse.text}"
    return St(text, open=True)


def case_value(draw: Draw) -> tuple[str, tuple]:
    """CaseValue: a literal, '-' only before a number. Returns the text and the value's identity."""
    how = between(draw, 0, 4)
    if how == 0:
        n = between(draw, -20, 20)
        return str(n), ("num", n)
    if how == 1:
        lit = decimal_lit(draw).text
        neg = flip(draw)
        return ("-" if neg else "") + lit, ("num", -float(lit) if neg else float(lit))
    if how == 2:
        lit = duration_lit(draw).text
        return lit, ("duration", int(lit[:-1]) * UNIT_SECONDS[lit[-1]])
    if how == 3:
        value = text_value(draw, 8)
        return quoted(draw, value), ("str", value)
    word = pick(draw, ["true", "false", "True", "False", "TRUE", "FALSE", "null", "None"])
    return word, ("null", None) if word in ("null", "None") else ("bool", word.lower() == "true")


def switch_stmt(draw: Draw, cx: Context, depth: int) -> St:
    """SwitchStmt: Case parts with distinct values, an optional default."""
    subject = expr(draw, cx, pick(draw, KINDS), 2)
    seen: set = set()
    cases = []
    for _ in range(between(draw, 1, 3)):
        values = []
        for _ in range(between(draw, 1, 3)):
            text, key = case_value(draw)
            if key not in seen:
                seen.add(key)
                values.append(text)
        if values:
            cases.append(f"case {', '.join(values)} -> {stmt(draw, cx.scope(), depth - 1).text}")
    if not cases:
        cases.append(f"case {quoted(draw, 'PWN-unique-case')} -> end")
    default = f"{sep(draw)}default -> {stmt(draw, cx.scope(), depth - 1).text}" if flip(draw) else ""
    inner = sep(draw).join(cases)
    return St(f"switch {subject.text} {{{sep(draw)}{inner}{default}{sep(draw)}}}")


def block(draw: Draw, cx: Context, depth: int) -> St:
    """Block: statements in braces; a `let` is visible to the ones after it."""
    inner = cx.scope()
    stmts = [stmt(draw, inner, depth - 1).text for _ in range(between(draw, 0, 4))]
    return St("{" + sep(draw) + sep(draw).join(stmts) + sep(draw) + "}")


def let_stmt(draw: Draw, cx: Context) -> St:
    """LetStmt: a new name, or one that a let out of sight (in a sibling block) has used."""
    kind = pick(draw, KINDS)
    value = expr(draw, cx, kind, 2)
    reusable = [n for n in cx.let_names if n not in cx.lets]
    if reusable and between(draw, 0, 3) == 3:
        name = pick(draw, reusable)
    else:
        name = fresh_value_name(draw, cx)
        cx.let_names.append(name)
    cx.lets[name] = kind
    return St(f"let {name} = {value.text}")


def end_stmt(draw: Draw) -> St:
    return St("end")


def action_stmt(draw: Draw, cx: Context, depth: int) -> St:
    """ActionStmt: an action and, sometimes, `on failure -> STMT`."""
    action = choose(
        draw,
        [
            lambda: Ex(reply(draw, cx)),
            lambda: Ex(assign(draw, cx)),
            lambda: Ex(set_action(draw, cx)),
            lambda: Ex(f"convert {string_lit(draw)}"),
            lambda: Ex(f"ticket {template(draw, cx)}"),
        ],
    ).text
    if depth > 0 and between(draw, 0, 3) == 0:
        handler = stmt(draw, cx.scope(), depth - 1)
        return St(f"{action}{sep(draw)}on failure -> {handler.text}", open=True)
    return St(action)


def agent_name(draw: Draw, cx: Context) -> str:
    return pick(draw, cx.agents) if cx.agents else identifier(draw)


def reply(draw: Draw, cx: Context) -> str:
    """Reply: an agent (declared, or any name in a file that declares none) and a template."""
    text = f" {template(draw, cx)}" if flip(draw) else ""
    return f"reply {agent_name(draw, cx)}{text}"


def assign(draw: Draw, cx: Context) -> str:
    how = between(draw, 0, 2)
    if how == 0:
        return f"assign {agent_name(draw, cx)}"
    if how == 1:
        return "assign any"
    group = pick(draw, cx.groups) if cx.groups else identifier(draw)
    return f"assign group {group}"


def set_action(draw: Draw, cx: Context) -> str:
    """SetAction: a declared field, a system variable or an extra_field_*, with a value of its type."""
    how = between(draw, 0, 2)
    if how == 0 and cx.fields:
        name, kind = pick(draw, sorted(cx.fields.items()))
    elif how == 1:
        name, kind = pick(draw, sorted(SYSTEM_VARS.items()))
    else:
        name, kind = "extra_field_" + identifier(draw, 12), "json"
    if kind == "json":
        kind = pick(draw, ["json", "json", *(k for k in KINDS if k != "duration")])
    elif kind == "float" and flip(draw):
        kind = "int"
    return f"set {name} = {expr(draw, cx, kind, 3).text}"


# ----------------------------------------------------------------- declarations, rules and programs


def rule(draw: Draw, cx: Context) -> str:
    """Rule: `on event REF, ... ->`, `on any event ->` or `on event * ->`, then a statement."""
    how = between(draw, 0, 5)
    if how == 0:
        trigger = "on any event"
    elif how == 1:
        trigger = "on event *"
    else:
        refs = [event_ref(draw, cx) for _ in range(between(draw, 1, 3))]
        trigger = "on event " + pick(draw, [",", ", ", " , "]).join(refs)
    return f"{trigger} ->{sep(draw)}{stmt(draw, cx.scope(), 3).text}"


def event_decl(draw: Draw, event: Event) -> str:
    """EventDecl: `event SEQ NAME [uuid "UUID"] ["description"]`."""
    text = f"event {event.seq} {event.name}"
    if event.uuid is not None:
        text += f" uuid {quoted(draw, event.uuid)}"
    if flip(draw):
        text += " " + quoted(draw, text_value(draw, 40)[:128])
    return text


def segment_decl(draw: Draw, cx: Context, name: str, kind: str) -> str:
    return f"segment {name} = {expr(draw, cx, kind, 3).text}"


def flow(draw: Draw, cx: Context, name: str, priority: int, inactive: bool) -> str:
    """Flow: `flow NAME [priority INT] [inactive] { RULE* }`."""
    head = f"flow {name}"
    if priority or flip(draw):
        head += f" priority {priority}"
    if inactive:
        head += " inactive"
    rules = [rule(draw, cx) for _ in range(between(draw, 0, 3) or between(draw, 0, 3))]
    return head + " {" + sep(draw) + sep(draw).join(rules) + sep(draw) + "}"


def declared_events(draw: Draw) -> list[Event]:
    count = pick(draw, [0, 0, 1, 2, 3, 8])
    seqs = draw(st.permutations(range(1, 9)))[:count]
    names = unique_names(draw, count, 64)
    uuids = unique_names(draw, count)
    events = []
    for seq, name, uuid in zip(seqs, names, uuids, strict=False):
        has_uuid = flip(draw)
        if has_uuid and flip(draw):
            uuid = text_value(draw, 36) or "PWN"
            uuid += f"#{seq}"  # unique
        events.append(Event(seq, name, uuid if has_uuid else None))
    return events


def field_decl(name: str, kind: str) -> str:
    """FieldDecl: `field NAME TYPE`."""
    type_name = {v: k for k, v in FIELD_TYPES.items()}[kind]
    return f"field {name} {type_name}"


def named_decl(draw: Draw, keyword: str, name: str) -> str:
    """AgentDecl, GroupDecl: `agent NAME ["display name"]`."""
    return f"{keyword} {name}" + (f" {string_lit(draw)}" if flip(draw) else "")


@dataclass
class Item:
    """A top-level item of a program: its text, and for flows what decides when they run."""

    text: str
    flow: Optional[str] = None  # a flow's name; "main" for a loose rule
    priority: int = 0
    inactive: bool = False


@st.composite
def program_infos(draw: Draw) -> ProgramInfo:
    """Program: declarations, flows and loose rules in any order."""
    events = declared_events(draw)
    agents = unique_names(draw, pick(draw, [0, 0, 1, 3]))
    groups = unique_names(draw, pick(draw, [0, 1, 2]))
    cx = Context(events, agents, groups, {}, {})
    for _ in range(between(draw, 0, 4)):
        cx.fields[fresh_value_name(draw, cx)] = FIELD_TYPES[pick(draw, list(FIELD_TYPES))]
    items = [Item(event_decl(draw, e)) for e in events]
    items += [Item(named_decl(draw, "agent", a)) for a in agents]
    items += [Item(named_decl(draw, "group", g)) for g in groups]
    items += [Item(field_decl(n, k)) for n, k in cx.fields.items()]
    for _ in range(between(draw, 0, 3)):
        kind = pick(draw, ["bool", "bool", "int", "str", "json", "datetime"])
        name = fresh_value_name(draw, cx)
        earlier = Context(events, agents, groups, cx.fields, dict(cx.segments), taken=cx.taken)  # no cycles
        items.append(Item(segment_decl(draw, earlier, name, kind)))
        cx.segments[name] = kind
    loose = [Item(rule(draw, cx), flow="main") for _ in range(between(draw, 0, 3))]
    flow_names = unique_names(draw, between(draw, 0 if loose else 1, 3), 32)
    if loose and "main" in flow_names:  # `flow main` next to loose rules is E115
        renamed = "main_"
        while renamed in flow_names:
            renamed += "_"
        flow_names[flow_names.index("main")] = renamed
    for name in flow_names:
        priority = between(draw, -3, 3) if between(draw, 0, 4) else between(draw, -MAX_INT, MAX_INT)
        inactive = between(draw, 0, 5) == 0
        items.append(Item(flow(draw, cx, name, priority, inactive), name, priority, inactive))
    items = list(draw(st.permutations(items + loose)))
    # the run order: descending priority, ties in file order; loose rules form `main` where the first one stands
    first_place = {}
    for position, item in enumerate(items):
        if item.flow is not None and not item.inactive:
            first_place.setdefault(item.flow, (-item.priority, position))
    text = "".join(item.text + sep(draw) for item in items)
    if between(draw, 0, 9) == 0:
        text = text.rstrip()  # no line break at the end
    return ProgramInfo(
        text=text,
        events=events,
        fields=dict(cx.fields),
        flow_order=sorted(first_place, key=first_place.__getitem__),
        inactive=[item.flow for item in items if item.inactive and item.flow],
    )


def valid_programs() -> st.SearchStrategy[str]:
    """Source text that `ppdsl check` accepts (warnings allowed)."""
    return program_infos().map(lambda p: p.text)


CONDITION_EVENTS = tuple(Event(seq, f"ev{seq}", None) for seq in range(1, 8))


@st.composite
def conditions(draw: Draw) -> str:
    """An expression for ppdsl.compile_condition: over a visitor only (no current event,
    and no `now`, so that results can be compared), naming events 1 to 7 by number or as
    ev1 ... ev7 (CONDITION_EVENTS). Any kind but a duration, which no field can store."""
    cx = Context(list(CONDITION_EVENTS), [], [], {}, {}, current_event=False)
    return expr(draw, cx, pick(draw, [k for k in KINDS if k != "duration"]), 3).text


# ----------------------------------------------------------------- broken programs


TOKEN_RE = re.compile(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|#[^\n]*|[A-Za-z_0-9.]+|->|[=!<>]=|&&|\|\||\s+|.")
JUNK = (
    "\x00",
    "\x1b",
    "\ufeff",
    "\u201c",
    "\u2019",
    "\u2028",
    "\r",
    "\ud800",
    "😀",
    "\\",
    "{{",
    "}}",
    '"',
    "'",
    "#",
    "=",
    "->",
    ",",
    ".",
    "*",
    "é",
    "\x85",
    "\t",
)
HOSTILE_TOKENS = (
    '"unclosed',
    "'unclosed",
    '"\\q"',
    '"\\ud800"',
    '"\\udfff\\ud800"',
    '"\\u12"',
    '"\\',
    "9" * 20,
    "9999999999999999d",
    "1" + "9" * 400 + ".5",
    "1000000000000w",
    "0.",
    ".5",
    "10 m",
    '"{{"',
    '"{{ }}"',
    '"{{ 1 }} {{"',
    '"{{ a; b }}"',
    '"{{ \u201cx\u201d }}"',
    '"{{ 1 +  }}"',
    '"{{ "{{" }}"',
    "event_count_0",
    "event_count_99999",
    "count(-1)",
    "count(x.y)",
    "matches(a, b)",
    'matches(a, "(")',
    "extra_field_",
    "a == not b",
    "- not x",
    "not" + " not" * 70 + " x",
    "-" * 70 + "1",
    "elseif",
    "=",
    "[,]",
    "(,)",
    "f()",
    "len()",
    "count(1, 2)",
)


BROKEN_PIECES = (
    " + ",
    " zz_unknown ",
    "(",
    ")",
    ";",
    "\u201c",
    "'\\q'",
    " 9999999999999999 ",
    "[",
    ",",
    " not ",
    " == ",
)
BROKEN_PIECES += (
    " count() ",
    " nope(1) ",
    " = ",
    " 1 2 ",
    "{{",
    "}}",
    " data.x.y ",
    " event_count_0 ",
    " matches(x, '(') ",
)


# declarations that break a file's semantics wherever they stand
BAD_DECLARATIONS = (
    "flow main { }",
    "event 9 ninth",
    "event 0 zeroth",
    "event 1 first",
    "event 2 second uuid ''",
    "event 3 third uuid 'u' event 4 fourth uuid 'u'",
    "event 5 " + "n" * 70,
    "event 6 sixth " + '"' + "d" * 130 + '"',
    " ".join(f"event {n} e{n}" for n in range(1, 10)),
    "field f_bad decimal",
    "field user_fullname string",
    "segment s_a = s_b segment s_b = s_a",
    "segment s_c = s_c",
    "agent dup agent dup",
    "group dup_g group dup_g",
    "flow twice { } flow twice { }",
    "flow " + "f" * 40 + " { }",
    "on event 1 -> set event_count_1 = 1",
    "on event 1 -> set track_event_seq = 1",
    "on event 1 -> { let l_x = 1 set l_x = 2 }",
    "segment s_d = 1 on event 1 -> set s_d = 1",
    "on event 1 -> { let user_email = 1 }",
    "on event 1 -> { let l_y = 1 { let l_y = 2 } }",
    "on event 1 -> switch data { case 1, 1.0 -> end }",
    "on event 1 -> assign group nobody_group",
    "on event 1 -> if count(2) > '8' end",
    "on event 1 -> if now > 5 end",
    "on event 1 -> if user_fullname + 1 end",
    "on event 1 -> if now - last_time(1) < 10 end",
    "on event 1 -> if [1] - 1 end",
    "on event 1 -> if 1 in 2 end",
    "on event 1 -> if 1 in 'a' end",
    "on event 1 -> if -'a' end",
    "on event 1 -> if count(1).x end",
    "on event 1 -> set user_web_sessions = 'x'",
    "on event 1 -> set is_anonymous_user = 1",
    "on event 1 -> set extra_field_d = 10m",
    "on event 1 -> if lower(1) end",
    "on event 1 -> if len(1, 2) end",
    "on event 1 -> if matches(user_fullname, user_email) end",
    "on event 1 -> if matches(user_fullname, '(') end",
    "on event 1 -> if count(data) end",
    "on event 1 -> if nope(1) end",
    "on event 1 -> if usr_fullname end",
    "on event 1 -> if count(nothing_declared) end",
    "on event 1 -> reply a '{{ }}'",
    "on event 1 -> reply a '{{ 1'",
    "on event 1 -> reply a '{{ 1; 2 }}'",
    "on event 1 -> if 1000000000000000000 end",
    "on event 1 -> if 9999999999d end",
    "on event 1 -> if " + "(" * 70 + "1" + ")" * 70 + " end",
    "on event 1 -> " + "{ " * 60 + "end" + " }" * 60,
    "on event 1 -> if " + " + ".join(["-1"] * 40) + " end",
)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NUMBERS = ("0", "9", "-1", "1.5", "10m", "99999999999999999", "1e5")


def mutate(draw: Draw, text: str, semantic: bool = False) -> str:
    """One change: a token dropped, repeated, swapped or replaced (keywords by keywords, names
    by names, numbers by numbers), junk or a hostile token inserted, the text truncated,
    something broken inside a string, or a declaration that breaks the file's meaning.
    `semantic`: only the changes that keep the syntax (mostly), so the checker gets to run."""
    toks = TOKEN_RE.findall(text) or [""]
    i = between(draw, 0, len(toks) - 1)
    how = between(draw, 10, 12) if semantic else between(draw, 0, 12)
    strings = [j for j, t in enumerate(toks) if t[:1] in "\"'" and len(t) > 1]
    names = [j for j, t in enumerate(toks) if IDENTIFIER.fullmatch(t) and t not in KEYWORDS]
    numbers = [j for j, t in enumerate(toks) if t[:1].isdigit()]
    if how == 9 and strings:  # inside a string, where templates are
        j = pick(draw, strings)
        at = between(draw, 1, len(toks[j]) - 1)
        toks[j] = toks[j][:at] + pick(draw, BROKEN_PIECES + JUNK) + toks[j][at:]
    elif how == 10 and names:  # a name that means something else, or nothing
        toks[pick(draw, names)] = pick(draw, [toks[j] for j in names] + ["zz_unknown", "data", "main", "count"])
    elif how == 11 and numbers:
        toks[pick(draw, numbers)] = pick(draw, NUMBERS)
    elif how == 12:  # at the top level: the start or the end of the file
        toks.insert(pick(draw, [0, len(toks)]), "\n" + pick(draw, BAD_DECLARATIONS) + "\n")
    elif how == 0:
        del toks[i]
    elif how == 1:
        toks.insert(i, toks[i])
    elif how == 2 and i + 1 < len(toks):
        toks[i], toks[i + 1] = toks[i + 1], toks[i]
    elif how == 3:
        keywords = [j for j, t in enumerate(toks) if t in KEYWORDS] or [i]
        toks[pick(draw, keywords)] = pick(draw, sorted(KEYWORDS))
    elif how == 4:
        toks.insert(i, pick(draw, JUNK))
    elif how == 5:
        toks.insert(i, pick(draw, "()[]{}") * pick(draw, [1, 2, 63, 64, 65, 300]))
    elif how == 6:
        toks.insert(i, " " + pick(draw, HOSTILE_TOKENS) + " ")
    elif how == 7:
        toks = toks[:i]
    else:
        toks[i] = pick(draw, toks)
    return "".join(toks)


@st.composite
def broken_programs(draw: Draw) -> str:
    text = draw(valid_programs())
    semantic = flip(draw)
    for _ in range(pick(draw, [1, 1, 2, 3, 4])):
        text = mutate(draw, text, semantic)
    return text


def template_text(draw: Draw, max_size: int = 12) -> str:
    """Literal text for a template: no `{{`, and no `{` at the end (the next part may start with `{{`)."""
    text = text_value(draw, max_size)
    while "{{" in text:
        text = text.replace("{{", "{ {")
    return text + " " if text.endswith("{") else text


@st.composite
def broken_templates(draw: Draw) -> str:
    """The decoded text of a template whose `{{ }}` holds an error (syntax, unknown name, type...),
    in a file without declarations. Text and strings around it need escapes when spelled."""
    cx = Context([], [], [], {}, {})
    inner = expr(draw, cx, pick(draw, KINDS), 2).text
    at = between(draw, 0, len(inner))
    inner = inner[:at] + pick(draw, BROKEN_PIECES) + inner[at:]
    pad = pick(draw, ["", " ", "\n", "\t"])
    return template_text(draw) + "{{" + pad + inner + pad + "}}" + template_text(draw)


def any_programs() -> st.SearchStrategy[str]:
    """Source text of any kind: mostly broken programs, some valid ones, some junk."""
    junk = st.one_of(
        st.text(max_size=200),
        st.text(alphabet=st.characters(codec=None, categories=None), max_size=50),
        st.text(alphabet="{}()[]\"'\\#-> \n=.,*!&|<>0123456789abc", max_size=200),
    )
    return st.one_of(broken_programs(), valid_programs(), junk)


# ----------------------------------------------------------------- events and visitors


T0 = 1795593600  # 2026-11-25T08:00:00Z


def json_values(max_leaves: int = 10) -> st.SearchStrategy:
    """Any JSON value, with odd numbers (huge, negative zero, 1e308) and odd text."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([0, -1, 2**53 + 1, 2**63, -(2**63), 10**300, 1e308, -0.0, 5e-324, 1.5, 9.5]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.sampled_from(HOSTILE_TEXT),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
        max_leaves=max_leaves,
    )


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"x": value}
    return value


def event_data(draw: Draw) -> object:
    """event_data: any JSON value; sometimes nested deep, about the 64 KiB limit, or not JSON at all."""
    how = between(draw, 0, 19)
    if how <= 12:
        return draw(json_values())
    if how <= 15:  # what the generated programs look at
        return {"x": between(draw, -5, 5), "page_url": "/pricing", "event": "e", "k": draw(st.text(max_size=5))}
    if how <= 17:
        return nested(pick(draw, [10, 100, 500, 5000]))
    if how == 18:  # about the 64 KiB limit
        return "x" * pick(draw, [65534, 65536, 70000]) if flip(draw) else "中" * 21845
    return pick(draw, [float("nan"), float("inf"), "\ud800", {"a": {1, 2}}, 10**5000, {1: 2}])


GOOD_TIMESTAMPS = st.one_of(st.integers(0, 10**11 - 1), st.floats(0, 1e11, exclude_max=True), st.just(T0), st.just(0))
BAD_TIMESTAMPS = st.sampled_from(
    [-1, -0.5, 10**11, 1795593600000, 1e15, "1795593600", "", True, float("nan"), float("inf"), [T0], 10**400]
)


def timestamp(draw: Draw) -> object:
    """event_timestamp: seconds since the epoch, sometimes negative, in milliseconds or not a number."""
    return draw(BAD_TIMESTAMPS) if between(draw, 0, 11) == 11 else draw(GOOD_TIMESTAMPS)


BAD_IDENTIFIERS = st.one_of(
    st.sampled_from([0, 9, -1, True, 1.0, "1", 2**80, None, [1], {}, ""]), st.text(max_size=8), st.integers()
)


@st.composite
def events(draw: Draw, known: tuple = ()) -> object:
    """A `window._ppmatc` push. `known` holds a file's declared events (strategies.Event);
    without them events are numbered 1 to 8. Mostly events a page would send, with
    any event_data; sometimes conflicting or unknown identifiers, bad timestamps, junk."""
    targets = list(known) or [Event(seq, None, None) for seq in range(1, 9)]
    event = pick(draw, targets)
    te: dict = {}
    how = between(draw, 0, 15)
    if how <= 12:  # identifiers of one event
        ids = {"event_seq": event.seq, "event_name": event.name, "event_uuid": event.uuid}
        given = [k for k, v in ids.items() if v is not None]
        for key in [k for k in given if flip(draw)] or [pick(draw, given)]:
            te[key] = ids[key]
    elif how == 13:  # identifiers of two events, maybe unknown ones
        other = pick(draw, targets)
        te["event_seq"] = event.seq
        te["event_name"] = other.name if other.name is not None and flip(draw) else draw(st.text(max_size=10))
        if other.uuid is not None and flip(draw):
            te["event_uuid"] = other.uuid
    elif how == 14:  # an identifier of the wrong type or unknown
        te[pick(draw, ["event_seq", "event_name", "event_uuid"])] = draw(BAD_IDENTIFIERS)
    if between(draw, 0, 7):
        te["event_timestamp"] = timestamp(draw)
    if between(draw, 0, 3):
        te["event_data"] = event_data(draw)
    if between(draw, 0, 9) == 0:
        te[draw(st.text(max_size=5))] = draw(json_values(3))
    wrap = between(draw, 0, 19)
    if wrap <= 12:
        return {"track_event": te}
    if wrap <= 16:
        return te
    if wrap <= 18:
        try:
            return json.dumps({"track_event": te})
        except (TypeError, ValueError, RecursionError):
            return te
    return pick(draw, [None, 42, [], "not json", b"{}", {"track_event": None}, {"track_event": [1]}])


def iso_time(draw: Draw) -> str:
    base = draw(st.datetimes(allow_imaginary=False)).replace(microsecond=pick(draw, [0, 0, 123456]))
    suffix = pick(draw, ["Z", "z", "+00:00", "+08:00", "-01:00", ""])
    return base.isoformat() + suffix


def visitor_value(draw: Draw, kind: str) -> object:
    """A stored value: usually of the variable's kind, sometimes not."""
    if between(draw, 0, 9) == 0:
        return draw(json_values(4))
    if kind == "count":
        if between(draw, 0, 7) == 0:
            return pick(draw, [-1, 1.5, 9.0, "3", True, None, [], 2**70, *HUGE_INTS])
        return between(draw, 0, 100)
    if kind == "time":
        how = between(draw, 0, 9)
        if how <= 6:
            return iso_time(draw)
        if how <= 8:
            return draw(st.one_of(st.integers(0, 10**10), st.floats(-1e20, 1e20, allow_nan=False)))
        return pick(draw, ["", "yesterday", "0", "nan", "inf", "1e400", None])
    if kind == "int":
        return draw(st.one_of(st.integers(-(10**6), 10**6), st.integers(), st.sampled_from((0, *HUGE_INTS))))
    if kind == "float":
        return draw(st.floats(allow_nan=False, allow_infinity=False))
    if kind == "bool":
        return flip(draw)
    if kind == "datetime":
        return iso_time(draw)
    return draw(st.one_of(st.text(max_size=20), st.sampled_from(HOSTILE_TEXT)))


@st.composite
def visitors(draw: Draw, fields: tuple = (), seqs: tuple = tuple(range(1, 9))) -> object:
    """A stored visitor: PPMessage's flat variables, statistics, fields; good and bad types."""
    if between(draw, 0, 19) == 0:
        return pick(draw, [None, [], "visitor", 5])
    v: dict = {}
    for name, kind in draw(st.lists(st.sampled_from(sorted(SYSTEM_VARS.items())), max_size=4)):
        v[name] = visitor_value(draw, kind)
    for seq in draw(st.lists(st.sampled_from(seqs), max_size=3)):
        v[f"event_count_{seq}"] = visitor_value(draw, "count")
        if flip(draw):
            v[f"event_first_time_{seq}"] = visitor_value(draw, "time")
            v[f"event_last_time_{seq}"] = visitor_value(draw, "time")
        if flip(draw):
            v[f"event_last_data_{seq}"] = draw(st.one_of(json_values(4).map(json.dumps), st.text(max_size=10)))
    for name, kind in draw(st.lists(st.sampled_from(sorted(fields)), max_size=3)) if fields else ():
        v[name] = visitor_value(draw, kind)
    if flip(draw):
        v["extra_field_" + draw(_EXTRA_SUFFIX)] = draw(json_values(4))
    if between(draw, 0, 4) == 0:
        v[draw(st.text(max_size=8))] = draw(json_values(3))
    return v


@st.composite
def typed_visitors(draw: Draw, seqs: tuple = tuple(range(1, 9))) -> dict:
    """A visitor whose numbers all have their types (compile_condition's fast path):
    user_web_sessions and every event_count_N present as ints, large ones too."""
    ints = st.one_of(st.integers(0, 20), st.integers(-(2**64), 2**64), st.sampled_from((2**62, *HUGE_INTS)))
    v = {"user_web_sessions": draw(ints)}
    v.update({f"event_count_{seq}": abs(draw(ints)) for seq in seqs})
    for name, kind in draw(st.lists(st.sampled_from(sorted(SYSTEM_VARS.items())), max_size=3)):
        if kind != "int":
            v[name] = visitor_value(draw, kind)
    return v


@dataclass
class Effects:
    """A host's `effects`: a fixed pattern of outcomes (True, False, None, an exception), recorded."""

    outcomes: list
    calls: list = field(default_factory=list)

    def __call__(self, action: dict) -> object:
        self.calls.append(dict(action))
        outcome = self.outcomes[(len(self.calls) - 1) % len(self.outcomes)]
        if outcome == "raise":
            raise RuntimeError("PWN host failure \x1b[2J")
        return outcome


def effects() -> st.SearchStrategy[Optional[Effects]]:
    outcome = st.sampled_from([True, False, None, "raise", 0, ""])
    return st.one_of(st.none(), st.lists(outcome, min_size=1, max_size=4).map(Effects))


def at_times() -> st.SearchStrategy:
    """The `at` argument of handle: usually absent, sometimes odd."""
    return st.one_of(
        st.none(),
        st.none(),
        st.just(T0),
        st.sampled_from(["2026-11-25T08:00:00Z", "2026-11-25 08:00", "1795593600", "soon", -1, 1e12, math.nan]),
    )
