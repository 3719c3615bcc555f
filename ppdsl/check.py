"""Semantic checks: name resolution, the strictness rule, limits and static
types. Every problem is collected; nothing is raised. The checker also fills
in the IR's resolution fields (`ty`, `binding`, `seq`, ...) for the emitter."""

from __future__ import annotations

import difflib
import re
from typing import Optional
from collections.abc import Iterable

from . import ir
from .diagnostics import Diagnostic, make
from .ir import Ty
from .names import (EVENT_VARS, EXTRA_RE, FIELD_TYPES, FUNCTIONS, STAT_FUNCTIONS, STAT_RE, STAT_TYPES,
                    SYSTEM_VARS)

MAX_DEPTH = 100  # expression and statement nesting; keeps the generated Python compilable
ORDERED = {"int": "number", "float": "number", "str": "string", "datetime": "datetime", "duration": "duration"}
UNKNOWN = ("json", "any", "null")
BOOL = Ty("bool", True)


def check(program: ir.Program) -> list[Diagnostic]:
    return Checker(program).run()


def _suggest(name: str, candidates: Iterable[str], cutoff: float = 0.7) -> Optional[str]:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=cutoff)
    return f"did you mean '{close[0]}'?" if close else None


def _listing(what: str, names: list[str]) -> Optional[str]:
    if not names:
        return None
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f"declared {what} are: {shown}"


class Scope:
    """`let` bindings visible in the rest of a block."""

    def __init__(self, parent: Optional[Scope] = None):
        self.parent = parent
        self.names: dict[str, tuple[int, Ty]] = {}

    def lookup(self, name: str) -> Optional[tuple[int, Ty]]:
        scope: Optional[Scope] = self
        while scope:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None

    def visible(self) -> list[str]:
        out: list[str] = []
        scope: Optional[Scope] = self
        while scope:
            out += scope.names
            scope = scope.parent
        return out


class Checker:
    def __init__(self, program: ir.Program, event_vars: Optional[dict[str, Ty]] = None,
                 trust_numbers: bool = False):
        """`event_vars` narrows the current-event names (a standalone condition
        has only `now`); `trust_numbers` types visitor numbers as `sure`, for
        the guarded fast path of ppdsl.condition."""
        self.p = program
        self.event_vars = EVENT_VARS if event_vars is None else event_vars
        self.trust_numbers = trust_numbers
        self.diags: list[Diagnostic] = []
        self.events_by_name = {e.name: e for e in program.events}
        self.events_by_seq = {e.seq: e for e in program.events}
        self.agents = {a.name for a in program.agents}
        self.groups = {g.name for g in program.groups}
        self.fields = {f.name: f for f in program.fields}
        self.segments = {s.name: s for s in program.segments}
        self.used: set[tuple[str, str]] = set()
        self.segment_types: dict[str, Optional[Ty]] = {}
        self.segment_stack: list[str] = []
        self.rule_seqs: set[int] = set()  # the events that trigger the rule being checked
        self.next_slot = 0

    def error(self, code: str, loc: ir.Loc, help: Optional[str] = None, **args: object) -> None:
        self.diags.append(make(code, loc.line, loc.col, loc.length, help=help, **args))

    def run(self) -> list[Diagnostic]:
        self.check_events()
        self.check_named()
        for seg in self.p.segments:
            self.segment_type(seg.name)
        self.check_flows()
        self.check_unused()
        return sorted(self.diags, key=lambda d: (d.line, d.col))

    # ------------------------------------------------------------ declarations

    def check_events(self) -> None:
        seen_seq: dict[int, ir.EventDecl] = {}
        seen_name: set[str] = set()
        seen_uuid: set[str] = set()
        for i, ev in enumerate(self.p.events):
            if i == 8:
                self.error("E110", ev.loc, count=len(self.p.events),
                           help="PPMessage tracks at most 8 events per website; remove or merge some")
            if not 1 <= ev.seq <= 8:
                self.error("E109", ev.seq_loc, seq=ev.seq)
            elif ev.seq in seen_seq:
                self.error("E107", ev.seq_loc, seq=ev.seq, help=f"event {ev.seq} is already '{seen_seq[ev.seq].name}'")
            seen_seq.setdefault(ev.seq, ev)
            if ev.name in seen_name:
                self.error("E106", ev.name_loc, kind="event", name=ev.name)
            seen_name.add(ev.name)
            if len(ev.name) > 64:
                self.error("E111", ev.name_loc, kind="event", name=ev.name[:20] + "...", size=len(ev.name), limit=64)
            if ev.uuid is not None and ev.uuid_loc is not None:
                if not ev.uuid:
                    self.error("E113", ev.uuid_loc, help="leave out `uuid \"\"`, or give the uuid from PPMessage")
                elif ev.uuid in seen_uuid:
                    self.error("E108", ev.uuid_loc, uuid=repr(ev.uuid)[:60])
                seen_uuid.add(ev.uuid)
            if ev.description is not None and ev.description_loc and len(ev.description) > 128:
                self.error("E112", ev.description_loc, size=len(ev.description))

    def check_named(self) -> None:
        for kind, decls in (("agent", self.p.agents), ("group", self.p.groups),
                            ("field", self.p.fields), ("segment", self.p.segments)):
            seen: set[str] = set()
            for d in decls:
                if d.name in seen:
                    self.error("E106", d.name_loc, kind=kind, name=d.name)
                seen.add(d.name)
        for f in self.p.fields:
            if f.display not in FIELD_TYPES:
                self.error("E114", f.type_loc or f.loc, name=f.display,
                           help=_suggest(f.display or "", FIELD_TYPES) or "field types are: " + ", ".join(FIELD_TYPES))
            self.check_new_value_name(f.name, f.name_loc, "field")
        for s in self.p.segments:
            if s.name in self.fields:
                self.error("E116", s.name_loc, name=s.name, what="a field", kind="segment",
                           help="rename the segment")
            self.check_new_value_name(s.name, s.name_loc, "segment")

    def builtin_kind(self, name: str) -> Optional[str]:
        if name in SYSTEM_VARS:
            return "a PPMessage system variable"
        if name in EVENT_VARS:
            return "a current-event variable"
        if STAT_RE.match(name):
            return "an event statistic"
        if EXTRA_RE.match(name):
            return "a PPMessage custom field"
        return None

    def check_new_value_name(self, name: str, loc: ir.Loc, what: str) -> None:
        kind = self.builtin_kind(name)
        if kind:
            self.error("E116", loc, name=name, what=kind, kind=what, help=f"choose another name for the {what}")

    # ------------------------------------------------------------ flows and rules

    def check_flows(self) -> None:
        seen: dict[str, ir.Flow] = {}
        implicit = any(f.implicit for f in self.p.flows)
        for flow in self.p.flows:
            if not flow.implicit:
                if flow.name == "main" and implicit:
                    self.error("E115", flow.name_loc, help="rename this flow, or move the loose rules into it")
                elif flow.name in seen:
                    self.error("E106", flow.name_loc, kind="flow", name=flow.name)
                if len(flow.name) > 32:
                    self.error("E111", flow.name_loc, kind="flow", name=flow.name[:20] + "...",
                               size=len(flow.name), limit=32)
            seen.setdefault(flow.name, flow)
            self.check_rules(flow)

    def all_seqs(self) -> set[int]:
        return set(self.events_by_seq) if self.p.events else set(range(1, 9))

    def check_rules(self, flow: ir.Flow) -> None:
        taken: set[int] = set()
        everything = self.all_seqs()
        self.next_slot = 0
        for rule in flow.rules:
            if rule.events is None:
                seqs = sorted(everything)
            else:
                seqs = []
                for ref in rule.events:
                    seq = self.resolve_event(ref.seq, ref.name, ref.loc)
                    ref.resolved = seq
                    if seq is not None and seq not in seqs:
                        seqs.append(seq)
            rule.seqs = [s for s in seqs if s not in taken]
            resolved_all = rule.events is None or all(r.resolved is not None for r in rule.events)
            if resolved_all and not rule.seqs:
                detail = ("every event it names is taken by an earlier rule of flow "
                          f"'{flow.name}'") if seqs else "it names no event"
                self.diags.append(make("W201", rule.loc.line, rule.loc.col, 2, detail=detail,
                                       help="remove it, or move it above the rule that takes its events"))
            taken.update(seqs)
            self.rule_seqs = set(rule.seqs)
            self.stmt(rule.body, Scope(), 1)
        self.rule_seqs = set()

    def resolve_event(self, seq: Optional[int], name: Optional[str], loc: ir.Loc) -> Optional[int]:
        if name is None:
            assert seq is not None
            if self.p.events:
                if seq in self.events_by_seq:
                    return seq
                listing = ", ".join(f"{e.seq} {e.name}" for e in self.p.events)
                self.error("E103", loc, name=str(seq), help=f"declared events are: {listing}")
                return None
            if 1 <= seq <= 8:
                return seq
            self.error("E109", loc, seq=seq)
            return None
        if name in self.events_by_name:
            return self.events_by_name[name].seq
        if self.p.filename == "<condition>":
            help = f"pass the event's number to compile_condition: events={{'{name}': N}}"
        elif self.p.events:
            help = _suggest(name, self.events_by_name) or _listing("events", list(self.events_by_name))
        else:
            help = f"this file declares no events, so events are numbered 1 to 8; or declare one: event 1 {name}"
        self.error("E103", loc, name=name, help=help)
        return None

    # ------------------------------------------------------------ statements

    def stmt(self, s: ir.Stmt, scope: Scope, depth: int) -> None:
        if depth > MAX_DEPTH // 2:
            self.error("E005", s.loc, limit=MAX_DEPTH // 2, help="flatten the statements with elif or end")
            return
        if isinstance(s, ir.If):
            for cond, body in s.branches:
                self.expr(cond, scope)
                self.stmt(body, Scope(scope), depth + 1)
            if s.orelse:
                self.stmt(s.orelse, Scope(scope), depth + 1)
        elif isinstance(s, ir.Switch):
            subject = self.expr(s.subject, scope)
            seen: set[tuple] = set()
            for case in s.cases:
                for lit in case.values:
                    self.expr(lit, scope)
                    key = ("num" if lit.kind in ("int", "float") else lit.kind, lit.value)
                    if key in seen:
                        self.error("E122", lit.loc, value=self.show(lit))
                    seen.add(key)
                    self.warn_never_equal(subject, lit.ty, lit.loc, "==")
                self.stmt(case.body, Scope(scope), depth + 1)
            if s.default:
                self.stmt(s.default, Scope(scope), depth + 1)
        elif isinstance(s, ir.Block):
            inner = Scope(scope)
            for x in s.stmts:
                self.stmt(x, inner, depth + 1)
        elif isinstance(s, ir.Let):
            ty = self.expr(s.value, scope)
            clash = self.name_owner(s.name, scope)
            if clash:
                self.error("E116", s.name_loc, name=s.name, what=clash, kind="let",
                           help="choose another name for the let")
            self.next_slot += 1
            s.slot = self.next_slot
            scope.names[s.name] = (s.slot, ty)
        elif isinstance(s, ir.ActionStmt):
            self.action(s.action, scope)
            if s.on_failure:
                self.stmt(s.on_failure, Scope(scope), depth + 1)

    def name_owner(self, name: str, scope: Scope) -> Optional[str]:
        if scope.lookup(name):
            return "a let variable here"
        if name in self.fields:
            return "a field"
        if name in self.segments:
            return "a segment"
        return self.builtin_kind(name)

    def action(self, a: ir.Stmt, scope: Scope) -> None:
        if isinstance(a, ir.Reply):
            self.resolve_agent(a.agent, a.agent_loc)
            if a.text:
                self.template(a.text, scope)
        elif isinstance(a, ir.Assign):
            if a.target is None:
                return
            if a.group:
                self.used.add(("group", a.target))
                if self.groups and a.target not in self.groups:
                    self.error("E105", a.target_loc, name=a.target,
                               help=_suggest(a.target, self.groups) or _listing("groups", sorted(self.groups)))
            else:
                self.resolve_agent(a.target, a.target_loc)
        elif isinstance(a, ir.SetField):
            self.set_field(a, scope)
        elif isinstance(a, ir.Ticket):
            self.template(a.text, scope)

    def resolve_agent(self, name: str, loc: ir.Loc) -> None:
        self.used.add(("agent", name))
        if self.agents and name not in self.agents:
            help = _suggest(name, self.agents) or _listing("agents", sorted(self.agents))
            if name in self.groups:
                help = f"'{name}' is a group: write `assign group {name}`"
            self.error("E104", loc, name=name, help=help)

    def set_field(self, a: ir.SetField, scope: Scope) -> None:
        value = self.expr(a.value, scope)
        name = a.field
        target: Optional[str] = None
        if name in self.fields:
            self.used.add(("field", name))
            target = self.field_type(name)
        elif name in SYSTEM_VARS:
            target = SYSTEM_VARS[name].kind
        elif EXTRA_RE.match(name):
            target = "json"
        elif STAT_RE.match(name) or name in EVENT_VARS:
            self.error("E118", a.field_loc, name=name,
                       why="event statistics and the current event's variables are kept by PPMessage")
        elif scope.lookup(name):
            self.error("E118", a.field_loc, name=name, why="it is a let variable, bound once",
                       help=f"bind a new name with `let`, or declare a field: field {name} TYPE")
        elif name in self.segments:
            self.error("E118", a.field_loc, name=name, why="a segment is computed from its condition")
        else:
            self.error("E101", a.field_loc, name=name,
                       help=_suggest(name, list(self.fields) + list(SYSTEM_VARS))
                       or f"declare it first: field {name} string (or int, float, bool, datetime)")
        if target is None:
            return
        a.field_type = target
        if value.kind == "duration":
            self.error("E124", a.value.loc, detail="a duration can't be stored in a visitor field",
                       help="store a number of seconds instead")
        elif target not in UNKNOWN and value.kind not in UNKNOWN and value.kind != "any":
            ok = value.kind == target or (target == "float" and value.kind == "int")
            if not ok:
                wanted = _KIND_NAMES.get(target, target)
                self.error("E124", a.value.loc, detail=f"'{name}' holds {wanted} values, not {_kind(value)}",
                           help=f"convert it, e.g. {target}(...)" if target in ("int", "float", "str") else None)

    def template(self, t: ir.Template, scope: Scope) -> None:
        for part in t.parts:
            if isinstance(part, ir.Expr):
                self.expr(part, scope)

    # ------------------------------------------------------------ expressions

    def expr(self, e: ir.Expr, scope: Scope, depth: int = 0) -> Ty:
        if depth > MAX_DEPTH:
            if not self.diags or self.diags[-1].code != "E005":  # once per expression
                self.error("E005", e.loc, limit=MAX_DEPTH, help="split the expression with `let` or a segment")
            return Ty("any")
        ty = self.infer(e, scope, depth + 1)
        e.ty = ty
        return ty

    def infer(self, e: ir.Expr, scope: Scope, depth: int) -> Ty:
        if isinstance(e, ir.Lit):
            return Ty("null") if e.kind == "null" else Ty(e.kind, True)
        if isinstance(e, ir.ListExpr):
            for item in e.items:
                self.expr(item, scope, depth)
            return Ty("list", True)
        if isinstance(e, ir.Var):
            return self.var(e, scope)
        if isinstance(e, ir.Call):
            return self.call(e, scope, depth)
        if isinstance(e, (ir.Member, ir.Index)):
            obj = self.expr(e.obj, scope, depth)
            if isinstance(e, ir.Index):
                self.expr(e.index, scope, depth)
            allowed = ("json", "any", "list", "str") if isinstance(e, ir.Index) else ("json", "any")
            if obj.kind not in allowed and obj.kind != "null":
                what = f"'.{e.name}'" if isinstance(e, ir.Member) else "'[...]'"
                self.error("E124", e.loc, detail=f"{what} needs a JSON value such as data, not {_kind(obj)}")
            return Ty("json")
        if isinstance(e, ir.Unary):
            operand = self.expr(e.operand, scope, depth)
            if e.op == "not":
                return BOOL
            if operand.kind not in ("int", "float", "duration") + UNKNOWN:
                self.error("E124", e.loc, detail=f"can't negate a {_kind(operand)}")
                return Ty("any")
            return Ty(operand.kind if operand.kind in ("int", "float", "duration") else "any",
                      operand.sure and operand.kind == "int")
        if isinstance(e, ir.BinOp):
            return self.binop(e, self.expr(e.left, scope, depth), self.expr(e.right, scope, depth))
        if isinstance(e, ir.BoolOp):
            tys = [self.expr(x, scope, depth) for x in e.operands]
            kinds = {t.kind for t in tys}
            return Ty(kinds.pop(), all(t.sure for t in tys)) if len(kinds) == 1 else Ty("any")
        if isinstance(e, ir.Compare):
            tys = [self.expr(x, scope, depth) for x in e.operands]
            for i, op in enumerate(e.ops):
                self.compare(op, tys[i], tys[i + 1], e)
            return BOOL
        raise AssertionError(f"unknown expression {e!r}")

    def var(self, e: ir.Var, scope: Scope) -> Ty:
        name = e.name
        let = scope.lookup(name)
        if let:
            e.binding = ("let", let[0])
            return let[1]
        if name in self.event_vars:
            e.binding = ("event", name)
            return self.event_vars[name]
        m = STAT_RE.match(name)
        if m:
            digits = m.group(2)
            seq = self.resolve_event(int(digits) if len(digits) < 4 else 0, None, e.loc)
            e.binding = ("stat", m.group(1), seq or 0)
            if m.group(1) == "last_time" and seq is not None:
                self.warn_own_last_time(name, seq, e.loc)
            return self.visitor_type(STAT_TYPES[m.group(1)])
        if name in self.fields:
            self.used.add(("field", name))
            e.binding = ("field", name, self.field_type(name))
            return self.visitor_type(Ty(e.binding[2]))
        if name in self.segments:
            self.used.add(("segment", name))
            e.binding = ("segment", name)
            return self.segment_type(name) or Ty("any")
        if name in SYSTEM_VARS:
            e.binding = ("system", name, SYSTEM_VARS[name].kind)
            return self.visitor_type(SYSTEM_VARS[name])
        if EXTRA_RE.match(name):
            e.binding = ("system", name, "json")
            return Ty("json")
        candidates = [*scope.visible(), *self.event_vars, *SYSTEM_VARS, *self.fields, *self.segments]
        help = _suggest(name, candidates)
        if help is None and name in self.events_by_name:
            help = f"'{name}' is an event; its statistics are count({name}), last_time({name}), ..."
        elif help is None and name in EVENT_VARS:
            help = "a condition over a visitor has no current event; only `now` is available"
        elif help is None and name in FUNCTIONS:
            help = f"'{name}' is a function: {name}(...)"
        elif help is None:
            help = f"declare it as a visitor field: field {name} string (or int, float, bool, datetime)"
        self.error("E101", e.loc, name=name, help=help)
        return Ty("any")

    def field_type(self, name: str) -> str:
        """The value kind of a declared field ("json" while its type is unknown)."""
        return FIELD_TYPES.get(self.fields[name].display or "", "json")

    def warn_own_last_time(self, what: str, seq: int, loc: ir.Loc) -> None:
        """`now - last_time(E) < 10m` in a rule for E alone is always true: a
        cooldown needs the previous time kept in a field."""
        if self.rule_seqs == {seq}:
            self.diags.append(make("W204", loc.line, loc.col, loc.length, what=what,
                                   help="for a cooldown keep your own time: field last_nudge datetime, "
                                        "then `set last_nudge = now` and test `now - last_nudge < 10m`"))

    def show_event(self, seq: int) -> str:
        decl = self.events_by_seq.get(seq)
        return decl.name if decl else str(seq)

    def visitor_type(self, ty: Ty) -> Ty:
        return Ty(ty.kind, True) if self.trust_numbers and ty.kind in ("int", "float") else ty

    def segment_type(self, name: str) -> Optional[Ty]:
        if name in self.segment_types:
            return self.segment_types[name]
        seg = self.segments[name]
        if name in self.segment_stack:
            path = " -> ".join(self.segment_stack[self.segment_stack.index(name):] + [name])
            self.error("E117", seg.name_loc, name=name, path=path,
                       help="segments may use other segments, but not in a cycle")
            self.segment_types[name] = None
            return None
        self.segment_stack.append(name)
        assert seg.expr is not None
        ty = self.expr(seg.expr, Scope())
        self.segment_stack.pop()
        if name not in self.segment_types:
            self.segment_types[name] = Ty(ty.kind)
        return self.segment_types[name]

    def call(self, e: ir.Call, scope: Scope, depth: int) -> Ty:
        name = e.func
        if name not in FUNCTIONS:
            help = _suggest(name, FUNCTIONS, cutoff=0.6) or "functions are: " + ", ".join(FUNCTIONS)
            self.error("E102", e.loc, name=name, help=help)
            for a in e.args:
                self.expr(a, scope, depth)
            return Ty("any")
        low, high = FUNCTIONS[name]
        if not low <= len(e.args) <= high:
            expected = f"{low} argument{'s' if low > 1 else ''}"
            self.error("E119", e.loc, func=name, expected=expected, got=len(e.args))
            if name not in STAT_FUNCTIONS:  # still resolve the names inside
                for a in e.args:
                    self.expr(a, scope, depth)
            return Ty("any")
        if name in STAT_FUNCTIONS:
            arg = e.args[0]
            if isinstance(arg, ir.Lit) and arg.kind == "int":
                e.seq = self.resolve_event(arg.value, None, arg.loc)
            elif isinstance(arg, ir.Var):
                e.seq = self.resolve_event(None, arg.name, arg.loc)
            else:
                self.error("E120", arg.loc, func=name, help=f"for example {name}(2) or {name}(signup)")
            if name == "last_time" and e.seq is not None:
                self.warn_own_last_time(f"{name}({self.show_event(e.seq)})", e.seq, e.loc)
            return self.visitor_type(STAT_TYPES[name])
        tys = [self.expr(a, scope, depth) for a in e.args]
        if name == "matches":
            pattern = e.args[1]
            if not (isinstance(pattern, ir.Lit) and pattern.kind == "str"):
                self.error("E121", pattern.loc, detail="needs a literal regular expression as its second argument",
                           help='write the pattern as a string, e.g. matches(page_url, "/pricing")')
            else:
                try:
                    re.compile(pattern.value)
                    e.regex = pattern.value
                except (re.error, OverflowError, RecursionError) as exc:
                    self.error("E121", pattern.loc, detail=f"has an invalid regular expression: {exc}")
            self.need(e.args[0], tys[0], ("str",), name)
            return BOOL
        if name in ("lower", "upper", "json", "startswith", "endswith"):
            for a, t in zip(e.args, tys):
                self.need(a, t, ("str",), name)
        elif name == "len":
            self.need(e.args[0], tys[0], ("str", "list"), name)
        elif name == "contains":
            self.need(e.args[0], tys[0], ("str", "list"), name)
        return {
            "len": Ty("int"), "lower": Ty("str"), "upper": Ty("str"), "json": Ty("json"),
            "int": Ty("int"), "float": Ty("float"), "str": Ty("str"),
        }.get(name, BOOL)

    def need(self, arg: ir.Expr, ty: Ty, kinds: tuple[str, ...], func: str) -> None:
        if ty.kind not in kinds + UNKNOWN:
            wanted = " or ".join(_KIND_NAMES.get(k, k) for k in kinds)
            self.error("E124", arg.loc, detail=f"{func}() takes {wanted}, not {_kind(ty)}")

    def binop(self, e: ir.BinOp, a: Ty, b: Ty) -> Ty:
        op = e.op
        for t, side in ((a, e.left), (b, e.right)):
            if t.kind in ("str", "bool", "list"):
                self.error("E124", side.loc, detail=f"arithmetic ('{op}') on a {_kind(t)}",
                           help="use a template to join text: \"{{ a }}{{ b }}\"" if t.kind == "str" else None)
                return Ty("any")
        if a.kind in UNKNOWN or b.kind in UNKNOWN:
            return Ty("any")
        result = _ARITH.get((op, a.kind, b.kind))
        if result is None:
            self.error("E124", e.loc, detail=f"'{op}' doesn't work on {_kind(a)} and {_kind(b)}")
            return Ty("any")
        # int + and - can't fail in Python; * could build numbers too long to print
        return Ty(result, result == "int" and op in "+-" and a.sure and b.sure)

    def compare(self, op: str, a: Ty, b: Ty, e: ir.Compare) -> None:
        if op in ("<", "<=", ">", ">="):
            if a.kind in UNKNOWN or b.kind in UNKNOWN:
                return
            if a.kind not in ORDERED or b.kind not in ORDERED or ORDERED[a.kind] != ORDERED[b.kind]:
                help = None
                if a.kind in ORDERED and b.kind == "str" or b.kind in ORDERED and a.kind == "str":
                    help = "write numbers without quotes: count(2) > 8"
                if {a.kind, b.kind} == {"datetime", "int"}:
                    help = "compare a time with a time, or a difference with a duration: now - last_time(2) < 10m"
                if {a.kind, b.kind} <= {"duration", "int", "float"}:
                    help = "write the number as a duration: 600s, 10m, 2h, 7d or 1w"
                self.error("E124", e.loc, detail=f"can't compare {_kind(a)} with {_kind(b)} using '{op}'", help=help)
        elif op in ("==", "!="):
            self.warn_never_equal(a, b, e.loc, op)
        else:  # in / not in
            if b.kind in UNKNOWN:
                return
            if b.kind not in ("str", "list"):
                self.error("E124", e.loc, detail=f"'{op}' needs a string or a list on its right, not {_kind(b)}")
            elif b.kind == "str" and a.kind not in ("str",) + UNKNOWN:
                self.error("E124", e.loc, detail=f"'{op}' on a string looks for a string, not {_kind(a)}")

    def warn_never_equal(self, a: Ty, b: Ty, loc: ir.Loc, op: str) -> None:
        if a.kind in UNKNOWN or b.kind in UNKNOWN:
            return
        if _EQ_CLASS.get(a.kind, a.kind) != _EQ_CLASS.get(b.kind, b.kind):
            self.diags.append(make("W203", loc.line, loc.col, loc.length, result="false" if op == "==" else "true",
                                   left=_kind(a), right=_kind(b)))

    @staticmethod
    def show(lit: ir.Lit) -> str:
        return repr(lit.value) if lit.kind == "str" else str(lit.value)

    # ------------------------------------------------------------ unused

    def check_unused(self) -> None:
        for kind, decls in (("agent", self.p.agents), ("group", self.p.groups),
                            ("field", self.p.fields), ("segment", self.p.segments)):
            for d in decls:
                if (kind, d.name) not in self.used:
                    self.diags.append(make("W202", d.name_loc.line, d.name_loc.col, d.name_loc.length,
                                           kind=kind, name=d.name))


_EQ_CLASS = {"int": "number", "float": "number"}
_KIND_NAMES = {"str": "string", "json": "JSON value", "any": "value"}


def _kind(ty: Ty) -> str:
    """A type as the language names it in messages."""
    return _KIND_NAMES.get(ty.kind, ty.kind)

_ARITH: dict[tuple[str, str, str], str] = {}
for _a in ("int", "float"):
    for _b in ("int", "float"):
        _num = "int" if _a == _b == "int" else "float"
        for _op in "+-*%":
            _ARITH[(_op, _a, _b)] = _num
        _ARITH[("/", _a, _b)] = "float"
    _ARITH[("*", "duration", _a)] = _ARITH[("*", _a, "duration")] = "duration"
    _ARITH[("/", "duration", _a)] = "duration"
_ARITH.update({
    ("+", "datetime", "duration"): "datetime", ("+", "duration", "datetime"): "datetime",
    ("-", "datetime", "duration"): "datetime", ("-", "datetime", "datetime"): "duration",
    ("+", "duration", "duration"): "duration", ("-", "duration", "duration"): "duration",
    ("/", "duration", "duration"): "float",
})
