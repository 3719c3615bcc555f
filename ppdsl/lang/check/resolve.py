"""Name resolution: events, agents and groups, and what each plain name in
an expression is bound to."""

from __future__ import annotations

from typing import Optional

from .. import ir
from .. import messages as m
from ..ir import Ty
from ..messages import MAX_EVENTS
from ..span import Span
from ..names import EVENT_VARS, EXTRA_RE, FIELD_TYPES, FUNCTIONS, STAT_RE, STAT_TYPES, SYSTEM_VARS
from .base import Scope, closest, did_you_mean, listing
from .declarations import Declarations


class Resolution(Declarations):
    def resolve_event(self, seq: Optional[int], name: Optional[str], span: Span) -> Optional[int]:
        if name is None:
            assert seq is not None
            if self.p.events:
                if seq in self.events_by_seq:
                    return seq
                declared = ", ".join(f"{e.seq} {e.name}" for e in self.p.events)
                self.report(m.UNKNOWN_EVENT, span, help=m.DECLARED.format("events", declared), name=str(seq))
                return None
            if 1 <= seq <= MAX_EVENTS:
                return seq
            self.report(m.SEQ_OUT_OF_RANGE, span, seq=seq)
            return None
        if name in self.events_by_name:
            return self.events_by_name[name].seq
        close = closest(name, self.events_by_name)
        if self.p.filename == "<condition>" and close is None:
            self.report(m.UNKNOWN_EVENT_CONDITION, span, name=name)
        elif self.p.events:
            help = did_you_mean(close) or listing("events", list(self.events_by_name))
            self.report(m.UNKNOWN_EVENT, span, help=help, replacement=close, name=name)
        else:
            self.report(m.UNKNOWN_EVENT_UNDECLARED, span, name=name)
        return None

    def name_owner(self, name: str, scope: Scope) -> Optional[str]:
        if scope.lookup(name):
            return "a let variable here"
        if name in self.fields:
            return "a field"
        if name in self.segments:
            return "a segment"
        return self.builtin_kind(name)

    def resolve_agent(self, name: str, span: Span) -> None:
        self.used.add(("agent", name))
        if self.agents and name not in self.agents:
            if name in self.groups:
                self.report(m.AGENT_IS_GROUP, span, name=name)
            else:
                close = closest(name, self.agents)
                help = did_you_mean(close) or listing("agents", sorted(self.agents))
                self.report(m.UNKNOWN_AGENT, span, help=help, replacement=close, name=name)

    def var(self, e: ir.Var, scope: Scope) -> Ty:
        name = e.name
        let = scope.lookup(name)
        if let:
            e.binding = ir.LetBinding(let[0])
            return let[1]
        if name in self.event_vars:
            e.binding = ir.EventVarBinding(name)
            return self.event_vars[name]
        stat = STAT_RE.match(name)
        if stat:
            digits = stat.group(2)
            seq = self.resolve_event(int(digits) if len(digits) < 4 else 0, None, e.span)
            e.binding = ir.StatBinding(stat.group(1), seq or 0)
            if stat.group(1) == "last_time" and seq is not None:
                self.warn_own_last_time(name, seq, e.span)
            return self.visitor_type(STAT_TYPES[stat.group(1)])
        if name in self.fields:
            self.used.add(("field", name))
            e.binding = ir.VisitorVarBinding(name, self.field_type(name), declared=True)
            return self.visitor_type(Ty(e.binding.kind))
        if name in self.segments:
            self.used.add(("segment", name))
            e.binding = ir.SegmentBinding(name)
            return self.segment_type(name) or Ty("any")
        if name in SYSTEM_VARS:
            e.binding = ir.VisitorVarBinding(name, SYSTEM_VARS[name].kind)
            return self.visitor_type(SYSTEM_VARS[name])
        if EXTRA_RE.match(name):
            e.binding = ir.VisitorVarBinding(name, "json")
            return Ty("json")
        candidates = [*scope.visible(), *self.event_vars, *SYSTEM_VARS, *self.fields, *self.segments]
        close = closest(name, candidates)
        if close is not None:
            self.report(m.UNKNOWN_NAME, e.span, help=did_you_mean(close), replacement=close, name=name)
        elif name in self.events_by_name:
            self.report(m.UNKNOWN_NAME_IS_EVENT, e.span, name=name)
        elif name in EVENT_VARS:
            self.report(m.UNKNOWN_NAME_IS_EVENT_VAR, e.span, name=name)
        elif name in FUNCTIONS:
            self.report(m.UNKNOWN_NAME_IS_FUNCTION, e.span, name=name)
        else:
            self.report(m.UNKNOWN_NAME_DECLARE, e.span, name=name)
        return Ty("any")

    def field_type(self, name: str) -> str:
        """The value kind of a declared field ("json" while its type is unknown)."""
        return FIELD_TYPES.get(self.fields[name].type_name, "json")

    def warn_own_last_time(self, what: str, seq: int, span: Span) -> None:
        """`now - last_time(E) < 10m` in a rule for E alone is always true: a
        cooldown needs the previous time kept in a field."""
        if self.rule_seqs == {seq}:
            self.report(m.OWN_LAST_TIME, span, what=what)

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
            path = " -> ".join(self.segment_stack[self.segment_stack.index(name) :] + [name])
            self.report(m.SEGMENT_CYCLE, seg.name_span, name=name, path=path)
            self.segment_types[name] = None
            return None
        self.segment_stack.append(name)
        ty = self.expr(seg.expr, Scope())
        self.segment_stack.pop()
        if name not in self.segment_types:
            self.segment_types[name] = Ty(ty.kind)
        return self.segment_types[name]
