"""`ppdsl eval`: print one expression's value. The work is in
ppdsl/authoring/evaluate.py; this module turns options into its inputs
(with run's helpers) and its result or errors into output."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import click

from .common import FILE


@click.command(name="eval")
@click.argument("expression", metavar="EXPR")
@click.option(
    "--visitor",
    type=click.Path(exists=True, dir_okay=False),
    help="The visitor's state: a JSON object of PPMessage variables (default: a new visitor).",
)
@click.option(
    "-e",
    "--event",
    "spec",
    metavar="SPEC",
    help="A current event, counted as `run` counts it before flows run: JSON, @file.json (@- reads stdin), "
    "an event number or an event name. Without it, `data` and `track_event_*` are errors.",
)
@click.option(
    "-f", "--file", "flow_file", type=FILE, help="A .ppflow file whose events, fields and segments are in scope."
)
@click.option(
    "--at",
    metavar="TIME",
    help="ISO-8601 or epoch seconds: `now` (default: the time of the call); with --event, the event's time "
    "when it carries none.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"value": VALUE, "type": TYPE}: VALUE as JSON (times ISO-8601 text, durations whole seconds), '
    "TYPE the static type: int, float, string, bool, datetime, duration, list, json, null, or any when only "
    "the run time can tell.",
)
def eval_(
    expression: str,
    visitor: Optional[str],
    spec: Optional[str],
    flow_file: Optional[Path],
    at: Optional[str],
    as_json: bool,
) -> None:
    """Evaluate one expression for a visitor and print its value as a
    template would: null as an empty line, true/false, times as ISO-8601 in
    UTC, durations as seconds (300s), lists and objects as compact JSON.

    \b
    Examples:
        ppdsl eval '7 / 2'                                     # 3.5
        ppdsl eval 'count(2) > 8' --visitor li_lei.json
        ppdsl eval 'count(view_pricing)' --file lead.ppflow --visitor li_lei.json --event view_pricing
        ppdsl eval 'engaged' --file lead.ppflow --visitor li_lei.json   # a segment
        ppdsl eval 'data.plan' --event '{"event_seq": 3, "event_data": {"plan": "pro"}}' --json
        ppdsl eval 'now - 1d' --at 2026-11-25T08:00:00Z
        ppdsl eval -- '-5m'                                    # an expression that starts with '-'

    Errors in the expression or the file are printed on stderr as `check`
    prints them, and a rejected event as `error: MESSAGE`; both exit 1.
    """
    from ..authoring.evaluate import CompileError, RejectedEvent, evaluate
    from ..lang.diagnostics import printable, render, summary
    from .output import json_bytes, use_color, write_stdout
    from .runner import UsageProblem, at_time, event_payload

    color = use_color(sys.stderr)
    try:
        payload = event_payload(spec) if spec is not None else None
        state = _visitor(visitor)
        when = at_time(at) if at is not None else None
    except UsageProblem as problem:
        raise click.BadParameter(printable(str(problem)), param_hint=problem.param)
    try:
        result = evaluate(expression, file=flow_file, visitor=state, event=payload, at=when)
    except OSError as exc:
        raise click.UsageError(f"can't read {printable(str(flow_file))}: {exc.strerror}")
    except CompileError as exc:
        for d in exc.diagnostics:
            click.echo(render(d, color=color), err=True, color=color)
        click.echo(f"{printable(exc.filename)}: {summary(exc.diagnostics)}", err=True)
        sys.exit(1)
    except RejectedEvent as exc:
        click.echo(f"error: {printable(str(exc))}", err=True)
        sys.exit(1)
    for d in result.warnings:
        click.echo(render(d, color=color), err=True, color=color)
    event = payload.get("track_event", payload) if payload is not None else None
    if at is not None and isinstance(event, dict) and event.get("event_timestamp") is not None:
        click.echo("warning: --at is ignored: the event carries its own event_timestamp", err=True)
    if not as_json:
        click.echo(printable(result.text, keep="\t\n"))  # values come from browsers: no terminal escapes
        return
    try:
        out = json_bytes({"value": result.json, "type": result.type})
    except ValueError:  # never print invalid JSON
        click.echo("error: the value holds a number that JSON can't carry", err=True)
        sys.exit(1)
    write_stdout(out + b"\n")


def _visitor(path: Optional[str]) -> Optional[dict[str, Any]]:
    if path is None:
        return None
    from ..engine.json_input import InputError
    from ..engine.visitor_file import read_visitor
    from .runner import UsageProblem

    try:
        return read_visitor(path)
    except InputError as exc:
        raise UsageProblem("--visitor", str(exc)) from None
