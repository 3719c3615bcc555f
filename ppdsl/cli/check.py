"""`ppdsl check`: every problem in .ppflow files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import FILE, echo_diagnostics
from .output import json_bytes


@click.command()
@click.argument("files", nargs=-1, required=True, type=FILE)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON array of every file's diagnostics (file, line, column, end_line, end_column, "
    "severity, code, message, help, labels).",
)
def check(files: tuple[Path, ...], output_format: str) -> None:
    """Check .ppflow files and report every problem in them.

    Each problem is shown as FILE:LINE:COL: error[CODE]: message, with the
    source line, a caret under the spot and a hint where one is known.
    Exit status: 0 when there are no errors (warnings are allowed), 1 otherwise.

    \b
    Examples:
        ppdsl check examples/*.ppflow
        ppdsl check --format json lead.ppflow     # for editors and CI annotations
    """
    from ..build.pipeline import Result, compile_source
    from ..build.loader import read_source
    from ..lang.diagnostics import CompileError, plural, printable, summary, to_json

    failed = False
    as_json: list[dict] = []
    for path in files:
        try:
            source = read_source(path)
            result = compile_source(source, str(path), emit=False)
        except CompileError as exc:  # not UTF-8 text
            source, result = exc.source, Result(str(path), exc.source, None, exc.diagnostics)
        except OSError as exc:
            raise click.UsageError(f"can't read {path}: {exc.strerror}")
        failed |= any(d.is_error for d in result.diagnostics)
        if output_format == "json":
            as_json += [to_json(d) for d in result.diagnostics]
            continue
        echo_diagnostics(result.diagnostics, err=False)
        if result.diagnostics:
            click.echo(f"{printable(str(path))}: {summary(result.diagnostics)}")
        else:
            counts = f"{plural(result.flows, 'active flow')}, {plural(result.rules, 'rule')}"
            click.echo(f"{printable(str(path))}: ok ({counts})")
    if output_format == "json":
        click.echo(json_bytes(as_json, indent=2))  # bytes: UTF-8 whatever the locale
    sys.exit(1 if failed else 0)
