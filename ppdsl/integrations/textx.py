"""Registration with textX's entry points, so `textx check f.ppflow` gives what
`ppdsl check` gives and `textx generate f.ppflow --target python` writes the
same module as `ppdsl compile`.

textX would read the file itself (with no BOM handling, and with its own
messages for typographic quotes or bytes that aren't UTF-8), so the language's
metamodel reads it through ppdsl first: every diagnostic comes from ppdsl's
pipeline, as data, rendered as ppdsl renders it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from textx import generator, language
from textx.exceptions import TextXSemanticError

from ..build.loader import read_source
from ..build.pipeline import compile_source
from ..lang.diagnostics import CompileError, Diagnostic, render
from ..lang.syntax import build_metamodel


class _EmptyModel:
    """What a file with no declarations and no rules reads as (textX gives '')."""

    def __init__(self, filename: str):
        self._tx_filename = filename


def _checked_source(file_name: str) -> str:
    """The file's text after ppdsl's checks; warnings go to stderr, errors raise."""
    try:
        source = read_source(file_name)
        diagnostics = compile_source(source, file_name, emit=False).diagnostics
    except CompileError as exc:  # not UTF-8
        diagnostics = exc.diagnostics
    for diag in diagnostics:
        if not diag.is_error:
            print(render(diag), file=sys.stderr)
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        raise _semantic_error(errors)
    return source


def _semantic_error(errors: list[Diagnostic]) -> TextXSemanticError:
    first = errors[0]
    # textX prints FILE:LINE:COL in front of the first itself
    text = "\n".join(render(d, location=i > 0) for i, d in enumerate(errors))
    return TextXSemanticError(text, line=first.line, col=first.col, filename=first.file)


@language("ppflow", "*.ppflow")
def ppflow_language() -> Any:
    """PPMessage event flows (ppdsl)"""
    mm = build_metamodel(comments=True)

    def model_from_file(file_name: str, encoding: str = "utf-8", debug: Any = None, **kwargs: Any) -> Any:
        source = _checked_source(os.fspath(file_name))
        model = mm.model_from_str(source, file_name=os.fspath(file_name), debug=debug, **kwargs)
        return _EmptyModel(os.fspath(file_name)) if isinstance(model, str) else model

    mm.model_from_file = model_from_file
    return mm


@generator("ppflow", "python")
def ppflow_python_generator(
    metamodel: Any, model: Any, output_path: Any, overwrite: bool, debug: bool, **custom_args: Any
) -> None:
    """A standalone Python module with handle() and EVENTS (as `ppdsl compile`)"""
    filename = model._tx_filename
    result = compile_source(read_source(filename), filename)
    if result.code is None:  # e.g. nesting that only code generation can measure
        raise _semantic_error([d for d in result.diagnostics if d.is_error])
    module_name = Path(filename).with_suffix(".py").name
    if output_path is None:
        target = Path(filename).with_suffix(".py")
    elif _is_folder(str(output_path)):
        Path(output_path).mkdir(parents=True, exist_ok=True)
        target = Path(output_path) / module_name
    else:
        target = Path(output_path)
    if target.exists() and not overwrite:
        print(f"-- skipping {target}: it exists (use --overwrite)")
        return
    target.write_text(result.code, encoding="utf-8")
    print(f"-- wrote {target}")


def _is_folder(output_path: str) -> bool:
    """-o names a folder when it is one, ends with a separator, or takes several inputs."""
    if os.path.isdir(output_path) or output_path.endswith(("/", os.sep)):
        return True
    import click  # textX's command line runs on click

    ctx = click.get_current_context(silent=True)
    inputs = [a for a in (ctx.params.get("arguments", ()) if ctx else ()) if not str(a).startswith("-")]
    return len(inputs) > 1
