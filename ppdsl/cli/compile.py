"""`ppdsl compile`: a .ppflow file into one standalone Python module."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import click

from .common import FILE, echo_diagnostics, read_file
from .output import use_color


@click.command()
@click.argument("file", type=FILE)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the module (default: print it).",
)
def compile(file: Path, output: Optional[Path]) -> None:
    """Compile a .ppflow file into one standalone Python module.

    The module needs only the standard library. It defines
    handle(payload, visitor=None, effects=None) and EVENTS.

    \b
    Example:
        ppdsl compile examples/lead_routing.ppflow -o lead_rules.py
        python -c "import lead_rules; print(lead_rules.handle({'event_name': 'signup'}))"
    """
    from ..build.pipeline import compile_source
    from ..lang.diagnostics import plural, printable, summary
    from ..engine.files import write_text_atomically

    source = read_file(file)
    result = compile_source(source, str(file))
    echo_diagnostics(result.diagnostics, err=True, color=use_color(sys.stderr))
    if result.code is None:
        click.echo(f"{printable(str(file))}: {summary(result.diagnostics)}; nothing written", err=True)
        sys.exit(1)
    if output is None:
        click.echo(result.code, nl=False)
        return
    try:
        write_text_atomically(str(output), result.code)
    except OSError as exc:
        raise click.ClickException(f"can't write {output}: {exc.strerror}")
    click.echo(f"wrote {printable(str(output))} ({plural(result.flows, 'active flow')})", err=True)
