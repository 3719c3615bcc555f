"""Declarations: duplicates, limits, field types, names that clash with
built-in ones, and declarations nothing uses."""

from __future__ import annotations

from typing import Optional

from .. import ir
from ..diagnostics import make
from ..names import EVENT_VARS, EXTRA_RE, FIELD_TYPES, STAT_RE, SYSTEM_VARS
from .base import CheckerBase, suggest


class Declarations(CheckerBase):
    def check_events(self) -> None:
        seen_seq: dict[int, ir.EventDecl] = {}
        seen_name: set[str] = set()
        seen_uuid: set[str] = set()
        for i, ev in enumerate(self.p.events):
            if i == 8:
                self.error(
                    "E110",
                    ev.loc,
                    count=len(self.p.events),
                    help="PPMessage tracks at most 8 events per website; remove or merge some",
                )
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
                    self.error("E113", ev.uuid_loc, help='leave out `uuid ""`, or give the uuid from PPMessage')
                elif ev.uuid in seen_uuid:
                    self.error("E108", ev.uuid_loc, uuid=repr(ev.uuid)[:60])
                seen_uuid.add(ev.uuid)
            if ev.description is not None and ev.description_loc and len(ev.description) > 128:
                self.error("E112", ev.description_loc, size=len(ev.description))

    def check_named(self) -> None:
        for kind, decls in (
            ("agent", self.p.agents),
            ("group", self.p.groups),
            ("field", self.p.fields),
            ("segment", self.p.segments),
        ):
            seen: set[str] = set()
            for d in decls:
                if d.name in seen:
                    self.error("E106", d.name_loc, kind=kind, name=d.name)
                seen.add(d.name)
        for f in self.p.fields:
            if f.display not in FIELD_TYPES:
                self.error(
                    "E114",
                    f.type_loc or f.loc,
                    name=f.display,
                    help=suggest(f.display or "", FIELD_TYPES) or "field types are: " + ", ".join(FIELD_TYPES),
                )
            self.check_new_value_name(f.name, f.name_loc, "field")
        for s in self.p.segments:
            if s.name in self.fields:
                self.error("E116", s.name_loc, name=s.name, what="a field", kind="segment", help="rename the segment")
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

    def check_unused(self) -> None:
        for kind, decls in (
            ("agent", self.p.agents),
            ("group", self.p.groups),
            ("field", self.p.fields),
            ("segment", self.p.segments),
        ):
            for d in decls:
                if (kind, d.name) not in self.used:
                    self.diags.append(
                        make("W202", d.name_loc.line, d.name_loc.col, d.name_loc.length, kind=kind, name=d.name)
                    )
