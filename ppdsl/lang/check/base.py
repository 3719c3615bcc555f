"""State shared by the checker's passes, the `let` scope, and helpers for
messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Optional

from .. import ir
from ..diagnostics import Reporter
from ..ir import Ty
from ..messages import DECLARED, DID_YOU_MEAN
from ..names import EVENT_VARS


def closest(name: str, candidates: Iterable[str], cutoff: float = 0.7) -> Optional[str]:
    """The candidate `name` is most likely a typo of, if any is close."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(close: Optional[str]) -> Optional[str]:
    return DID_YOU_MEAN.format(close) if close else None


def listing(what: str, names: list[str]) -> Optional[str]:
    if not names:
        return None
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return DECLARED.format(what, shown)


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


class CheckerBase(Reporter):
    def __init__(self, program: ir.Program, event_vars: Optional[dict[str, Ty]] = None, trust_numbers: bool = False):
        """`event_vars` narrows the current-event names (a standalone condition
        has only `now`); `trust_numbers` types visitor numbers as `sure`, for
        the guarded fast path of ppdsl.condition."""
        super().__init__()
        self.p = program
        self.event_vars = EVENT_VARS if event_vars is None else event_vars
        self.trust_numbers = trust_numbers
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

    def expr(self, e: ir.Expr, scope: Scope, depth: int = 0) -> Ty:
        raise NotImplementedError  # the types pass
