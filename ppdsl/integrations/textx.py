"""Registration with textX's entry points, so `textx check f.ppflow` runs the
full ppdsl checker and `textx generate f.ppflow --target python` writes the
same module as `ppdsl compile`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textx import generator, language
from textx.exceptions import TextXSemanticError

from ..build.pipeline import compile_source
from ..lang.diagnostics import render
from ..lang.syntax import build_metamodel


def _check_model(model: Any, _metamodel: Any) -> None:
    source = model._tx_parser.input
    filename = model._tx_filename or "<string>"
    result = compile_source(source, filename, emit=False)
    errors = [d for d in result.diagnostics if d.is_error]
    if errors:
        first = errors[0]
        # textX puts FILE:LINE:COL in front of the first itself
        text = "\n".join(render(d, location=i > 0) for i, d in enumerate(errors))
        raise TextXSemanticError(text, line=first.line, col=first.col, filename=filename)


@language("ppflow", "*.ppflow")
def ppflow_language() -> Any:
    """PPMessage event flows (ppdsl)"""
    mm = build_metamodel(comments=True)
    mm.register_model_processor(_check_model)
    return mm


@generator("ppflow", "python")
def ppflow_python_generator(
    metamodel: Any, model: Any, output_path: Any, overwrite: bool, debug: bool, **custom_args: Any
) -> None:
    """A standalone Python module with handle() and EVENTS (as `ppdsl compile`)"""
    filename = model._tx_filename
    result = compile_source(model._tx_parser.input, filename)
    if result.code is None:  # e.g. nesting that only code generation can measure
        first = next(d for d in result.diagnostics if d.is_error)
        raise TextXSemanticError(first.message, line=first.line, col=first.col, filename=filename)
    target = Path(output_path) if output_path else Path(filename).with_suffix(".py")
    if target.is_dir():
        target = target / Path(filename).with_suffix(".py").name
    if target.exists() and not overwrite:
        print(f"-- skipping {target}: it exists (use --overwrite)")
        return
    target.write_text(result.code, encoding="utf-8")
    print(f"-- wrote {target}")
