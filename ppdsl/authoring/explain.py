"""`ppdsl run --explain` and the explanations of `ppdsl test`: what each flow
did with one event, and why.

For every flow, in the order they ran: whether it is inactive, which rule
was chosen for the event (or that no rule names it), every condition with the
values of its operands and its result, every `let`, `switch`, `case` and
action with its outcome, and how the flow ended (an `end`, an action that
failed without `on failure`, or the rule's statement completing).

How, and why this way
---------------------
Option (b) of the design: an evaluator over the checked IR, run beside the
compiled module and compared with it on every event it explains. Not an
"explain build" of the module (option a), because:

- The module that services vendor stays exactly the module that is tested:
  there is no second code generator mode whose output could drift from the
  one in production, and `handle` pays nothing, not even a flag test.
- The evaluator shares everything with the compiled module except the walk
  over statements, which is the small part (rule choice, if/switch arms,
  `on failure`, `end`). Every expression, template and action dict is the
  code the generator writes for the module (CodeGenerator.expr/action/
  set_value), evaluated in the module's own namespace with its own runtime
  (_resolve, _update, _do, _set, _convert, the segments). Operand values are
  the same generated code run on each operand; expressions are pure, so
  evaluating an operand again gives the value the module saw.
- It is checked, not trusted: explain_event() runs the compiled `handle`
  first (its result is the one reported), records what `effects` answered,
  replays those answers to the evaluator, and raises Disagreement unless the
  evaluator produced the same actions, failures, event and visitor, in the
  same order. `ppdsl test` explains every event it runs, so the whole test
  suite of a project checks the evaluator against its compiled module, and
  tests/authoring/test_explain.py does it for every example.
- The branches it reports are the line map's: (line, column, kind) of the
  rule, arm, case or action as `_LINE_MAP` records them (ppdsl.codegen.linemap),
  which `ppdsl test --coverage` counts and `ppdsl graph --coverage` colours.
"""

from __future__ import annotations

import functools
import json
import types
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional
from collections.abc import Callable, Iterable

from ..codegen.python import CodeGenerator
from ..engine.one_event import EventResult, failing
from ..lang import ir
from ..lang.printable import printable
from ..runtime.common import _iso, _jsonable
from ..runtime.values import _fmt
from . import unparse
from .graph import TEXT_LIMIT, _short

Branch = tuple[int, int, str, str]
"""(line, column, kind, outcome) of a line-map origin: kind is rule, if, elif,
else, case, default or action; outcome is "taken" for rules and arms, and
"success" or "failed" for actions."""

GraphKey = tuple[int, int, str]
"""(line, column, outcome) as ppdsl.authoring.graph keys its edges: rule,
true/false for conditions and cases, success/failed for actions."""

VALUE_LIMIT = 80  # characters of a value shown in the text trace


class Disagreement(Exception):
    """The evaluator and the compiled module did different things with one
    event: a bug in ppdsl, never in the user's flow."""


# --------------------------------------------------------------- what an explanation holds


@dataclass
class Operand:
    """An expression and its value; `operands` are the parts that decided it:
    the operands of and/or/not, the sides of a comparison, the arguments of a
    call that aren't literals, the expression of a segment. A part that
    and/or never evaluated has `evaluated` False and no value. `kind` is and,
    or, not, compare, call, segment or value."""

    expr: str
    value: Any = None
    evaluated: bool = True
    kind: str = "value"
    operands: list[Operand] = field(default_factory=list)
    ops: list[str] = field(default_factory=list)  # a comparison's operators, to show "(9 > 8)"


@dataclass
class Step:
    """One statement that ran. kind: if, elif, else, switch, case, default,
    let, action or end. `result` is a condition's or case's truth; `value` is
    a condition's, let's or switch subject's value."""

    kind: str
    line: int
    col: int
    text: str
    result: Optional[bool] = None
    value: Any = None
    has_value: bool = False
    condition: Optional[Operand] = None  # an if's or elif's, with its parts
    action: Optional[dict[str, Any]] = None
    outcome: Optional[str] = None  # an action's: success or failed


@dataclass
class Ending:
    """How a flow ended. reason: inactive, no rule, end, failed (an action
    failed with no `on failure`) or completed (its rule's statement ran to
    its end); `action` is the last action that ran, or the one that failed."""

    reason: str
    line: Optional[int] = None
    action: Optional[dict[str, Any]] = None


@dataclass
class FlowTrace:
    name: str
    line: int
    priority: int
    inactive: bool
    order: Optional[int]  # 1 for the first flow to run; None when inactive
    event: str = ""  # the event's name (or number), as rules name it
    rule: Optional[tuple[int, int, str]] = None  # line, column, trigger text
    steps: list[Step] = field(default_factory=list)
    ending: Ending = field(default_factory=lambda: Ending("completed"))


@dataclass
class Explained:
    """One event, run by the compiled module and explained by the evaluator.
    `result` is the compiled module's; `rejected` its message when it refused
    the event (then nothing ran and `flows` is empty)."""

    result: Optional[EventResult]
    rejected: Optional[str]
    flows: list[FlowTrace]
    branches: list[Branch]  # in the order they were taken, repeats kept
    graph_keys: set[GraphKey]


# --------------------------------------------------------------- the evaluator


class _Stop(Exception):
    def __init__(self, ending: Ending):
        self.ending = ending


class Explainer:
    """Explains events for one checked program and the module compiled from it."""

    def __init__(self, checked: ir.CheckedProgram, module: types.ModuleType | Any):
        self.checked = checked
        self.module = module
        program = checked.program
        self.gen = CodeGenerator(program, program.filename)
        self.ns: dict[str, Any] = dict(vars(module))  # the module's runtime; generated constants go on top
        self.codes: dict[tuple[int, str], types.CodeType] = {}
        self.segments = {s.name: s for s in program.segments}
        self.active = checked.active_flows
        self.inactive = [f for f in program.flows if f.inactive]
        self.names = {e.seq: e.name for e in program.events}
        flows = getattr(module, "_FLOWS", None)
        if flows is None or len(flows) != len(self.active):
            raise Disagreement("the module was not compiled from this program: its flows differ")

    @classmethod
    def for_file(cls, path: str, module: Any) -> Explainer:
        """For a .ppflow file and the module loaded from it (CompileError when it has errors)."""
        from ..build.loader import read_source
        from ..build.pipeline import compile_source
        from ..lang.diagnostics import CompileError

        source = read_source(path)
        result = compile_source(source, path, emit=False)
        if result.checked is None:
            raise CompileError(path, source, result.diagnostics)
        return cls(result.checked, module)

    # --- one event

    def explain(
        self,
        payload: Any,
        visitor: Optional[dict[str, Any]] = None,
        *,
        at: object = None,
        fail: Iterable[str] = (),
    ) -> Explained:
        """Run the event through the compiled `handle` (whose result counts),
        then through the evaluator, and compare them. `at` None is now, fixed
        once for both runs. Raises Disagreement when they differ."""
        if at is None:
            at = datetime.now(timezone.utc)
        base = failing(frozenset(fail))
        calls: list[tuple[dict[str, Any], Any]] = []

        def recording(action: dict[str, Any]) -> object:
            copy = dict(action)
            try:
                answer = base(action) if base is not None else None
            except Exception as exc:
                calls.append((copy, exc))
                raise
            calls.append((copy, answer))
            return answer

        try:
            data = self.module.handle(payload, visitor, recording, at=at)
        except ValueError as exc:
            return Explained(None, str(exc), [], [], set())
        replayed = iter(calls)
        wrong: list[str] = []

        def replay(action: dict[str, Any]) -> object:
            expected, answer = next(replayed, (None, None))
            if expected != action:
                wrong.append(f"the evaluator ran {action!r} where the module ran {expected!r}")
                return False
            if isinstance(answer, Exception):
                raise answer
            return answer

        run = _Run(self, replay)
        mine = run.event(payload, visitor, at)
        if wrong or next(replayed, None) is not None or not _same(mine, data):
            detail = wrong[0] if wrong else "their results differ"
            raise Disagreement(f"explain and the compiled module disagree on this event: {detail}")
        return Explained(EventResult(data), None, run.flows, run.branches, run.graph_keys)

    # --- generated code, evaluated in the module's namespace

    def code(self, node: object, what: str, make: Callable[[], str]) -> types.CodeType:
        key = (id(node), what)
        found = self.codes.get(key)
        if found is None:
            before = len(self.gen.constants)
            text = make()
            if len(self.gen.constants) > before:  # durations and regexes: names of our own
                for code, name in list(self.gen.constants.items())[before:]:
                    self.ns[name] = eval(code, self.ns)  # noqa: S307 - the generator's constant expressions
            found = self.codes[key] = compile(text, "<ppdsl explain>", "eval")
        return found

    def value(self, e: ir.Expr, scope: dict[str, Any]) -> Any:
        return eval(self.code(e, "expr", lambda: self.gen.expr(e)), self.ns, scope)  # noqa: S307


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a == b:
        return True
    try:  # NaN from a Python caller's visitor is never equal to itself
        return json.dumps(a, default=repr) == json.dumps(b, default=repr)
    except (TypeError, ValueError, RecursionError):
        return False


class _Run:
    """The evaluator's walk over one event: the flows in run order, each
    choosing its rule and running its statement as the generated function does."""

    def __init__(self, explainer: Explainer, effects: Callable[[dict[str, Any]], object]):
        self.x = explainer
        self.effects = effects
        self.flows: list[FlowTrace] = []
        self.branches: list[Branch] = []
        self.graph_keys: set[GraphKey] = set()
        # the flow being run
        self.trace = FlowTrace("", 0, 0, False, None)
        self.R: Any = None
        self.last_action: Optional[dict[str, Any]] = None

    def event(self, payload: Any, visitor: Optional[dict[str, Any]], at: object) -> dict[str, Any]:
        ns = self.x.ns
        ev = ns["_resolve"](payload, at)
        V = {} if visitor is None else dict(visitor)
        ns["_update"](V, ev)
        R = ns["_Run"](self.effects)
        event = self.x.names.get(ev.seq) or f"event {ev.seq}"
        for order, flow in enumerate(self.x.active, 1):
            trace = FlowTrace(flow.name, flow.span.line, flow.priority, False, order, event)
            self.flows.append(trace)
            self.flow(flow, trace, R, V, ev)
        for flow in self.x.inactive:
            self.flows.append(
                FlowTrace(flow.name, flow.span.line, flow.priority, True, None, event, ending=Ending("inactive"))
            )
        return {
            "event": {"seq": ev.seq, "name": ev.name, "uuid": ev.uuid, "count": ev.count, "time": ev.time_text},
            "actions": R.actions,
            "failed": R.failed,
            "visitor": V,
        }

    def flow(self, flow: ir.Flow, trace: FlowTrace, R: Any, V: dict[str, Any], E: Any) -> None:
        rule = next((r for r in flow.rules if E.seq in r.seqs), None)
        if rule is None:
            trace.ending = Ending("no rule")
            return
        trace.rule = (rule.span.line, rule.span.col, trigger_text(rule, self.x.names))
        self.take(rule.span, "rule")
        self.graph_keys.add((rule.span.line, rule.span.col, "rule"))
        self.x.gen.flow = flow
        self.trace, self.R, self.last_action = trace, R, None
        try:
            self.stmt(rule.body, {"V": V, "E": E})
        except _Stop as stop:
            trace.ending = stop.ending
            return
        last = trace.steps[-1].line if trace.steps else rule.span.line
        trace.ending = Ending("completed", last, self.last_action)

    def take(self, span: Any, kind: str, outcome: str = "taken") -> None:
        self.branches.append((span.line, span.col, kind, outcome))

    def step(self, kind: str, at: Any, text: str, **more: Any) -> Step:
        s = Step(kind, at.span.line, at.span.col, text, **more)
        self.trace.steps.append(s)
        return s

    # --- statements, as CodeGenerator.s_* write them

    def stmt(self, s: ir.Stmt, scope: dict[str, Any]) -> None:
        if isinstance(s, ir.Block):
            for x in s.stmts:
                self.stmt(x, scope)
        elif isinstance(s, ir.Let):
            value = self.x.value(s.value, scope)
            scope[f"_l{s.slot}"] = value
            self.step("let", s, f"let {s.name} = {unparse.expr(s.value)}", value=value, has_value=True)
        elif isinstance(s, ir.End):
            self.step("end", s, "end")
            raise _Stop(Ending("end", s.span.line, self.last_action))
        elif isinstance(s, ir.If):
            self.if_(s, scope)
        elif isinstance(s, ir.Switch):
            self.switch(s, scope)
        else:
            assert isinstance(s, ir.ActionStmt), type(s).__name__
            self.action(s, scope)

    def if_(self, s: ir.If, scope: dict[str, Any]) -> None:
        for i, (cond, body) in enumerate(s.branches):
            kind = "elif" if i else "if"
            top = self.operand(cond, scope)
            held = bool(top.value)
            self.step(kind, cond, f"{kind} {top.expr}", result=held, value=top.value, has_value=True, condition=top)
            self.graph_keys.add((cond.span.line, cond.span.col, "true" if held else "false"))
            if held:
                self.take(cond.span, kind)
                self.stmt(body, scope)
                return
        if s.orelse is not None:
            self.step("else", s.orelse, "else")
            self.take(s.orelse.span, "else")
            self.stmt(s.orelse, scope)

    def switch(self, s: ir.Switch, scope: dict[str, Any]) -> None:
        subject = self.x.value(s.subject, scope)
        self.step("switch", s, f"switch {unparse.expr(s.subject)}", value=subject, has_value=True)
        inner = {**scope, "_subject": subject}
        for case in s.cases:
            code = self.x.code(case, "case", functools.partial(self.case_test, case))
            held = bool(eval(code, self.x.ns, inner))  # noqa: S307
            text = "case " + ", ".join(unparse.literal(v) for v in case.values)
            self.step("case", case, text, result=held)
            self.graph_keys.add((case.span.line, case.span.col, "true" if held else "false"))
            if held:
                self.take(case.span, "case")
                self.stmt(case.body, scope)
                return
        if s.default is not None:
            self.step("default", s.default, "default")
            self.take(s.default.span, "default")
            self.stmt(s.default, scope)

    def case_test(self, case: ir.Case) -> str:
        """A case's test, as CodeGenerator.s_Switch writes it, on `_subject`."""
        return " or ".join(self.x.gen.equals("_subject", ir.Ty("any"), v) for v in case.values)

    def action(self, s: ir.ActionStmt, scope: dict[str, Any]) -> None:
        a, ns, gen, R = s.action, self.x.ns, self.x.gen, self.R
        assert gen.flow is not None
        name = gen.flow.name
        if isinstance(a, (ir.SetField, ir.Convert)):  # never fail: `on failure` never runs
            if isinstance(a, ir.SetField):
                value = eval(self.x.code(a, "set", lambda: gen.set_value(a)), ns, scope)  # noqa: S307
                ns["_set"](R, scope["V"], name, s.span.line, a.field, value)
            else:
                ns["_convert"](R, scope["V"], name, s.span.line, a.value)
            done = R.actions[-1]
            self.step("action", s, action_text(a), action=done, outcome="success")
            self.last_action = done
            return
        action = eval(self.x.code(a, "action", lambda: gen.action(a)), ns, scope)  # noqa: S307
        ok = ns["_do"](R, action)
        outcome = "success" if ok else "failed"
        self.step("action", s, action_text(a), action=action, outcome=outcome)
        self.take(s.span, "action", outcome)
        self.graph_keys.add((a.span.line, a.span.col, outcome))
        self.last_action = action
        if not ok:
            if s.on_failure is None:
                raise _Stop(Ending("failed", s.span.line, action))
            self.stmt(s.on_failure, scope)

    # --- conditions and their operands

    def operand(self, e: ir.Expr, scope: dict[str, Any]) -> Operand:
        node = Operand(unparse.expr(e), self.x.value(e, scope))
        if isinstance(e, ir.BoolOp):
            node.kind = e.op
            decided = False
            for x in e.operands:
                if decided:
                    node.operands.append(Operand(unparse.expr(x), evaluated=False))
                    continue
                part = self.operand(x, scope)
                node.operands.append(part)
                decided = not part.value if e.op == "and" else bool(part.value)
        elif isinstance(e, ir.Unary) and e.op == "not":
            node.kind = "not"
            node.operands.append(self.operand(e.operand, scope))
        elif isinstance(e, ir.Compare):
            node.kind, node.ops = "compare", list(e.ops)
            node.operands = [self.leaf(x, scope) for x in e.operands]
        elif isinstance(e, ir.Call) and e.seq is None:
            node.kind = "call"
            node.operands = [self.leaf(x, scope) for x in e.args if not isinstance(x, ir.Lit)]
        elif isinstance(e, ir.Var) and isinstance(e.binding, ir.SegmentBinding):
            # a segment is evaluated where it is used, on the visitor and the event alone
            node.kind = "segment"
            segment = self.x.segments[e.binding.name]
            node.operands.append(self.operand(segment.expr, {"V": scope["V"], "E": scope["E"]}))
        return node

    def leaf(self, e: ir.Expr, scope: dict[str, Any]) -> Operand:
        return Operand(unparse.expr(e), self.x.value(e, scope))


def trigger_text(rule: ir.Rule, names: dict[int, str]) -> str:
    if rule.events is None:
        return "on any event"
    return "on event " + ", ".join(ref.name or str(ref.seq) for ref in rule.events)


def action_text(a: ir.Action) -> str:
    if isinstance(a, ir.Reply):
        return f"reply {a.agent}"
    if isinstance(a, ir.Assign):
        return f"assign {'group ' if a.group else ''}{a.target or 'any'}"
    if isinstance(a, ir.SetField):
        return f"set {a.field} = {unparse.expr(a.value)}"
    if isinstance(a, ir.Convert):
        return f"convert {unparse.string(a.value)}"
    return f"ticket {unparse.string(_short(unparse.template_text(a.text), TEXT_LIMIT))}"  # as graph labels it


def explain_event(
    rules: Any,
    checked: ir.CheckedProgram,
    payload: Any,
    visitor: Optional[dict[str, Any]] = None,
    *,
    at: object = None,
    fail: Iterable[str] = (),
) -> Explained:
    """One event through a compiled module and the evaluator (see Explainer.explain)."""
    return Explainer(checked, rules).explain(payload, visitor, at=at, fail=fail)


# --------------------------------------------------------------- output


def show(value: Any, limit: int = VALUE_LIMIT) -> str:
    """A value as the trace prints it: JSON's spelling (true, null, "text"),
    times in ISO-8601, durations in seconds (600s), cut to about `limit`."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif value is None or isinstance(value, (bool, int, float, timedelta)):
        text = _fmt(value) if value is not None else "null"
    elif isinstance(value, datetime):
        text = _iso(value)
    else:
        text = _fmt(value) or type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def to_json(flows: list[FlowTrace]) -> list[dict[str, Any]]:
    """The explanation as JSON values: one object per flow (see README, `run --explain`)."""
    return [_flow_json(t) for t in flows]


def _flow_json(t: FlowTrace) -> dict[str, Any]:
    rule = None
    if t.rule is not None:
        rule = {"line": t.rule[0], "column": t.rule[1], "trigger": t.rule[2]}
    ending: dict[str, Any] = {"reason": t.ending.reason, "line": t.ending.line}
    if t.ending.action is not None:
        ending["action"] = t.ending.action
    return {
        "flow": t.name,
        "line": t.line,
        "priority": t.priority,
        "inactive": t.inactive,
        "order": t.order,
        "event": t.event,
        "rule": rule,
        "steps": [_step_json(s) for s in t.steps],
        "end": ending,
    }


def _step_json(s: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"step": s.kind, "line": s.line, "column": s.col, "text": s.text}
    if s.kind in ("if", "elif", "case"):
        out["result"] = s.result
    if s.has_value:
        out["value"] = _jsonable(s.value)
    if s.condition is not None:
        out["condition"] = _operand_json(s.condition)
    if s.action is not None:
        out["action"] = s.action
        out["outcome"] = s.outcome
    return out


def _operand_json(o: Operand) -> dict[str, Any]:
    if not o.evaluated:
        return {"expr": o.expr, "evaluated": False}
    out: dict[str, Any] = {"expr": o.expr, "value": _jsonable(o.value), "kind": o.kind}
    if o.ops:
        out["ops"] = o.ops
    if o.operands:
        out["operands"] = [_operand_json(x) for x in o.operands]
    return out


_ORDINAL = {1: "st", 2: "nd", 3: "rd"}


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else _ORDINAL.get(n % 10, 'th')}"


def to_text(flows: list[FlowTrace], indent: str = "  ") -> str:
    """The readable trace: a paragraph per flow, each statement that ran on
    its own line with its .ppflow line, and the parts of each condition
    indented under it. Every line starts with `indent`."""
    out: list[str] = []
    for t in flows:
        head = f"flow {t.name} (line {t.line}" + (f", priority {t.priority}" if t.priority else "")
        if t.inactive or t.order is None:
            out.append(f"{head}): inactive, never runs")
            continue
        out.append(f"{head}), {ordinal(t.order)} to run:")
        if t.rule is None:
            out.append(f"  no rule names {t.event}: the flow does nothing")
            continue
        out.append(f"  line {t.rule[0]}: rule `{t.rule[2]}` takes {t.event}")
        for s in t.steps:
            out += _step_text(s)
        out.append("  " + _ending_text(t.ending))
    return printable("\n".join(indent + line for line in out), keep="\n") + "\n"


def _step_text(s: Step) -> list[str]:
    where = f"  line {s.line}: {s.text}"
    if s.kind in ("if", "elif"):
        assert s.condition is not None
        top = s.condition
        value = "" if isinstance(top.value, bool) else f" (the value is {show(top.value)})"  # and/or give an operand
        return [f"{where}: {_truth(s.result)}{value}{_detail(top)}"] + _parts_text(top, "      ")
    if s.kind == "case":
        return [f"{where}: {_truth(s.result)}"]
    if s.kind in ("let", "switch"):
        return [f"{where}: {show(s.value)}"]
    if s.kind == "action":
        assert s.action is not None
        if s.action.get("type") == "set":
            return [f"{where}: {show(s.action.get('value'))}"]
        if s.action.get("type") == "convert":
            return [where]
        error = f" ({s.action['error']})" if "error" in s.action else ""
        return [f"{where}: {'succeeded' if s.outcome == 'success' else 'failed'}{error}"]
    return [where]  # else, default, end


def _truth(result: Optional[bool]) -> str:
    return "true" if result else "false"


def _detail(o: Operand) -> str:
    """The values a comparison compared, `(9 > 8)`, or a call's arguments, `(url = "...")`."""
    if o.kind == "compare":
        parts = [show(o.operands[0].value)]
        for op, x in zip(o.ops, o.operands[1:], strict=False):
            parts += [op, show(x.value)]
        return " (" + " ".join(parts) + ")"
    if o.kind == "call" and o.operands:
        return " (" + ", ".join(f"{x.expr} = {show(x.value)}" for x in o.operands) + ")"
    return ""


def _parts_text(o: Operand, pad: str) -> list[str]:
    """The parts of and, or, not and segments, one a line, nested."""
    if o.kind not in ("and", "or", "not", "segment"):
        return []
    lines = []
    for x in o.operands:
        if not x.evaluated:
            lines.append(f"{pad}{x.expr}: not evaluated")
            continue
        lines.append(f"{pad}{x.expr}: {show(x.value)}{_detail(x)}")
        lines += _parts_text(x, pad + "  ")
    return lines


def _ending_text(e: Ending) -> str:
    if e.reason == "end":
        return f"ended at line {e.line}: end"
    if e.reason == "failed":
        return f"ended at line {e.line}: the action failed, and it has no `on failure`"
    return f"ended after line {e.line}: the rule's statement completed"
