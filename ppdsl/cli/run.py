"""`ppdsl run`: the click command, built from the option table that the
import-light fast path reads too. The work is in runner.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TypeVar
from collections.abc import Callable

import click

from .common import FILE
from .run_options import RUN_OPTIONS, Option

F = TypeVar("F", bound=Callable[..., Any])


def _click_option(option: Option) -> Callable[[F], F]:
    settings: dict[str, Any] = {"metavar": option.metavar, "required": option.required, "help": option.help}
    if option.kind == "flag":
        settings["is_flag"] = True
    elif option.kind == "multiple":
        settings["multiple"] = True
    if option.existing_file:
        settings["type"] = click.Path(exists=True, dir_okay=False)
    if option.once:  # click keeps the last of a repeated option: collect them all, refuse more than one
        settings["multiple"] = True
        settings["callback"] = _once
    return click.option(*option.names, option.dest, **settings)


def _once(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Any:
    if len(values) > 1:
        raise click.UsageError(f"{param.opts[-1]} given twice", ctx)
    return values[0] if values else None


def _run_options(command: F) -> F:
    for option in reversed(RUN_OPTIONS):  # the last decorator applied is the first option shown
        command = _click_option(option)(command)
    return command


@click.command()
@click.argument("file", type=FILE)
@_run_options
def run(file: Path, **options: Any) -> None:
    """Run one tracked event through the flows of a .ppflow file.

    \b
    Examples:
        ppdsl run lead.ppflow --event view_pricing
        ppdsl run lead.ppflow --event 2 --at 2026-11-25T08:00:00Z --json
        ppdsl run lead.ppflow --event '{"track_event": {"event_name": "signup",
            "event_data": {"plan": "pro"}, "event_timestamp": 1795593600}}'
        ppdsl run lead.ppflow --event @event.json --visitor li_lei.json --save
        ppdsl run lead.ppflow --event click --fail agent_a     # try `on failure`
        ppdsl run lead.ppflow --event 1 --fail ticket --fail any
        cat event.json | ppdsl run lead.ppflow --event @-

    A rejected event prints `error: MESSAGE`, exits 1 and changes nothing.
    """
    from ..lang.diagnostics import printable
    from .runner import UsageProblem, execute

    try:
        code = execute(str(file), **options)
    except UsageProblem as problem:
        message = printable(str(problem))  # file names and keys come from the user: no terminal escapes
        if problem.param == "--save":
            raise click.UsageError(message)
        raise click.BadParameter(message, param_hint=problem.param)
    sys.exit(code)
