"""The pipeline, stage by stage: parse → check → emit. `ppdsl.load`
(ppdsl.loader), the CLI and the textX generator all come through here."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..lang.diagnostics import Diagnostic, make


@dataclass
class Result:
    """What compiling one source gives: the module code (None on errors) and
    every diagnostic, errors and warnings alike."""

    filename: str
    source: str
    code: Optional[str]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    flows: int = 0
    rules: int = 0


def compile_source(source: str, filename: str = "<string>", *, emit: bool = True) -> Result:
    """Parse, check and (when there are no errors and `emit`) generate Python."""
    # The textX model is a large graph of objects with parent links; the cyclic
    # collector would walk it again and again while it grows (40% of the time
    # for a 1,000-flow file). Collect once, afterwards, instead.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _compile(source, filename, emit)
    finally:
        if enabled:
            gc.enable()


def _compile(source: str, filename: str, emit: bool) -> Result:
    from ..lang.check import check
    from ..codegen.python import PYTHON_MAX_NESTING, TooDeep, generate
    from ..lang.diagnostics import SyntaxProblem
    from ..lang.lower import parse

    result = Result(filename, source, None)
    try:
        program, diags = parse(source, filename)
        diags += check(program)
    except SyntaxProblem as problem:
        result.diagnostics = [problem.diag]
        return result
    except RecursionError:
        result.diagnostics = [make("E005", 1, 1, limit=64, help="split deep expressions with `let` or a segment")]
        return result
    result.diagnostics = sorted(diags, key=lambda d: (d.line, d.col))
    result.flows = sum(not f.inactive for f in program.flows)
    result.rules = sum(len(f.rules) for f in program.flows if not f.inactive)
    if emit and not any(d.is_error for d in result.diagnostics):
        try:
            result.code = generate(program, Path(filename).name)
        except TooDeep as exc:
            result.diagnostics.append(
                make("E005", exc.line, 1, limit=PYTHON_MAX_NESTING, help="split the expression with `let` or a segment")
            )
    return result
