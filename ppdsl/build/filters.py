"""Visitor filters (`ppdsl visitors --where EXPR` or `--segment FILE:NAME`):
one compiled object with the reference predicate in Python and, where it can
be exact, the same filter as SQL for the SQLite or PostgreSQL store.

    f = compile_filter("count(2) > 8 and now - last_time(2) < 7d")
    f.matches(state)      # the reference: what the language gives for this visitor
    f.sql                 # SqlFilter (decision + params) or None, then f.reason says why
    for visitor_id, state_text in f.select(connection): ...
    f.on("postgresql")    # the same filter for a PostgreSQL store

A filter has no current event: `track_event_*` and `data` are compile errors,
and `now` is the time the filter was compiled (the time of the query).
A state for which the predicate raises (it shouldn't: evaluation never raises)
or that isn't a JSON object is not selected; the SQL agrees, since such rows
are decided in Python.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Optional, Protocol

from ..codegen.condition import (
    check_condition,
    condition_function,
    constant_evaluator,
    inline_segments,
)
from ..codegen.sql import DIALECTS, SQLITE, Dialect, NotPushable, SqlFilter, compile_filter as compile_sql
from ..lang import ir
from ..lang.check import Checker
from ..lang.diagnostics import CompileError
from ..lang.names import EVENT_VARS
from .loader import read_source


class Connection(Protocol):
    """What select() needs of a DB-API connection (sqlite3's, or a SQL store's `execute`)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...


@dataclass(frozen=True)
class VisitorFilter:
    """A compiled visitor filter. `sql` is None when the filter can't be
    pushed down exactly; `reason` then says why in one line."""

    text: str
    now: datetime
    predicate: Callable[[dict[str, Any]], Any]
    sql: Optional[SqlFilter]
    reason: Optional[str]
    dialect: Dialect = SQLITE
    expr: Optional[ir.Expr] = field(default=None, repr=False, compare=False)

    def on(self, dialect: str) -> VisitorFilter:
        """The same filter as the SQL of another database ("sqlite", "postgresql")."""
        target = DIALECTS[dialect]
        if target is self.dialect or self.expr is None:
            return self
        sql, reason = _pushed(self.expr, self.now, target)
        return replace(self, sql=sql, reason=reason, dialect=target)

    def matches(self, state: Any) -> bool:
        """Whether the visitor with this state (a dict of flat variables) is selected."""
        if type(state) is not dict:
            return False
        try:
            return bool(self.predicate(state))
        except Exception:  # noqa: BLE001 - documented: such a visitor is not selected
            return False

    @property
    def plan(self) -> str:
        """One line for --explain-plan: where the filter runs, and why."""
        if self.sql is None:
            return f"evaluated in Python: {self.reason}"
        plan = f"pushed down to {self.dialect.title}; rows SQL can't decide exactly are evaluated in Python"
        if self.sql.indexes:
            plan += "; this index would serve it: " + "; ".join(self.sql.indexes)
        return plan

    def select(self, connection: Connection, table: str = "visitors") -> Iterator[tuple[str, str]]:
        """(id, state JSON text) of every selected visitor of a table with the
        store's layout, in id order: pushed down when `sql` is set, else every
        state is parsed and tested here. `table` is the caller's, never user input."""
        columns = f"id, {self.dialect.state_text}"
        if self.sql is None:
            rows = connection.execute(f"SELECT {columns} FROM {table} ORDER BY id")
            for visitor_id, text in rows:
                if self.matches(_loads(text)):
                    yield visitor_id, text
            return
        query, params = self.sql.query(columns, table)
        for visitor_id, text, decision in connection.execute(query, params):
            if decision == 1 or self.matches(_loads(text)):
                yield visitor_id, text


def compile_filter(
    text: str, *, now: Optional[datetime] = None, events: Optional[dict[str, int]] = None
) -> VisitorFilter:
    """A filter from an expression over the visitor (events by SEQ, or by the
    names in `events`). Errors raise ppdsl.CompileError with every diagnostic."""
    program, fast, safe = check_condition(text, events)
    return _build(text, program, fast, safe, now)


def segment_filter(spec: str, *, now: Optional[datetime] = None) -> VisitorFilter:
    """A filter from a `segment` declared in a file: "FILE.ppflow:NAME". A file
    with errors, or a segment that uses the current event, raises CompileError;
    an unreadable file OSError; an unknown segment or a spec without ':' ValueError."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise ValueError(f"a segment is given as FILE.ppflow:NAME, got {spec!r}")
    source = read_source(path)
    from .pipeline import compile_source
    from ..lang.lower import parse
    from ..lang.span import Source

    result = compile_source(source, os.fspath(path), emit=False)
    if result.checked is None:
        raise CompileError(path, source, result.diagnostics)
    names = [s.name for s in result.checked.program.segments]
    if name not in names:
        known = ", ".join(names) if names else "none"
        raise ValueError(f"{path} has no segment {name!r}; its segments are: {known}")
    checked = []
    for trust in (True, False):
        program, _ = parse(Source(os.fspath(path), source))
        checker = Checker(program, event_vars={"now": EVENT_VARS["now"]}, trust_numbers=trust)
        checker.check_events()
        checker.segment_type(name)
        if any(d.is_error for d in checker.diags):
            raise CompileError(path, source, checker.diags)
        segments = {s.name: s.expr for s in program.segments}
        checked.append((program, inline_segments(segments[name], segments)))
    (program, fast), (_, safe) = checked
    return _build(spec, program, fast, safe, now)


def _build(text: str, program: ir.Program, fast: ir.Expr, safe: ir.Expr, now: Optional[datetime]) -> VisitorFilter:
    now = datetime.now(timezone.utc) if now is None else now.astimezone(timezone.utc)
    predicate = condition_function(program, fast, safe, text, now)
    sql, reason = _pushed(safe, now, SQLITE)
    return VisitorFilter(text, now, predicate, sql, reason, SQLITE, safe)


def _pushed(safe: ir.Expr, now: datetime, dialect: Dialect) -> tuple[Optional[SqlFilter], Optional[str]]:
    """The SQL of a filter, or None and the reason it can't be exact."""
    runtime, evaluate = constant_evaluator(now)
    try:
        return compile_sql(safe, now, runtime, evaluate, dialect), None
    except NotPushable as exc:
        return None, str(exc)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
