"""Semantic checks: name resolution, the strictness rule, limits and static
types. Every problem is collected; nothing is raised. The checker also fills
in the IR's resolution fields (`ty`, `binding`, `seq`, ...) for the code
generator. Each pass is one module; `Checker` puts them together."""

from __future__ import annotations

from .. import ir
from ..diagnostics import Diagnostic
from .base import Scope
from .flows import Flows

__all__ = ["Checker", "Scope", "check"]


class Checker(Flows):
    def run(self) -> list[Diagnostic]:
        self.check_events()
        self.check_named()
        for seg in self.p.segments:
            self.segment_type(seg.name)
        self.check_flows()
        self.check_unused()
        return sorted(self.diags, key=lambda d: (d.line, d.col))

    # ------------------------------------------------------------ declarations


def check(program: ir.Program) -> list[Diagnostic]:
    return Checker(program).run()
