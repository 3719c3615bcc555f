"""The pipeline, stage by stage: parse → check → emit. `ppdsl.load`
(ppdsl.loader), the CLI and the textX generator all come through here."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ..lang import messages as m
from ..lang.diagnostics import Diagnostic, diagnostic
from ..lang.span import Source

if TYPE_CHECKING:
    from ..lang.ir import CheckedProgram, Program
    from ..lang.reparse import Reparser


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
    checked: Optional[CheckedProgram] = None  # None when there are errors
    program: Optional[Program] = (
        None  # the parsed program, names resolved as far as they could be; None on a syntax error
    )


def compile_source(
    source: str, filename: str = "<string>", *, emit: bool = True, reparser: Optional[Reparser] = None
) -> Result:
    """Parse, check and (when there are no errors and `emit`) generate Python.
    A `reparser` that parsed an earlier version of the file reuses what didn't change."""
    # The textX model is a large graph of objects with parent links; the cyclic
    # collector would walk it again and again while it grows (40% of the time
    # for a 1,000-flow file). Collect once, afterwards, instead.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _compile(source, filename, emit, reparser)
    finally:
        if enabled:
            gc.enable()


def _compile(source: str, filename: str, emit: bool, reparser: Optional[Reparser]) -> Result:
    from ..codegen.python import TooDeep, generate
    from ..lang.check import check
    from ..lang.diagnostics import SyntaxProblem
    from ..lang.lower import parse

    src = Source(filename, source)
    result = Result(filename, source, None)
    try:
        program, diags = reparser.parse(src) if reparser is not None else parse(src)
        checked, more = check(program)
    except SyntaxProblem as problem:
        result.diagnostics = [problem.diag]
        return result
    except RecursionError:
        result.diagnostics = [diagnostic(m.TOO_DEEP_BRACKETS, src.span(0), limit=m.MAX_BRACKETS)]
        return result
    result.diagnostics = sorted(diags + more, key=Diagnostic.sort_key)
    result.program = program
    result.flows = sum(not f.inactive for f in program.flows)
    result.rules = sum(len(f.rules) for f in program.flows if not f.inactive)
    if not any(d.is_error for d in diags):
        result.checked = checked
    if emit and result.checked is not None:
        try:
            result.code = generate(result.checked, Path(filename).name)
        except TooDeep as exc:
            at = src.span(src.index.offset(exc.line, 1))
            result.diagnostics.append(diagnostic(m.TOO_DEEP_GENERATED, at, limit=m.PYTHON_MAX_NESTING))
    return result
