"""Name resolution: events, agents and groups, and what each plain name in
an expression is bound to."""

from __future__ import annotations

from typing import Optional

from .. import ir
from ..diagnostics import make
from ..ir import Ty
from ..names import EVENT_VARS, EXTRA_RE, FIELD_TYPES, FUNCTIONS, STAT_RE, STAT_TYPES, SYSTEM_VARS
from .base import Scope, listing, suggest
from .declarations import Declarations


class Resolution(Declarations):
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
            help = suggest(name, self.events_by_name) or listing("events", list(self.events_by_name))
        else:
            help = f"this file declares no events, so events are numbered 1 to 8; or declare one: event 1 {name}"
        self.error("E103", loc, name=name, help=help)
        return None

    # ------------------------------------------------------------ statements

    def name_owner(self, name: str, scope: Scope) -> Optional[str]:
        if scope.lookup(name):
            return "a let variable here"
        if name in self.fields:
            return "a field"
        if name in self.segments:
            return "a segment"
        return self.builtin_kind(name)

    def resolve_agent(self, name: str, loc: ir.Loc) -> None:
        self.used.add(("agent", name))
        if self.agents and name not in self.agents:
            help = suggest(name, self.agents) or listing("agents", sorted(self.agents))
            if name in self.groups:
                help = f"'{name}' is a group: write `assign group {name}`"
            self.error("E104", loc, name=name, help=help)

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
        help = suggest(name, candidates)
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
            self.diags.append(
                make(
                    "W204",
                    loc.line,
                    loc.col,
                    loc.length,
                    what=what,
                    help="for a cooldown keep your own time: field last_nudge datetime, "
                    "then `set last_nudge = now` and test `now - last_nudge < 10m`",
                )
            )

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
            self.error(
                "E117", seg.name_loc, name=name, path=path, help="segments may use other segments, but not in a cycle"
            )
            self.segment_types[name] = None
            return None
        self.segment_stack.append(name)
        assert seg.expr is not None
        ty = self.expr(seg.expr, Scope())
        self.segment_stack.pop()
        if name not in self.segment_types:
            self.segment_types[name] = Ty(ty.kind)
        return self.segment_types[name]
