"""`ppdsl run`: the click command. The work is in runner.py; fast_run.py serves
plain calls without importing click."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import click

from .common import FILE


@click.command()
@click.argument("file", type=FILE)
@click.option(
    "-e",
    "--event",
    "spec",
    required=True,
    metavar="SPEC",
    help="The event: JSON, @file.json, an event number or an event name.",
)
@click.option("--visitor", type=FILE, help="The visitor's state: a JSON object of PPMessage variables.")
@click.option("--save", is_flag=True, help="Write the updated visitor back to the --visitor file.")
@click.option("--at", metavar="TIME", help="The event's time when it carries none: ISO-8601 or epoch seconds.")
@click.option(
    "--fail", "fail", multiple=True, metavar="NAME", help="Make actions aimed at agent or group NAME fail (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def run(
    file: Path, spec: str, visitor: Optional[Path], save: bool, at: Optional[str], fail: tuple[str, ...], as_json: bool
) -> None:
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
