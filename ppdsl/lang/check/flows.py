"""Flows, rules and statements: which events each rule takes (unreachable
rules), `let` scopes, actions and `set` targets."""

from __future__ import annotations

from typing import Optional

from .. import ir
from .. import messages as m
from ..diagnostics import Label
from ..messages import MAX_EVENTS, MAX_FLOW_NAME, MAX_STATEMENT_DEPTH
from ..names import EVENT_VARS, EXTRA_RE, STAT_RE, SYSTEM_VARS
from .base import Scope, closest, did_you_mean, listing
from .types import _KIND_NAMES, UNKNOWN, Types, _kind


class Flows(Types):
    def check_flows(self) -> None:
        seen: dict[str, ir.Flow] = {}
        implicit = any(f.implicit for f in self.p.flows)
        for flow in self.p.flows:
            if not flow.implicit:
                if flow.name == "main" and implicit:
                    self.report(m.MAIN_TWICE, flow.name_span)
                elif flow.name in seen:
                    first = Label(seen[flow.name].name_span, "first declared here")
                    self.report(m.DUPLICATE, flow.name_span, labels=[first], kind="flow", name=flow.name)
                if len(flow.name) > MAX_FLOW_NAME:
                    shown = flow.name[:20] + "..."
                    self.report(
                        m.NAME_TOO_LONG,
                        flow.name_span,
                        kind="flow",
                        name=shown,
                        size=len(flow.name),
                        limit=MAX_FLOW_NAME,
                    )
            seen.setdefault(flow.name, flow)
            self.check_rules(flow)

    def all_seqs(self) -> set[int]:
        return set(self.events_by_seq) if self.p.events else set(range(1, MAX_EVENTS + 1))

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
                    seq = self.resolve_event(ref.seq, ref.name, ref.span)
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
                self.report(m.UNREACHABLE_RULE, rule.span.at(rule.span.start, rule.span.start + 2), detail=detail)
            taken.update(seqs)
            self.rule_seqs = set(rule.seqs)
            self.stmt(rule.body, Scope(), 1)
        self.rule_seqs = set()

    def stmt(self, s: ir.Stmt, scope: Scope, depth: int) -> None:
        if depth > MAX_STATEMENT_DEPTH:
            self.report(m.TOO_DEEP_STATEMENTS, s.span, limit=MAX_STATEMENT_DEPTH)
            return
        if isinstance(s, ir.If):
            for cond, body in s.branches:
                self.expr(cond, scope)
                self.stmt(body, Scope(scope), depth + 1)
            if s.orelse:
                self.stmt(s.orelse, Scope(scope), depth + 1)
        elif isinstance(s, ir.Switch):
            subject = self.expr(s.subject, scope)
            seen: dict[tuple, ir.Lit] = {}
            for case in s.cases:
                for lit in case.values:
                    self.expr(lit, scope)
                    key = ("num" if lit.kind in ("int", "float") else lit.kind, lit.value)
                    if key in seen:
                        first = Label(seen[key].span, "first here")
                        self.report(m.DUPLICATE_CASE, lit.span, labels=[first], value=self.show(lit))
                    seen.setdefault(key, lit)
                    self.warn_never_equal(subject, lit.ty, lit.span, "==")
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
                self.report(m.NAME_TAKEN, s.name_span, name=s.name, what=clash, kind="let")
            self.next_slot += 1
            s.slot = self.next_slot
            scope.names[s.name] = (s.slot, ty)
        elif isinstance(s, ir.ActionStmt):
            self.action(s.action, scope)
            if s.on_failure:
                self.stmt(s.on_failure, Scope(scope), depth + 1)

    def action(self, a: ir.Stmt, scope: Scope) -> None:
        if isinstance(a, ir.Reply):
            self.resolve_agent(a.agent, a.agent_span)
            if a.text:
                self.template(a.text, scope)
        elif isinstance(a, ir.Assign):
            if a.target is None:
                return
            if a.group:
                self.used.add(("group", a.target))
                if self.groups and a.target not in self.groups:
                    close = closest(a.target, self.groups)
                    help = did_you_mean(close) or listing("groups", sorted(self.groups))
                    self.report(m.UNKNOWN_GROUP, a.target_span, help=help, replacement=close, name=a.target)
            else:
                self.resolve_agent(a.target, a.target_span)
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
            self.report(m.CANT_SET_STATISTIC, a.field_span, name=name)
        elif scope.lookup(name):
            self.report(m.CANT_SET_LET, a.field_span, name=name)
        elif name in self.segments:
            self.report(m.CANT_SET_SEGMENT, a.field_span, name=name)
        else:
            close = closest(name, list(self.fields) + list(SYSTEM_VARS))
            if close:
                self.report(m.UNKNOWN_NAME, a.field_span, help=did_you_mean(close), replacement=close, name=name)
            else:
                self.report(m.UNKNOWN_SET_TARGET, a.field_span, name=name)
        if target is None:
            return
        a.field_type = target
        if value.kind == "duration":
            self.report(m.STORE_DURATION, a.value.span)
        elif target not in UNKNOWN and value.kind not in UNKNOWN and value.kind != "any":
            ok = value.kind == target or (target == "float" and value.kind == "int")
            if not ok:
                msg = m.SET_WRONG_TYPE_CONVERT if target in ("int", "float", "str") else m.SET_WRONG_TYPE
                wanted = _KIND_NAMES.get(target, target)
                self.report(msg, a.value.span, name=name, wanted=wanted, got=_kind(value), target=target)

    def template(self, t: ir.Template, scope: Scope) -> None:
        for part in t.parts:
            if isinstance(part, ir.Expr):
                self.expr(part, scope)

    # ------------------------------------------------------------ expressions
