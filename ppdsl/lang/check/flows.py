"""Flows, rules and statements: which events each rule takes (unreachable
rules), `let` scopes, actions and `set` targets."""

from __future__ import annotations

from typing import Optional

from .. import ir
from ..diagnostics import make
from ..names import EVENT_VARS, EXTRA_RE, STAT_RE, SYSTEM_VARS
from .base import MAX_DEPTH, Scope, listing, suggest
from .types import _KIND_NAMES, UNKNOWN, Types, _kind


class Flows(Types):
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
                    self.error(
                        "E111", flow.name_loc, kind="flow", name=flow.name[:20] + "...", size=len(flow.name), limit=32
                    )
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
                detail = (
                    (f"every event it names is taken by an earlier rule of flow '{flow.name}'")
                    if seqs
                    else "it names no event"
                )
                self.diags.append(
                    make(
                        "W201",
                        rule.loc.line,
                        rule.loc.col,
                        2,
                        detail=detail,
                        help="remove it, or move it above the rule that takes its events",
                    )
                )
            taken.update(seqs)
            self.rule_seqs = set(rule.seqs)
            self.stmt(rule.body, Scope(), 1)
        self.rule_seqs = set()

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
                self.error(
                    "E116", s.name_loc, name=s.name, what=clash, kind="let", help="choose another name for the let"
                )
            self.next_slot += 1
            s.slot = self.next_slot
            scope.names[s.name] = (s.slot, ty)
        elif isinstance(s, ir.ActionStmt):
            self.action(s.action, scope)
            if s.on_failure:
                self.stmt(s.on_failure, Scope(scope), depth + 1)

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
                    self.error(
                        "E105",
                        a.target_loc,
                        name=a.target,
                        help=suggest(a.target, self.groups) or listing("groups", sorted(self.groups)),
                    )
            else:
                self.resolve_agent(a.target, a.target_loc)
        elif isinstance(a, ir.SetField):
            self.set_field(a, scope)
        elif isinstance(a, ir.Ticket):
            self.template(a.text, scope)

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
            self.error(
                "E118",
                a.field_loc,
                name=name,
                why="event statistics and the current event's variables are kept by PPMessage",
            )
        elif scope.lookup(name):
            self.error(
                "E118",
                a.field_loc,
                name=name,
                why="it is a let variable, bound once",
                help=f"bind a new name with `let`, or declare a field: field {name} TYPE",
            )
        elif name in self.segments:
            self.error("E118", a.field_loc, name=name, why="a segment is computed from its condition")
        else:
            self.error(
                "E101",
                a.field_loc,
                name=name,
                help=suggest(name, list(self.fields) + list(SYSTEM_VARS))
                or f"declare it first: field {name} string (or int, float, bool, datetime)",
            )
        if target is None:
            return
        a.field_type = target
        if value.kind == "duration":
            self.error(
                "E124",
                a.value.loc,
                detail="a duration can't be stored in a visitor field",
                help="store a number of seconds instead",
            )
        elif target not in UNKNOWN and value.kind not in UNKNOWN and value.kind != "any":
            ok = value.kind == target or (target == "float" and value.kind == "int")
            if not ok:
                wanted = _KIND_NAMES.get(target, target)
                self.error(
                    "E124",
                    a.value.loc,
                    detail=f"'{name}' holds {wanted} values, not {_kind(value)}",
                    help=f"convert it, e.g. {target}(...)" if target in ("int", "float", "str") else None,
                )

    def template(self, t: ir.Template, scope: Scope) -> None:
        for part in t.parts:
            if isinstance(part, ir.Expr):
                self.expr(part, scope)

    # ------------------------------------------------------------ expressions
