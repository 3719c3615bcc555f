"""The `ppdsl` command: check, compile and run .ppflow files.

Only argument handling and printing live here; the work is done by
ppdsl.compiler and by the compiled module's `handle`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import click

from . import __version__

if TYPE_CHECKING:
    from .diagnostics import Diagnostic

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _echo_diagnostics(filename: str, source: str, diags: list[Diagnostic], err: bool) -> None:
    from .diagnostics import render

    for d in diags:
        click.echo(render(d, filename, source), err=err)


def _read(path: Path) -> str:
    from .diagnostics import CompileError
    from .loader import read_source

    try:
        return read_source(path)
    except CompileError as exc:
        _echo_diagnostics(str(path), exc.source, exc.diagnostics, err=True)
        raise SystemExit(1)
    except OSError as exc:
        raise click.UsageError(f"can't read {path}: {exc.strerror}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ppdsl")
def main() -> None:
    """Write, check, test and run PPMessage event-flow rules.

    \b
    A .ppflow file holds a website's tracked events and the flows that
    react to them:
        on event 1,2 -> if count(2)>8 and count(3)>8 reply agent_a else reply agent_b

    \b
    Start with:
        ppdsl check examples/lead_routing.ppflow
        ppdsl run examples/lead_routing.ppflow --event view_pricing --json
    """


@main.command()
@click.argument("files", nargs=-1, required=True, type=FILE)
def check(files: tuple[Path, ...]) -> None:
    """Check .ppflow files and report every problem in them.

    Each problem is shown as FILE:LINE:COL: error[CODE]: message, with the
    source line, a caret under the spot and a hint where one is known.
    Exit status: 0 when there are no errors (warnings are allowed), 1 otherwise.

    \b
    Example:
        ppdsl check examples/*.ppflow
    """
    from .compiler import Result, compile_source
    from .diagnostics import CompileError, plural, printable, summary
    from .loader import read_source

    failed = False
    for path in files:
        try:
            source = read_source(path)
            result = compile_source(source, str(path), emit=False)
        except CompileError as exc:  # not UTF-8 text
            source, result = exc.source, Result(str(path), exc.source, None, exc.diagnostics)
        except OSError as exc:
            raise click.UsageError(f"can't read {path}: {exc.strerror}")
        _echo_diagnostics(str(path), source, result.diagnostics, err=False)
        if result.diagnostics:
            click.echo(f"{printable(str(path))}: {summary(result.diagnostics)}")
        else:
            counts = f"{plural(result.flows, 'active flow')}, {plural(result.rules, 'rule')}"
            click.echo(f"{printable(str(path))}: ok ({counts})")
        failed |= any(d.is_error for d in result.diagnostics)
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("file", type=FILE)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the module (default: print it).")
def compile(file: Path, output: Optional[Path]) -> None:
    """Compile a .ppflow file into one standalone Python module.

    The module needs only the standard library. It defines
    handle(payload, visitor=None, effects=None) and EVENTS.

    \b
    Example:
        ppdsl compile examples/lead_routing.ppflow -o lead_rules.py
        python -c "import lead_rules; print(lead_rules.handle({'event_name': 'signup'}))"
    """
    from .compiler import compile_source
    from .diagnostics import plural, printable, summary
    from .runner import write_atomically

    source = _read(file)
    result = compile_source(source, str(file))
    _echo_diagnostics(str(file), source, result.diagnostics, err=True)
    if result.code is None:
        click.echo(f"{printable(str(file))}: {summary(result.diagnostics)}; nothing written", err=True)
        sys.exit(1)
    if output is None:
        click.echo(result.code, nl=False)
        return
    try:
        write_atomically(str(output), result.code)
    except OSError as exc:
        raise click.ClickException(f"can't write {output}: {exc.strerror}")
    click.echo(f"wrote {printable(str(output))} ({plural(result.flows, 'active flow')})", err=True)


@main.command()
@click.argument("file", type=FILE)
@click.option("-e", "--event", "spec", required=True, metavar="SPEC",
              help="The event: JSON, @file.json, an event number or an event name.")
@click.option("--visitor", type=FILE, help="The visitor's state: a JSON object of PPMessage variables.")
@click.option("--save", is_flag=True, help="Write the updated visitor back to the --visitor file.")
@click.option("--at", metavar="TIME", help="The event's time when it carries none: ISO-8601 or epoch seconds.")
@click.option("--fail", "fail", multiple=True, metavar="NAME",
              help="Make actions aimed at agent or group NAME fail (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def run(file: Path, spec: str, visitor: Optional[Path], save: bool, at: Optional[str],
        fail: tuple[str, ...], as_json: bool) -> None:
    """Run one tracked event through the flows of a .ppflow file.

    \b
    Examples:
        ppdsl run lead.ppflow --event view_pricing
        ppdsl run lead.ppflow --event 2 --at 2026-11-25T08:00:00Z --json
        ppdsl run lead.ppflow --event '{"track_event": {"event_name": "signup",
            "event_data": {"plan": "pro"}, "event_timestamp": 1795593600}}'
        ppdsl run lead.ppflow --event @event.json --visitor li_lei.json --save
        ppdsl run lead.ppflow --event click --fail agent_a     # try `on failure`

    A rejected event prints `error: MESSAGE`, exits 1 and changes nothing.
    """
    from .runner import UsageProblem, execute

    try:
        code = execute(str(file), spec, str(visitor) if visitor else None, save, at, fail, as_json)
    except UsageProblem as problem:
        if problem.param == "--save":
            raise click.UsageError(str(problem))
        raise click.BadParameter(str(problem), param_hint=problem.param)
    sys.exit(code)
