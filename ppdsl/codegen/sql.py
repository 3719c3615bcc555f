"""A visitor filter (a checked ppflow expression, segments inlined) as SQL
over the JSON state of a `visitors` table, so that the database does the
filtering: SQLite's JSON1, or PostgreSQL's JSONB.

The SQL must select exactly what the Python evaluation selects. A JSON value
in the state can be of any type, so every read of a visitor variable becomes
a CASE over the value's JSON type, and each type gets the outcome that the
runtime's rules give for it: a constant worked out here with the runtime's
own functions (null, booleans, a missing key, text against a number...), or
a SQL comparison where SQL agrees with Python exactly (integers in 64 bits,
text, canonical ISO times). Values where SQL could disagree (floats,
integers past 64 bits, times in any other form) are "unknown": the SQL is
three-valued (Kleene's logic, which is exact), and a row whose outcome stays
unknown, or whose state SQLite can't read, is decided by the Python
predicate. An expression that can't be written this way at all raises
NotPushable with the reason.

Everything that comes from the user is a bound parameter; JSON paths are
built only from checked identifiers. A dialect object holds every spelling
that is particular to a database (SQLITE and POSTGRESQL below).
"""

from __future__ import annotations

import math
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Optional, Union
from collections.abc import Callable

from ..lang import ir
from ..lang.names import FUNCTIONS

INT64 = 2**63


class NotPushable(Exception):
    """The expression can't be written as exact SQL; the message says why, in one line."""


@dataclass(frozen=True)
class SqlFilter:
    """`decision` is a SQL expression over the `state` column: 0 not selected,
    1 selected, 2 decide in Python. `params` are its bound parameters, in order."""

    decision: str
    params: tuple[Any, ...]
    # a necessary condition that an expression index can serve (None when there is none),
    # and the indexes (DDL for the `visitors` table) that would serve it
    prefilter: Optional[str] = None
    indexes: tuple[str, ...] = ()
    dialect: Dialect = field(default_factory=lambda: _sqlite())

    def query(self, columns: str = "id, state", table: str = "visitors") -> tuple[str, tuple[Any, ...]]:
        """A SELECT of `columns` and, last, the decision (1 or 2) of every row
        that is selected or needs Python, in id order. `columns` and `table` are
        the caller's own SQL, never user input."""
        return self.dialect.select(columns, self.decision, table, self.prefilter), self.params


class Dialect:
    """The SQL spellings that differ between databases. `path` is a SQL
    literal for a JSON path; `x` the extracted value."""

    name = "abstract"
    title = "a database"
    state_text = "state"
    """SQL for the state as JSON text."""
    least, greatest = "min", "max"

    def select(self, columns: str, decision: str, table: str, prefilter: Optional[str]) -> str:
        """SqlFilter.query(): the rows whose decision is 1 or 2, in id order."""
        where = "" if prefilter is None else f" WHERE {prefilter}"
        inner = f"SELECT {columns}, {decision} AS decision FROM {table}{where}"
        return f"SELECT * FROM ({inner}) AS decided WHERE decision > 0 ORDER BY id"

    def placeholder(self, n: int) -> str:
        """The n-th bound parameter (from 1); a parameter may be used more than once."""
        raise NotImplementedError

    def path(self, key: str) -> str:
        raise NotImplementedError

    def index_key(self, path: str) -> str:
        """The value at `path` as an expression index can hold it for every row
        (a state the database can't parse sorts above every number)."""
        raise NotImplementedError

    def index(self, table: str, key: str) -> str:
        """DDL for an expression index on index_key of `key`."""
        raise NotImplementedError

    def json_type(self, path: str) -> str:
        """One of null true false integer real text array object; NULL when missing."""
        raise NotImplementedError

    def value(self, path: str, kind: str = "") -> str:
        """The value at `path`, known to be of `kind` (integer real text array object), as SQL compares it."""
        raise NotImplementedError

    def as_int(self, condition: str) -> str:
        """A condition as 0 or 1."""
        return f"({condition})"

    def blob(self, x: str) -> str:
        """Text as the unit that contains_text() looks in."""
        return x

    def number_param(self, c: Any) -> Any:
        """A number known now, as a parameter that compares with the database's numbers as Python does."""
        return c

    def row_unreadable(self) -> str:
        """True for a state the database's JSON functions can't read as an object."""
        raise NotImplementedError

    def huge_integer(self, path: str) -> str:
        """True for an integer the database can't hold exactly."""
        raise NotImplementedError

    def canonical_time(self, x: str) -> str:
        """True for text in the form ppdsl writes times (2026-11-25T08:00:00Z, optionally .ffffff), valid."""
        raise NotImplementedError

    def time_key(self, x: str) -> str:
        """Canonical time text as YYYY-MM-DDTHH:MM:SS.ffffff, which sorts as the instants do."""
        raise NotImplementedError

    def contains_text(self, haystack: str, needle: str) -> str:
        raise NotImplementedError

    def starts_with(self, x: str, prefix: str) -> str:
        raise NotImplementedError

    def ends_with(self, x: str, suffix: str) -> str:
        raise NotImplementedError

    def array_has_text(self, path: str, needle: str) -> str:
        raise NotImplementedError

    def object_has_key(self, path: str, needle: str) -> str:
        raise NotImplementedError

    def array_nonempty(self, path: str) -> str:
        raise NotImplementedError

    def object_nonempty(self, path: str) -> str:
        raise NotImplementedError

    def text_param(self, s: str) -> Any:
        """A string as a parameter; NotPushable when the driver can't send it."""
        return s

    def verify(self, query: str, params: tuple[Any, ...]) -> None:
        """NotPushable when the database would refuse the query (too deeply nested, say)."""

    def bytes_param(self, s: str) -> Any:
        return s


class SQLite(Dialect):
    """SQLite's JSON1 functions. Text compares with the BINARY collation (UTF-8
    bytes, the same order as Python's code points); substrings are found in
    the bytes, where UTF-8 matches only at character boundaries."""

    name = "sqlite"
    title = "SQLite (JSON1)"

    def select(self, columns: str, decision: str, table: str, prefilter: Optional[str]) -> str:
        where = "decision > 0" if prefilter is None else f"{prefilter} AND decision > 0"
        # `+id`: sort the rows found rather than walk the table in id order, so that
        # the planner is free to use an index on the prefilter (or scan the table in storage order)
        return f"SELECT {columns}, {decision} AS decision FROM {table} WHERE {where} ORDER BY +id"

    def placeholder(self, n: int) -> str:
        return f"?{n}"

    def path(self, key: str) -> str:
        # a checked identifier can't hold a quote of either kind, nor a backslash
        if not key.isidentifier() or any(c in key for c in "'\"\\"):
            raise NotPushable(f"the name {key!r} can't be a JSON path")
        return f"'$.\"{key}\"'"

    def index_key(self, path: str) -> str:
        return f"(CASE WHEN json_valid(state) THEN json_extract(state, {path}) ELSE 9e999 END)"

    def index(self, table: str, key: str) -> str:
        key_sql = self.index_key(self.path(key))
        return f'CREATE INDEX IF NOT EXISTS "{table}_{key}" ON {table} {key_sql}'

    def json_type(self, path: str) -> str:
        return f"json_type(state, {path})"

    def value(self, path: str, kind: str = "") -> str:
        return f"json_extract(state, {path})"

    def blob(self, x: str) -> str:
        return f"CAST({x} AS BLOB)"

    def row_unreadable(self) -> str:
        # json.dumps writes NaN and Infinity, which JSON1 rejects, and JSON1 cuts text at \u0000
        # JSON1 parses the state once per row and keeps it for the calls that follow
        return "NOT json_valid(state) OR state GLOB '*\\u0000*' OR json_type(state) <> 'object'"

    def huge_integer(self, path: str) -> str:
        return f"typeof({self.value(path)}) = 'real'"

    def canonical_time(self, x: str) -> str:
        d = "[0-9]"
        head = f"[1-9]{d * 3}-[01]{d}-[0-3]{d}T[0-2]{d}:[0-5]{d}:[0-5]{d}"
        return (
            f"(({x} GLOB '{head}Z' OR {x} GLOB '{head}.{d * 6}Z')"
            f" AND substr({x}, 12, 2) <= '23'"
            f" AND (substr({x}, 9, 2) <= '28' OR date(julianday(substr({x}, 1, 10))) IS substr({x}, 1, 10)))"
        )

    def time_key(self, x: str) -> str:
        return f"(CASE length({x}) WHEN 20 THEN substr({x}, 1, 19) || '.000000' ELSE substr({x}, 1, 26) END)"

    def contains_text(self, haystack: str, needle: str) -> str:
        return f"instr(CAST({haystack} AS BLOB), {needle}) > 0"

    def starts_with(self, x: str, prefix: str) -> str:
        return f"substr(CAST({x} AS BLOB), 1, length({prefix})) = {prefix}"

    def ends_with(self, x: str, suffix: str) -> str:
        blob = f"CAST({x} AS BLOB)"
        return f"(length({blob}) >= length({suffix}) AND substr({blob}, -length({suffix})) = {suffix})"

    def array_has_text(self, path: str, needle: str) -> str:
        return f"EXISTS (SELECT 1 FROM json_each(state, {path}) WHERE type = 'text' AND atom = {needle})"

    def object_has_key(self, path: str, needle: str) -> str:
        return f"EXISTS (SELECT 1 FROM json_each(state, {path}) WHERE key = {needle})"

    def array_nonempty(self, path: str) -> str:
        return f"json_array_length(state, {path}) > 0"

    def object_nonempty(self, path: str) -> str:
        return f"{self.value(path)} <> '{{}}'"

    def text_param(self, s: str) -> Any:
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            raise NotPushable("a string with a lone surrogate (\\uD800-\\uDFFF) can't be sent to SQLite") from None
        return s

    def bytes_param(self, s: str) -> Any:
        return self.text_param(s).encode("utf-8")

    def verify(self, query: str, params: tuple[Any, ...]) -> None:
        # SQLite's parser has a small stack: compile the query, without running it, on an empty table
        with closing(sqlite3.connect(":memory:")) as db:
            db.execute("CREATE TABLE visitors (id TEXT PRIMARY KEY, state TEXT NOT NULL, version INTEGER NOT NULL)")
            try:
                db.execute("EXPLAIN " + query, params)
            except sqlite3.Error as exc:
                raise NotPushable(f"SQLite can't compile its SQL ({exc})") from None


SQLITE = SQLite()


def _sqlite() -> Dialect:
    return SQLITE


class PostgreSQL(Dialect):
    """PostgreSQL's JSONB (ppdsl/store/postgres.py: `state jsonb`, NULL for a
    state JSONB can't hold exactly, which `raw` keeps as text). Numbers are
    decimals, exact at any size, so integers compare exactly; a float sent
    as a Decimal compares with them as Python does. Text compares in the "C"
    collation: UTF-8 bytes, the order of Python's code points."""

    name = "postgresql"
    title = "PostgreSQL (JSONB)"
    state_text = "coalesce(raw, state::text)"
    least, greatest = "LEAST", "GREATEST"

    def placeholder(self, n: int) -> str:
        return f"%(p{n})s"

    def path(self, key: str) -> str:
        if not key.isidentifier() or any(c in key for c in "'\"\\%"):
            raise NotPushable(f"the name {key!r} can't be a JSON path")
        return f"'{key}'"

    def index_key(self, path: str) -> str:
        v = f"(state->{path})"
        big = "'Infinity'::numeric"
        return (
            f"(CASE WHEN state IS NULL THEN {big} ELSE (CASE jsonb_typeof({v}) WHEN 'number' THEN {v}::numeric "
            f"WHEN 'boolean' THEN (CASE WHEN {v} = 'true'::jsonb THEN 1 ELSE 0 END) WHEN 'string' THEN {big} "
            f"WHEN 'array' THEN {big} WHEN 'object' THEN {big} END) END)"
        )

    def index(self, table: str, key: str) -> str:
        return f'CREATE INDEX IF NOT EXISTS "{table}_{key}" ON {table} ({self.index_key(self.path(key))})'

    def json_type(self, path: str) -> str:
        v = f"(state->{path})"
        return (
            f"(CASE jsonb_typeof({v}) WHEN 'string' THEN 'text' WHEN 'number' THEN (CASE WHEN scale({v}::numeric) = 0 "
            f"THEN 'integer' ELSE 'real' END) WHEN 'boolean' THEN {v}::text ELSE jsonb_typeof({v}) END)"
        )

    def value(self, path: str, kind: str = "") -> str:
        if kind in ("integer", "real"):
            return f"(state->{path})::numeric"
        if kind in ("array", "object"):
            return f"(state->{path})"
        return f'((state->>{path}) COLLATE "C")'

    def as_int(self, condition: str) -> str:
        return f"({condition})::int"

    def row_unreadable(self) -> str:
        return "state IS NULL OR jsonb_typeof(state) <> 'object'"

    def huge_integer(self, path: str) -> str:
        return "false"

    def canonical_time(self, x: str) -> str:
        date = r"[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
        form = rf"^{date}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{{6}})?Z$"
        last = f"extract(day from (substr({x}, 1, 8) || '01')::date + interval '1 month' - interval '1 day')"
        # CASE, not AND: the date is read only from text of the right form
        day = f"substr({x}, 9, 2)"
        return f"(CASE WHEN {x} ~ '{form}' THEN ({day} <= '28' OR {day}::int <= {last}) ELSE false END)"

    def time_key(self, x: str) -> str:
        key = f"(CASE length({x}) WHEN 20 THEN substr({x}, 1, 19) || '.000000' ELSE substr({x}, 1, 26) END)"
        return f'({key} COLLATE "C")'

    def contains_text(self, haystack: str, needle: str) -> str:
        return f"strpos(({haystack})::text, ({needle})::text) > 0"

    def starts_with(self, x: str, prefix: str) -> str:
        return f"starts_with({x}, ({prefix})::text)"

    def ends_with(self, x: str, suffix: str) -> str:
        return f"right({x}, length(({suffix})::text)) = ({suffix})::text"

    def array_has_text(self, path: str, needle: str) -> str:
        return f"(state->{path}) ? ({needle})::text"

    def object_has_key(self, path: str, needle: str) -> str:
        return f"(state->{path}) ? ({needle})::text"

    def array_nonempty(self, path: str) -> str:
        return f"jsonb_array_length(state->{path}) > 0"

    def object_nonempty(self, path: str) -> str:
        return f"(state->{path}) <> '{{}}'::jsonb"

    def text_param(self, s: str) -> Any:
        if "\x00" in s or any("\ud800" <= c <= "\udfff" for c in s):
            raise NotPushable("a string with NUL or a lone surrogate can't be sent to PostgreSQL")
        return s

    def bytes_param(self, s: str) -> Any:
        return self.text_param(s)

    def number_param(self, c: Any) -> Any:
        return Decimal(c) if type(c) is float else c


POSTGRESQL = PostgreSQL()
DIALECTS = {d.name: d for d in (SQLITE, POSTGRESQL)}

# --------------------------------------------------------------- values


@dataclass(frozen=True)
class Const:
    """A value known when the query is built (literals, `now`, arithmetic on them)."""

    value: Any


@dataclass(frozen=True)
class Slot:
    """A visitor variable: the state's value at `key`, `default` when the key
    is missing, read as a time (first_time, a datetime field...) when `time`."""

    key: str
    default: Any = None
    time: bool = False
    # a time read, then moved by a known value: ("from", t) is t - v, ("to", t) is v - t,
    # ("plus", d) is v + d, ("minus", d) is v - d
    shape: Optional[tuple[str, Any]] = None


Value = Union[Const, Slot]


class _Hard:
    """The outcome of a kind of value that only Python can decide."""


HARD = _Hard()
Result = Union[bool, str, _Hard, None]  # None: doesn't depend on the value within its kind
PyTest = Callable[[Any], Any]  # the runtime's outcome for one known value
SqlTest = Callable[[str, str, str], Result]  # (kind, value SQL, path SQL) -> outcome
_SAMPLES: dict[str, Any] = {"integer": 1, "real": 1.5, "text": "x", "array": [], "object": {}}
_SQL_OPS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<=", "in": "in", "not in": "not in"}
_TESTS = {"<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge", "==": "_eq", "!=": "_ne", "in": "_in", "not in": "_not_in"}
_STAT_DEFAULTS = {"count": 0}
_ARGUMENTS = 64  # at most this many arguments to one min() or max()
_SHORT = 4000  # an operand of `and`/`or` up to this size is tested first, so that it can decide alone


def compile_filter(
    e: ir.Expr, now: datetime, runtime: dict[str, Any], evaluate: Callable[[ir.Expr], Any], dialect: Dialect = SQLITE
) -> SqlFilter:
    """The SQL decision for a checked expression whose segments are inlined.
    `runtime` is the compiled modules' runtime (the reference for every
    constant outcome), `evaluate` computes an expression with no visitor
    variables in it. Raises NotPushable."""
    b = _Builder(dialect, now, runtime, evaluate)
    try:
        truth = b.truth(e)
    except RecursionError:
        raise NotPushable("it is nested too deeply") from None
    # inside, 0 is false, 1 unknown (only Python can tell) and 2 true; outside, 1 is selected
    # and 2 is "decide in Python", as SqlFilter says
    decision = (
        f"(CASE WHEN {dialect.row_unreadable()} THEN 2 ELSE (CASE {truth} WHEN 2 THEN 1 WHEN 1 THEN 2 ELSE 0 END) END)"
    )
    bound = b.lower_bound(e)
    if bound is None:
        result = SqlFilter(decision, tuple(b.params), dialect=dialect)
    else:
        key, low = bound
        prefilter = f"{dialect.index_key(dialect.path(key))} >= {b.param(low)}"
        result = SqlFilter(decision, tuple(b.params), prefilter, (dialect.index("visitors", key),), dialect)
    dialect.verify(*result.query())
    return result


@dataclass
class _Builder:
    dialect: Dialect
    now: datetime
    runtime: dict[str, Any]
    evaluate: Callable[[ir.Expr], Any]
    params: list[Any] = field(default_factory=list)

    def param(self, value: Any) -> str:
        self.params.append(value)
        return self.dialect.placeholder(len(self.params))

    def test(self, op: str) -> Callable[[Any, Any], Any]:
        return self.runtime[_TESTS[op]]

    # ----------------------------------------------------------- truth

    def truth(self, e: ir.Expr) -> str:
        """Python's bool() of the value, in three values: SQL that is 2 (true),
        0 (false) or 1 (only Python can tell, e.g. for a float). `and`, `or`
        and `not` follow Kleene's logic, which is exact: a false operand makes
        `and` false whatever the unknown ones are."""
        if isinstance(e, ir.BoolOp):
            return self.and_or(e.op, [self.truth(x) for x in e.operands])
        if isinstance(e, ir.Unary) and e.op == "not":
            return f"(2 - {self.truth(e.operand)})"
        if isinstance(e, ir.Compare):
            return self.compare(e)
        if isinstance(e, ir.Call) and e.func in ("exists", "contains", "startswith", "endswith"):
            return self.call(e)
        value = self.value(e)
        if isinstance(value, Const):
            return _k3(bool(value.value))
        if value.shape is not None:
            raise NotPushable("it tests a time difference for truth")
        return self.over(value, bool, self.truthy)

    def truthy(self, kind: str, x: str, path: str) -> Result:
        if kind in ("integer", "real"):
            return f"{x} <> 0"
        if kind == "text":
            return f"{x} <> ''"
        if kind == "array":
            return self.dialect.array_nonempty(path)
        if kind == "object":
            return self.dialect.object_nonempty(path)
        return True  # a datetime

    def and_or(self, op: str, parts: list[str]) -> str:
        """Kleene's `and` (the least of 0 < 1 < 2) or `or` (the greatest), flat
        (SQLite's parser allows little nesting). The first operand is tested
        alone first, so that it can decide without the others."""
        if len(parts) == 1:
            return parts[0]
        decided, pick = ("0", self.dialect.least) if op == "and" else ("2", self.dialect.greatest)
        every = _flat(pick, parts)
        if len(parts[0]) > _SHORT:
            return every
        return f"(CASE {parts[0]} WHEN {decided} THEN {decided} ELSE {every} END)"

    # ----------------------------------------------------------- comparisons

    def compare(self, e: ir.Compare) -> str:
        # a chain a < b <= c is every pair in turn (operands are pure)
        values = [self.value(x) for x in e.operands]
        parts = [self.pair(op, a, b) for op, a, b in zip(e.ops, values, values[1:], strict=False)]
        return self.and_or("and", parts)

    def pair(self, op: str, a: Value, b: Value) -> str:
        test = self.test(op)
        if isinstance(a, Const) and isinstance(b, Const):
            return _k3(bool(test(a.value, b.value)))
        if isinstance(a, Slot) and isinstance(b, Slot):
            raise NotPushable("it compares two visitor values with each other")
        if isinstance(b, Slot):
            c = _const(a)
            if op in ("in", "not in"):
                return self.in_slot(op, c, b)
            return self.pair(_FLIP[op], b, a)
        slot, c = _slot(a), _const(b)
        if slot.shape is not None:
            if op in ("in", "not in"):
                raise NotPushable(f"it uses '{op}' on a time difference")
            moved = self.moved(slot.shape)
            out_of_range = self.overflow(slot)
            raw = self.unshape(slot.shape, op, c)
            raw_op, target = raw if raw is not None else (op, None)
            return self.over(
                slot,
                lambda v: test(moved(v), c),
                lambda kind, x, _p: None if raw is None else self.against(kind, x, raw_op, target),
                out_of_range,
            )
        if op in ("in", "not in"):
            return self.slot_in(op, slot, c)
        return self.over(slot, lambda v: test(v, c), lambda kind, x, _p: self.against(kind, x, op, c))

    def overflow(self, slot: Slot) -> Optional[str]:
        """When a time moved out of datetime's range (null in Python) can occur: SQL that is true for such times."""
        assert slot.shape is not None
        form, k = slot.shape
        if form not in ("plus", "minus"):
            return None  # the difference of two times always fits a duration
        shift = k if form == "plus" else -k
        d = self.dialect
        x = d.time_key(d.value(d.path(slot.key), "text"))
        try:
            if shift > timedelta(0):
                limit, test = datetime.max.replace(tzinfo=timezone.utc) - shift, ">"
            else:
                limit, test = datetime.min.replace(tzinfo=timezone.utc) - shift, "<"
        except OverflowError:
            raise NotPushable("a duration in it moves every time out of range") from None
        return f"{x} {test} {self.param(time_key(limit))}"

    def moved(self, shape: tuple[str, Any]) -> PyTest:
        """The runtime's own arithmetic for a shaped time read."""
        form, k = shape
        sub, add = self.runtime["_sub"], self.runtime["_add"]
        if form == "from":
            return lambda v: sub(k, v)
        if form == "to":
            return lambda v: sub(v, k)
        return (lambda v: add(v, k)) if form == "plus" else (lambda v: sub(v, k))

    def unshape(self, shape: tuple[str, Any], op: str, c: Any) -> Optional[tuple[str, datetime]]:
        """`moved(v) op c` as `v op' t` for a time t, or None when c's type makes
        the outcome the same for every time (the runtime then decides it)."""
        form, k = shape
        try:
            if form in ("from", "to"):
                if type(c) is not timedelta:
                    return None
                return (_FLIP[op], k - c) if form == "from" else (op, k + c)
            if type(c) is not datetime:
                return None
            return op, (c - k if form == "plus" else c + k)
        except OverflowError:
            raise NotPushable("a time in it is out of range") from None

    def against(self, kind: str, x: str, op: str, c: Any) -> Result:
        """`v op c` for the values `v` of one kind: SQL where the outcome depends on the value."""
        tc = type(c)
        if kind == "integer" and tc in (int, float):
            return f"{x} {_SQL_OPS[op]} {self.param(self.dialect.number_param(self.number(c)))}"
        if kind == "real" and tc in (int, float):
            return HARD  # the database's reading of a float's text may differ from Python's
        if kind == "text" and tc is str:
            return f"{x} {_SQL_OPS[op]} {self.param(self.dialect.text_param(c))}"
        if kind == "time" and tc is datetime:
            return f"{self.dialect.time_key(x)} {_SQL_OPS[op]} {self.param(time_key(c))}"
        if kind in ("array", "object") and tc in (list, dict):
            raise NotPushable("it compares a visitor value with a list")
        return None

    def number(self, c: Any) -> Any:
        if type(c) is int and not -INT64 <= c < INT64:
            raise NotPushable("a number in it is too large for a 64-bit integer")
        if type(c) is float and (c != c or c in (float("inf"), float("-inf"))):
            raise NotPushable("a number in it is not finite")
        return c

    def slot_in(self, op: str, slot: Slot, c: Any) -> str:
        """`v in c` / `v not in c` for a list or text known now."""
        test = self.test(op)
        if type(c) is list:
            if any(type(item) in (list, dict) for item in c):
                raise NotPushable("it looks for a visitor value in a list of lists or objects")

            def member(kind: str, x: str, path: str) -> Result:
                tests = [self.against(kind, x, "==", item) for item in c]
                if any(t is HARD for t in tests):
                    return HARD
                sql = [t for t in tests if isinstance(t, str)]
                if not sql:
                    return None
                found = " OR ".join(sql)
                return found if op == "in" else f"NOT ({found})"

            return self.over(slot, lambda v: test(v, c), member)
        if type(c) is str:

            def substring(kind: str, x: str, path: str) -> Result:
                if kind != "text":
                    return None
                found = self.dialect.contains_text(self.param(self.dialect.bytes_param(c)), self.dialect.blob(x))
                return found if op == "in" else f"NOT ({found})"

            return self.over(slot, lambda v: test(v, c), substring)
        return self.over(slot, lambda v: test(v, c), lambda kind, x, path: None)

    def in_slot(self, op: str, c: Any, slot: Slot) -> str:
        """`c in v` / `c not in v`: a known value looked for in a visitor value."""
        test = self.test(op)
        if type(c) is not str and c is not None:
            raise NotPushable("it looks for something other than text in a visitor value")
        d = self.dialect

        def has(kind: str, x: str, path: str) -> Result:
            if c is None or kind not in ("text", "array", "object"):
                return None
            if kind == "text":
                found = d.contains_text(x, self.param(d.bytes_param(c)))
            elif kind == "array":
                found = d.array_has_text(path, self.param(d.text_param(c)))
            else:
                found = d.object_has_key(path, self.param(d.text_param(c)))
            return found if op == "in" else f"NOT ({found})"

        return self.over(slot, lambda v: test(c, v), has)

    # ----------------------------------------------------------- functions

    def call(self, e: ir.Call) -> str:
        args = [self.value(a) for a in e.args]
        name = e.func
        helper: Callable[..., Any] = _exists if name == "exists" else self.runtime[FUNCTIONS[name].helper or ""]
        if all(isinstance(a, Const) for a in args):
            return _k3(bool(helper(*(_const(a) for a in args))))
        if any(isinstance(a, Slot) and a.shape is not None for a in args):
            raise NotPushable(f"{name}() of a time difference")
        if name == "exists":
            return self.over(_slot(args[0]), _exists, lambda kind, x, path: True)
        if not isinstance(args[1], Const):
            raise NotPushable(f"{name}() looks for a visitor value")
        c = _const(args[1])
        if name == "contains":
            if type(c) is not str:  # contains(list, null) differs from `null in list`
                raise NotPushable("contains() looks for something other than text")
            return self.in_slot("in", c, _slot(args[0]))
        d = self.dialect
        test = d.starts_with if name == "startswith" else d.ends_with

        def affixed(kind: str, x: str, path: str) -> Result:
            if kind != "text" or type(c) is not str:
                return None
            return True if c == "" else test(x, self.param(d.bytes_param(c)))

        return self.over(_slot(args[0]), lambda v: helper(v, c), affixed)

    # ----------------------------------------------------------- values

    def value(self, e: ir.Expr) -> Value:
        if _is_const(e):
            return Const(self.evaluate(e))
        if isinstance(e, ir.Var):
            b = e.binding
            if isinstance(b, ir.StatBinding):
                return _stat(b.kind, b.seq)
            if isinstance(b, ir.VisitorVarBinding):
                return Slot(b.name, None, b.kind == "datetime")
        if isinstance(e, ir.Call) and FUNCTIONS[e.func].stat:
            assert e.seq is not None
            return _stat(e.func, e.seq)
        if isinstance(e, ir.BinOp) and e.op in "+-":
            shaped = self.shaped(e)
            if shaped is not None:
                return shaped
        raise NotPushable(f"{_describe(e)} can't be computed inside the database")

    def shaped(self, e: ir.BinOp) -> Optional[Slot]:
        """`t - v`, `v - t`, `v + d`, `d + v`, `v - d` for a time read v, a time t and a duration d known now."""
        left, right = self.value(e.left), self.value(e.right)
        for slot, other, first in ((left, right, True), (right, left, False)):
            if not (isinstance(slot, Slot) and slot.time and slot.shape is None and isinstance(other, Const)):
                continue
            k = other.value
            if type(k) is datetime and e.op == "-":
                return replace(slot, shape=("to" if first else "from", k))
            if type(k) is timedelta and (e.op == "+" or first):
                return replace(slot, shape=("plus" if e.op == "+" else "minus", k))
        return None

    def lower_bound(self, e: ir.Expr) -> Optional[tuple[str, int]]:
        """(key, n) when every visitor the expression selects has a number
        at `key` above n, with room for the database reading a float a little
        differently: a top-level `v > c` or `v >= c` (in an `and`) for a number c,
        where a missing key isn't selected. An index on the key can then find the candidates."""
        for part in e.operands if isinstance(e, ir.BoolOp) and e.op == "and" else [e]:
            if not (isinstance(part, ir.Compare) and len(part.ops) == 1):
                continue
            op, (left, right) = part.ops[0], part.operands
            if op in ("<", "<="):
                op, left, right = _FLIP[op], right, left
            if op not in (">", ">=") or _is_const(left) or not _is_const(right):
                continue
            slot, c = self.value(left), self.evaluate(right)
            if not (isinstance(slot, Slot) and not slot.time and slot.shape is None and type(c) in (int, float)):
                continue
            if c != c or abs(c) >= INT64 // 2 or self.test(op)(slot.default, c):
                continue
            return slot.key, math.floor(c) - 1
        return None

    # ----------------------------------------------------------- the CASE over JSON types

    def over(self, slot: Slot, py: PyTest, sql: SqlTest, unknown: Optional[str] = None) -> str:
        """A CASE over the JSON type of the slot's value, in three values: for
        each kind, SQL from `sql(kind, x, path)`, or, when that is None (the
        outcome doesn't depend on the value), `py` on a sample of the kind; for
        null, true, false and a missing key, `py` on the value itself. Values
        SQL can't read as Python does are unknown, and so are times for which
        `unknown` is true."""
        d = self.dialect
        path = d.path(slot.key)
        t, x = d.json_type(path), d.value(path, "text")

        def decide(kind: str, sample: Any) -> str:
            r = sql(kind, d.value(path, kind), path)
            if isinstance(r, str):
                return f"(2 * {d.as_int(r)})"
            return _k3(bool(py(sample)) if r is None else r)

        arms: list[tuple[str, str]] = []
        if slot.time:
            none = _k3(bool(py(None)))
            arms += [(kind, none) for kind in ("null", "true", "false", "array", "object")]  # _dt gives null
            arms += [(kind, _k3(HARD)) for kind in ("integer", "real")]  # epoch seconds: Python reads them
            odd = f"NOT {d.canonical_time(x)}" + (f" OR {unknown}" if unknown else "")
            arms.append(("text", f"(CASE WHEN {odd} THEN 1 ELSE {decide('time', self.now)} END)"))
            return _case(t, arms, none)
        arms += [(kind, _k3(bool(py(v)))) for kind, v in (("null", None), ("true", True), ("false", False))]
        for kind in ("integer", "real", "text", "array", "object"):
            r = decide(kind, _SAMPLES[kind])
            if kind == "integer" and r not in ("0", "1", "2"):  # past 64 bits the database holds a float
                r = f"(CASE WHEN {d.huge_integer(path)} THEN 1 ELSE {r} END)"
            arms.append((kind, r))
        return _case(t, arms, _k3(bool(py(slot.default))))


def time_key(dt: datetime) -> str:
    """A time as Dialect.time_key writes canonical time text: UTC, microseconds."""
    return dt.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


def _exists(v: Any) -> bool:
    return v is not None


def _stat(kind: str, seq: int) -> Slot:
    return Slot(f"event_{kind}_{seq}", _STAT_DEFAULTS.get(kind), kind in ("first_time", "last_time"))


def _const(v: Value) -> Any:
    assert isinstance(v, Const)
    return v.value


def _slot(v: Value) -> Slot:
    assert isinstance(v, Slot)
    return v


def _is_const(e: ir.Expr) -> bool:
    """No visitor value in it: only literals, `now` and operations on them."""
    for node in ir.walk(e):
        if isinstance(node, ir.Var) and not isinstance(node.binding, ir.EventVarBinding):
            return False
        if isinstance(node, ir.Call) and FUNCTIONS[node.func].stat:
            return False
    return True


def _describe(e: ir.Expr) -> str:
    if isinstance(e, ir.Call):
        return f"{e.func}() of a visitor value"
    if isinstance(e, ir.BinOp):
        return f"arithmetic ('{e.op}') on a visitor value"
    if isinstance(e, ir.BoolOp):
        return f"the value of '{e.op}' (not only its truth)"
    if isinstance(e, (ir.Member, ir.Index)):
        return "a member of a JSON value"
    if isinstance(e, ir.Unary):
        return "a negated visitor value"
    if isinstance(e, ir.Compare):
        return "a comparison used as a value"
    return "this expression"


def _case(t: str, arms: list[tuple[str, str]], otherwise: str) -> str:
    """CASE t WHEN 'kind' THEN ... ELSE (a missing key's outcome) END, without arms equal to the ELSE."""
    whens = [(k, r) for k, r in arms if r != otherwise]
    if not whens:
        return otherwise
    body = " ".join(f"WHEN '{k}' THEN {r}" for k, r in whens)
    return f"(CASE {t} {body} ELSE {otherwise} END)"


def _k3(r: Result) -> str:
    """A constant outcome as three-valued SQL: 2 true, 0 false, 1 unknown
    (a SQL condition becomes 0 or 2 in _Builder.over)."""
    if r is HARD:
        return "1"
    assert isinstance(r, bool)
    return "2" if r else "0"


def _flat(pick: str, parts: list[str]) -> str:
    """min() or max() of the parts, in groups that stay under SQLite's limit of arguments."""
    while len(parts) > _ARGUMENTS:
        parts = [_flat(pick, parts[i : i + _ARGUMENTS]) for i in range(0, len(parts), _ARGUMENTS)]
    return f"{pick}({', '.join(parts)})" if len(parts) > 1 else parts[0]
