"""Semantic checks: name resolution, the strictness rule, limits and static
types. Every problem is collected; nothing is raised. The checker also fills
in the IR's resolution fields (`ty`, `binding`, `seq`, ...) for the code
generator. Each pass is one module; `Checker` puts them together."""

from __future__ import annotations

from typing import Optional

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
        return sorted(self.diags, key=Diagnostic.sort_key)


def check(program: ir.Program) -> tuple[Optional[ir.CheckedProgram], list[Diagnostic]]:
    """Every diagnostic of the program, and the checked program when none is an error."""
    checker = Checker(program)
    diags = checker.run()
    if any(d.is_error for d in diags):
        return None, diags
    types = {name: ty for name, ty in checker.segment_types.items() if ty is not None}
    return ir.CheckedProgram(program, types), diags
