"""`ppdsl check`: every problem in .ppflow files."""

from __future__ import annotations

import sys

import click

from .common import echo_diagnostics, ppflow_files
from .output import json_bytes, use_color


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON array of every file's diagnostics (file, line, column, end_line, end_column, "
    "severity, code, message, help, labels).",
)
@click.option(
    "--color",
    "color_choice",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour the diagnostics; auto: only on a terminal, and not when NO_COLOR is set.",
)
def check(files: tuple[str, ...], output_format: str, color_choice: str) -> None:
    """Check .ppflow files and report every problem in them.

    Each problem is shown as FILE:LINE:COL: error[CODE]: message, with the
    source line, a caret under the spot and a hint where one is known. A
    folder stands for every *.ppflow file under it (sorted), and - for stdin.
    Exit status: 0 when there are no errors (warnings are allowed), 1 when
    there are, 2 when a file can't be read (the others are still checked).

    \b
    Examples:
        ppdsl check examples/*.ppflow
        ppdsl check examples/                     # every .ppflow file under it
        ppdsl check --format json lead.ppflow     # for editors and CI annotations
        cat lead.ppflow | ppdsl check -
    """
    from ..build.pipeline import Result, compile_source
    from ..build.loader import source_text
    from ..lang.diagnostics import CompileError, plural, printable, summary, to_json

    color = use_color(sys.stdout, color_choice)
    failed = unreadable = False
    as_json: list[dict] = []
    for path in ppflow_files(files):
        name = "<stdin>" if path == "-" else path
        try:
            data = sys.stdin.buffer.read() if path == "-" else _read_bytes(path)
        except OSError as exc:
            click.echo(f"error: can't read {printable(path)}: {exc.strerror}", err=True)
            unreadable = True
            continue
        try:
            source = source_text(data, name)
            result = compile_source(source, name, emit=False)
        except CompileError as exc:  # not UTF-8 text
            result = Result(name, exc.source, None, exc.diagnostics)
        failed |= any(d.is_error for d in result.diagnostics)
        if output_format == "json":
            as_json += [to_json(d) for d in result.diagnostics]
            continue
        echo_diagnostics(result.diagnostics, err=False, color=color)
        if result.diagnostics:
            click.echo(f"{printable(name)}: {summary(result.diagnostics)}")
        else:
            counts = f"{plural(result.flows, 'active flow')}, {plural(result.rules, 'rule')}"
            click.echo(f"{printable(name)}: ok ({counts})")
    if output_format == "json":
        click.echo(json_bytes(as_json, indent=2))  # bytes: UTF-8 whatever the locale
    sys.exit(2 if unreadable else 1 if failed else 0)


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
