"""`compile_condition`: one ppflow expression as a plain Python callable over a
visitor dict, for services that need a single rule without a flow file.

The callable reads each numeric visitor variable once, and when all of them
have their declared types (the usual case) it runs a version of the
expression in plain Python operators; otherwise it runs the null-safe
version. Both give the same results; the guard only decides which is faster
to run.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timezone
from functools import partial
from typing import Any, Optional
from collections.abc import Callable

from ..lang import ir
from ..lang.check import Checker, Scope
from ..lang import messages as m
from ..lang.diagnostics import CompileError, SyntaxProblem, diagnostic
from ..lang.messages import MAX_BRACKETS, MAX_EVENTS, PYTHON_MAX_NESTING
from ..lang.span import Source
from .python import CodeGenerator, TooDeep, check_nesting, runtime_source
from ..lang.names import EVENT_VARS
from ..lang.lower import parse_expression
from ..lang.source import prescan
from ..lang.syntax import NAME

# `_type` is a keyword-only default: a local is faster to read than the builtin
_GUARDS = {"int": "_type({0}) is int", "float": "_type({0}) in (int, float)"}
# with plain int + or -, ints past _lim could add up to a number too long to print, which the
# null-safe path makes null: then the fast path also needs them in range
_BOUNDED_INT = "_type({0}) is int and -_lim < {0} < _lim"
_RUNTIME: Optional[dict[str, Any]] = None


class _Now:
    """The current-event stand-in for a standalone condition: only `now`,
    the time of the call unless a fixed time is given."""

    __slots__ = ("now",)

    def __init__(self, now: Optional[datetime] = None) -> None:
        self.now = datetime.now(timezone.utc) if now is None else now


def compile_condition(
    text: str, *, events: Optional[dict[str, int]] = None, now: Optional[datetime] = None
) -> Callable[[dict], Any]:
    """Compile a ppflow expression, e.g. "count(2) > 8 and count(3) > 8",
    into `f(visitor) -> value`. `events` maps event names to numbers so the
    expression may say count(signup); `now` is the time of the call unless
    a fixed (aware) time is given. Errors raise ppdsl.CompileError with every diagnostic."""
    program, fast, safe = check_condition(text, events)
    return condition_function(program, fast, safe, text, now)


def check_condition(text: str, events: Optional[dict[str, int]] = None) -> tuple[ir.Program, ir.Expr, ir.Expr]:
    """The program a condition is checked in, and the condition checked twice:
    with visitor numbers trusted (the fast path) and not (the null-safe path)."""
    if not isinstance(text, str):
        raise TypeError("compile_condition takes the expression as a string")
    source = Source("<condition>", text)
    program = ir.Program(source.name, [], [], [], [], [], [])
    for name, seq in (events or {}).items():
        if not (isinstance(name, str) and NAME.fullmatch(name) and type(seq) is int and 1 <= seq <= MAX_EVENTS):
            raise ValueError(
                f"events maps event names to numbers 1 to {MAX_EVENTS}, e.g. {{'signup': 3}}; got {name!r}: {seq!r}"
            )
        at = source.span(0)
        program.events.append(ir.EventDecl(at, seq, at, name, at, None, None, None, None))
    try:
        fast = _check(source, program, trust_numbers=True)
        safe = _check(source, program, trust_numbers=False)
    except RecursionError:
        raise _error(source, m.TOO_DEEP_BRACKETS, MAX_BRACKETS) from None
    return program, fast, safe


def condition_function(
    program: ir.Program, fast: ir.Expr, safe: ir.Expr, doc: str, now: Optional[datetime] = None
) -> Callable[[dict], Any]:
    """`f(visitor) -> value` from an expression checked both ways (see
    check_condition); segments must already be inlined (see inline_segments)."""
    source = fast.span.source
    gen = CodeGenerator(program, "condition")
    gen.hoisted = {}
    safe_code = gen.expr(safe)
    fast_code = gen.expr(fast)
    lines = ["def condition(V, *, _type=type, _lim=2**4000):"]
    if gen.uses_event:
        lines.append("    E = _Now()")
    lines += [f"    {local} = {read}" for read, (local, _kind) in gen.hoisted.items()]
    if gen.hoisted:
        guards = dict(_GUARDS)
        if any(isinstance(node, ir.BinOp) and node.ty.sure for node in ir.walk(fast)):
            guards["int"] = _BOUNDED_INT
        guard = " and ".join(guards[kind].format(local) for local, kind in gen.hoisted.values())
        lines += [f"    if {guard}:", f"        return {fast_code}"]
    lines.append(f"    return {safe_code}")
    namespace = dict(_runtime())
    namespace["_Now"] = _Now if now is None else partial(_Now, now)
    for code, name in gen.constants.items():
        namespace[name] = eval(code, namespace)  # noqa: S307 - our own constant expressions
    code = "\n".join(lines) + "\n"
    try:
        check_nesting(code)
    except TooDeep:
        raise _error(source, m.TOO_DEEP_GENERATED, PYTHON_MAX_NESTING) from None
    exec(compile(code, "<ppdsl condition>", "exec"), namespace)
    condition = namespace["condition"]
    condition.__doc__ = f"ppflow condition: {doc}"
    return condition


def inline_segments(e: ir.Expr, segments: dict[str, ir.Expr]) -> ir.Expr:
    """`e` with every segment name replaced by the segment's checked
    expression (a segment is evaluated where it is used, so this keeps its
    meaning); the checker has ruled out cycles. Nodes are changed in place."""
    if isinstance(e, ir.Var) and isinstance(e.binding, ir.SegmentBinding):
        return inline_segments(segments[e.binding.name], segments)
    for f in fields(e):
        value = getattr(e, f.name)
        if isinstance(value, ir.Expr):
            setattr(e, f.name, inline_segments(value, segments))
        elif isinstance(value, list):
            setattr(e, f.name, [inline_segments(x, segments) if isinstance(x, ir.Expr) else x for x in value])
    return e


def _error(source: Source, msg: m.Message, limit: int) -> CompileError:
    return CompileError(source.name, source.text, [diagnostic(msg, source.span(0), limit=limit)])


def _check(source: Source, program: ir.Program, trust_numbers: bool) -> ir.Expr:
    text = source.text
    try:
        prescan(source)  # its warnings are about comments, which a condition has none of
        expr = parse_expression(text, 0, source)
    except SyntaxProblem as problem:
        raise CompileError("<condition>", text, [problem.diag]) from None
    checker = Checker(program, event_vars={"now": EVENT_VARS["now"]}, trust_numbers=trust_numbers)
    checker.check_events()
    checker.expr(expr, Scope())
    errors = [d for d in checker.diags if d.is_error]
    if errors:
        raise CompileError("<condition>", text, checker.diags)
    return expr


def _runtime() -> dict[str, Any]:
    global _RUNTIME
    if _RUNTIME is None:
        namespace: dict[str, Any] = {}
        exec(compile(runtime_source(), "<ppdsl runtime>", "exec"), namespace)
        _RUNTIME = namespace
    return _RUNTIME


def constant_evaluator(now: datetime) -> tuple[dict[str, Any], Callable[[ir.Expr], Any]]:
    """The runtime's namespace, and a function that computes a checked
    expression without visitor variables (literals, `now`, arithmetic) exactly
    as a condition would, with `now` fixed."""
    gen = CodeGenerator(ir.Program("<constant>", [], [], [], [], [], []), "constant")
    namespace = dict(_runtime())
    event, visitor = _Now(now), dict[str, Any]()

    def evaluate(e: ir.Expr) -> Any:
        code = gen.expr(e)
        for const, name in gen.constants.items():
            if name not in namespace:
                namespace[name] = eval(const, namespace)  # noqa: S307 - our own constant expressions
        return eval(code, {**namespace, "E": event, "V": visitor})  # noqa: S307 - generated from checked IR

    return _runtime(), evaluate
