"""Declarations: duplicates, limits, field types, names that clash with
built-in ones, and declarations nothing uses."""

from __future__ import annotations

from typing import Optional

from .. import ir
from .. import messages as m
from ..diagnostics import Label
from ..messages import MAX_DESCRIPTION, MAX_EVENT_NAME, MAX_EVENTS
from ..names import EVENT_VARS, EXTRA_RE, FIELD_TYPES, STAT_RE, SYSTEM_VARS
from ..span import Span
from .base import CheckerBase, closest, did_you_mean


class Declarations(CheckerBase):
    def check_events(self) -> None:
        seen_seq: dict[int, ir.EventDecl] = {}
        seen_name: dict[str, Span] = {}  # names and aliases share one namespace
        seen_uuid: dict[str, ir.EventDecl] = {}
        for i, ev in enumerate(self.p.events):
            if i == MAX_EVENTS:
                self.report(m.TOO_MANY_EVENTS, ev.span, count=len(self.p.events))
            if not 1 <= ev.seq <= MAX_EVENTS:
                self.report(m.SEQ_OUT_OF_RANGE, ev.seq_span, seq=ev.seq)
            elif ev.seq in seen_seq:
                other = seen_seq[ev.seq]
                self.report(m.DUPLICATE_SEQ, ev.seq_span, labels=[_first(other.seq_span)], seq=ev.seq, first=other.name)
            seen_seq.setdefault(ev.seq, ev)
            for name, span in [(ev.name, ev.name_span)] + [(a.text, a.span) for a in ev.aliases]:
                kind = "event" if span is ev.name_span else "event alias"
                if name in seen_name:
                    first = seen_name[name]
                    both_names = kind == "event" and any(first is e.name_span for e in self.p.events)
                    what = "event" if both_names else "event name or alias"
                    self.report(m.DUPLICATE, span, labels=[_first(first)], kind=what, name=name)
                seen_name.setdefault(name, span)
                if not name:
                    self.report(m.EMPTY_ALIAS, span)
                elif len(name) > MAX_EVENT_NAME:
                    shown = name[:20] + "..."
                    self.report(m.NAME_TOO_LONG, span, kind=kind, name=shown, size=len(name), limit=MAX_EVENT_NAME)
            if ev.uuid is not None and ev.uuid_span is not None:
                if not ev.uuid:
                    self.report(m.EMPTY_UUID, ev.uuid_span)
                elif ev.uuid in seen_uuid:
                    label = _first(seen_uuid[ev.uuid].uuid_span or seen_uuid[ev.uuid].span)
                    self.report(m.DUPLICATE_UUID, ev.uuid_span, labels=[label], uuid=repr(ev.uuid)[:60])
                seen_uuid.setdefault(ev.uuid, ev)
            if ev.description is not None and ev.description_span and len(ev.description) > MAX_DESCRIPTION:
                self.report(m.DESCRIPTION_TOO_LONG, ev.description_span, size=len(ev.description))

    def named_decls(
        self,
    ) -> tuple[tuple[str, list[ir.AgentDecl] | list[ir.GroupDecl] | list[ir.FieldDecl] | list[ir.SegmentDecl]], ...]:
        return (
            ("agent", self.p.agents),
            ("group", self.p.groups),
            ("field", self.p.fields),
            ("segment", self.p.segments),
        )

    def check_named(self) -> None:
        for kind, decls in self.named_decls():
            seen: dict[str, Span] = {}
            for d in decls:
                if d.name in seen:
                    self.report(m.DUPLICATE, d.name_span, labels=[_first(seen[d.name])], kind=kind, name=d.name)
                seen.setdefault(d.name, d.name_span)
        for f in self.p.fields:
            if f.type_name not in FIELD_TYPES:
                close = closest(f.type_name, FIELD_TYPES)
                help = did_you_mean(close) or m.FIELD_TYPES_ARE.format(", ".join(FIELD_TYPES))
                self.report(m.UNKNOWN_FIELD_TYPE, f.type_span, help=help, replacement=close, name=f.type_name)
            self.check_new_value_name(f.name, f.name_span, "field")
        for s in self.p.segments:
            if s.name in self.fields:
                self.report(m.NAME_TAKEN, s.name_span, name=s.name, what="a field", kind="segment")
            self.check_new_value_name(s.name, s.name_span, "segment")

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

    def check_new_value_name(self, name: str, span: Span, what: str) -> None:
        kind = self.builtin_kind(name)
        if kind:
            self.report(m.NAME_TAKEN, span, name=name, what=kind, kind=what)

    def check_unused(self) -> None:
        for kind, decls in self.named_decls():
            for d in decls:
                if (kind, d.name) not in self.used:
                    self.report(m.UNUSED, d.name_span, kind=kind, name=d.name)


def _first(span: Span) -> Label:
    return Label(span, "first declared here")
