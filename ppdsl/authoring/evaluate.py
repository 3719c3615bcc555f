"""`ppdsl eval`: the value of one expression for a visitor, and optionally a
current event, with the declarations of a .ppflow file in scope.

How: a tiny synthetic program, compiled by the code generator and run by the
runtime that every compiled module carries, so eval can't drift from what a
flow would compute.

1. The file (if any) is compiled as `check` does; its events, fields and
   segments are the scope. The expression is parsed from a Source named
   `<expr>` and type-checked against them by the checker, which is told that
   there is no current event unless one is given (only `now`), just as for
   `compile_condition`.
2. `codegen.python.generate` writes the module skeleton for the file's
   events with no flows: the runtime, the event tables and `handle`. One
   CodeGenerator then writes the file's segments, `_eval(V, E)` returning
   the expression, and the one flow, `_eval_flow`, whose single rule is for
   any event and records the expression's value as its only "action";
   `_FLOWS` is set to that flow, and every event runs it.
3. With an event, the module's own `handle` runs (through engine.run_event):
   the event is resolved, checked and counted exactly as `ppdsl run` does
   before flows run, so `count(E)` includes it, then `_eval_flow` records the
   value. Without one, `_eval` runs on the visitor as it is, with a stand-in
   event that has only `now` (the time of the call, or `at`).
4. The value is printed by the module's own `_fmt` (a template's printing)
   and `_jsonable` (what `set` stores).

Nothing here prints. Errors raise CompileError (the file's, or the
expression's, diagnostics) or RejectedEvent (the event, as `run` rejects it).
"""

from __future__ import annotations

import dataclasses
import os
import time
import types
from dataclasses import dataclass
from typing import Any, Optional

from ..build.loader import module_from_code, read_source
from ..build.pipeline import compile_source
from ..codegen.python import CodeGenerator, TooDeep, check_nesting, generate
from ..engine.one_event import RejectedEvent, run_event
from ..lang import ir
from ..lang import messages as m
from ..lang.check import Checker, Scope
from ..lang.diagnostics import CompileError, Diagnostic, SyntaxProblem, diagnostic
from ..lang.lower import parse_expression
from ..lang.names import EVENT_VARS
from ..lang.source import prescan
from ..lang.span import Source

__all__ = ["EXPR_SOURCE", "NO_EVENT_HELP", "TYPE_NAMES", "CompileError", "Evaluation", "RejectedEvent", "evaluate"]

EXPR_SOURCE = "<expr>"  # the name diagnostics give the expression
NO_EVENT_HELP = "'{name}' belongs to the current event: pass --event SPEC to evaluate with one"
# the static type as `--json` names it: the language's names (docs/language.md 5.7),
# `json` for a JSON value and `any` when only the run time can tell (`x or 5m`)
TYPE_NAMES = {"str": "string"}


@dataclass(frozen=True)
class Evaluation:
    """What an expression gave."""

    value: Any  # as the runtime holds it: None, bool, int, float, str, datetime, timedelta, list or dict
    type: str  # the static type: int float string bool datetime duration list json null any
    text: str  # as a template prints it: null is "", durations "300s", lists and objects compact JSON
    json: Any  # as JSON holds it (what `set` stores): times ISO-8601 text, durations whole seconds
    warnings: tuple[Diagnostic, ...] = ()  # the expression's own (W203 and the like)
    event: Optional[dict[str, Any]] = None  # with an event: seq, name, uuid, count (with it) and time


def evaluate(
    expression: str,
    *,
    file: Optional[str | os.PathLike[str]] = None,
    visitor: Optional[dict[str, Any]] = None,
    event: Optional[dict[str, Any]] = None,
    at: object = None,
) -> Evaluation:
    """Evaluate `expression` for `visitor` (a dict of PPMessage variables;
    None is a new visitor). `file` puts a .ppflow file's declarations in
    scope. `event` is a payload as `run_event` takes it; its statistics are
    updated first, and its variables (`data`, `track_event_*`) are in scope.
    `at` is `now` without an event, and the event's time when the payload
    has none (epoch seconds, ISO-8601 text or a datetime; None is now).

    Raises CompileError, RejectedEvent, OSError (an unreadable file), and
    ValueError for an `at` that is no time."""
    if visitor is not None and not isinstance(visitor, dict):
        raise TypeError("the visitor must be a dict of PPMessage variables")
    program, name = _declarations(file)
    source = Source(EXPR_SOURCE, expression)
    expr, warnings = _check(source, program, with_event=event is not None)
    module = _module(program, name, expr, source)
    if event is None:
        now = module._at_time(time.time() if at is None else at)
        value, happened = module._eval(dict(visitor or {}), types.SimpleNamespace(now=now)), None
    else:
        result = run_event(module, event, visitor, at=at)
        value, happened = result.actions[0], result.event
    return Evaluation(
        value,
        TYPE_NAMES.get(expr.ty.kind, expr.ty.kind),
        module._fmt(value),
        module._jsonable(value),
        tuple(warnings),
        happened,
    )


def _declarations(file: Optional[str | os.PathLike[str]]) -> tuple[ir.Program, str]:
    """The checked program of `file` (flows included: the checker has bound
    its segments), or an empty one."""
    if file is None:
        return ir.Program(EXPR_SOURCE, [], [], [], [], [], []), EXPR_SOURCE
    filename = os.fspath(file)
    text = read_source(file)
    result = compile_source(text, filename, emit=False)
    if result.checked is None:
        raise CompileError(filename, text, result.diagnostics)
    return result.checked.program, filename


def _check(source: Source, program: ir.Program, with_event: bool) -> tuple[ir.Expr, list[Diagnostic]]:
    """The expression parsed and typed; its warnings. CompileError on errors,
    which may point into the file too (a segment that reads `data`)."""
    try:
        scan = prescan(source)
        expr = parse_expression(scan.text, 0, source)
        checker = Checker(program, event_vars=None if with_event else {"now": EVENT_VARS["now"]})
        checker.expr(expr, Scope())
    except SyntaxProblem as problem:
        raise CompileError(source.name, source.text, [problem.diag]) from None
    except RecursionError:
        raise _too_deep(source, m.TOO_DEEP_BRACKETS, m.MAX_BRACKETS) from None
    diags = [_event_hint(d) for d in scan.warnings + checker.diags]
    if any(d.is_error for d in diags):
        raise CompileError(source.name, source.text, sorted(diags, key=Diagnostic.sort_key))
    # a fresh checker meets the file's segments again: their warnings were the file's
    return expr, [d for d in diags if d.span.source is source]


def _event_hint(d: Diagnostic) -> Diagnostic:
    """An unknown `data` or `track_event_*`: say how to give an event."""
    name = d.args.get("name")
    if d.code == "E101" and name in EVENT_VARS:
        return dataclasses.replace(d, help=NO_EVENT_HELP.format(name=name))
    return d


def _module(program: ir.Program, name: str, expr: ir.Expr, source: Source) -> types.ModuleType:
    """The synthetic module: the skeleton for the file's events, then the
    segments, `_eval` and the flow that records its value."""
    gen = CodeGenerator(program, name)
    for i, seg in enumerate(program.segments, 1):
        gen.segment(i, seg)
    value = gen.expr(expr)
    lines = [
        *gen.lines,
        "def _eval(V, E):",
        f"    return {value}",
        "",
        "",
        "def _eval_flow(R, V, E):  # the one rule, for any event",
        "    R.actions.append(_eval(V, E))",
        "",
        "",
        "_FLOWS = (_eval_flow,)",
        "_FLOWS_BY_EVENT = dict.fromkeys(_EVENT_NAMES if _DECLARED else range(1, 9), _FLOWS)",
        *(f"{const} = {code}" for code, const in gen.constants.items()),
    ]
    events_only = dataclasses.replace(program, agents=[], groups=[], fields=[], segments=[], flows=[])
    code = generate(ir.CheckedProgram(events_only, {}), name) + "\n\n" + "\n".join(lines) + "\n"
    try:
        check_nesting(code)
    except TooDeep:
        raise _too_deep(source, m.TOO_DEEP_GENERATED, m.PYTHON_MAX_NESTING) from None
    return module_from_code(code, EXPR_SOURCE)


def _too_deep(source: Source, msg: m.Message, limit: int) -> CompileError:
    return CompileError(source.name, source.text, [diagnostic(msg, source.span(0), limit=limit)])
