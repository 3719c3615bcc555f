"""The `ppdsl` command: check, compile and run .ppflow files.

Only argument handling and printing live here; the work is done by
ppdsl.compiler and by the compiled module's `handle`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Optional

import click

from . import __version__
from .diagnostics import CompileError, Diagnostic, plural, render, summary

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _echo_diagnostics(filename: str, source: str, diags: list[Diagnostic], err: bool) -> None:
    for d in diags:
        click.echo(render(d, filename, source), err=err)


def _read(path: Path) -> str:
    from .compiler import read_source

    try:
        return read_source(path)
    except CompileError as exc:
        _echo_diagnostics(str(path), "", exc.diagnostics, err=True)
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
    from .compiler import compile_source

    failed = False
    for path in files:
        source = _read(path)
        result = compile_source(source, str(path), emit=False)
        _echo_diagnostics(str(path), source, result.diagnostics, err=False)
        if result.diagnostics:
            click.echo(f"{path}: {summary(result.diagnostics)}")
        else:
            click.echo(f"{path}: ok ({plural(result.flows, 'active flow')}, {plural(result.rules, 'rule')})")
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

    source = _read(file)
    result = compile_source(source, str(file))
    _echo_diagnostics(str(file), source, result.diagnostics, err=True)
    if result.code is None:
        click.echo(f"{file}: {summary(result.diagnostics)}; nothing written", err=True)
        sys.exit(1)
    if output is None:
        click.echo(result.code, nl=False)
        return
    _write_atomically(output, result.code)
    click.echo(f"wrote {output} ({plural(result.flows, 'active flow')})", err=True)


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
    from .compiler import compile_cached, module_from_code

    if save and visitor is None:
        raise click.UsageError("--save needs --visitor FILE to write to")
    payload = _event_payload(spec)
    state = _visitor_state(visitor) if visitor else None
    when = _at_time(at) if at is not None else None
    source = _read(file)
    try:
        code, _hit = compile_cached(source, str(file))
    except CompileError as exc:
        _echo_diagnostics(str(file), source, exc.diagnostics, err=True)
        click.echo(f"{file}: {summary(exc.diagnostics)}", err=True)
        sys.exit(1)
    rules = module_from_code(code, str(file))
    names = set(fail)

    def effects(action: dict[str, Any]) -> bool:
        return action.get("agent") not in names and action.get("group") not in names

    try:
        result = rules.handle(payload, state, effects if names else None, at=when)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if save and visitor is not None:
        _write_atomically(visitor, json.dumps(result["visitor"], ensure_ascii=False, indent=2) + "\n")
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(_summary_text(result))


def _event_payload(spec: str) -> Any:
    text = spec.strip()
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"can't read {text[1:]}: {getattr(exc, 'strerror', None) or exc}",
                                     param_hint="--event")
        return _json_object(text, "--event", text[1:] if False else spec[1:])
    if text.startswith("{"):
        return _json_object(text, "--event", "the --event JSON")
    if re.fullmatch(r"[0-9]+", text):
        return {"event_seq": int(text)}
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        return {"event_name": text}
    raise click.BadParameter("give JSON ({...}), @file.json, an event number or an event name",
                             param_hint="--event")


def _json_object(text: str, hint: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise click.BadParameter(f"{what} is not valid JSON: {exc}", param_hint=hint)
    if not isinstance(value, dict):
        raise click.BadParameter(f"{what} must be a JSON object", param_hint=hint)
    return value


def _visitor_state(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"can't read {path}: {exc}", param_hint="--visitor")
    if not text.strip():
        return {}
    return _json_object(text, "--visitor", str(path))


def _at_time(text: str) -> Any:
    from .runtime import _at_time as parse_at

    value: Any = text.strip()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
        value = float(value)
    try:
        return parse_at(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at")


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise click.ClickException(f"can't write {path}: {exc.strerror}")


def _summary_text(result: dict[str, Any]) -> str:
    ev = result["event"]
    name = f" {ev['name']}" if ev["name"] else ""
    lines = [f"event {ev['seq']}{name} at {ev['time']} (count {ev['count']})"]
    seq = ev["seq"]
    stats = {k: v for k, v in result["visitor"].items() if re.fullmatch(rf"event_\w+_{seq}", k)}
    lines.append("statistics:")
    lines += [f"  {k} = {json.dumps(v, ensure_ascii=False)}" for k, v in stats.items()]
    if not result["actions"] and not result["failed"]:
        lines.append("actions: none")
    for title, actions in (("actions:", result["actions"]), ("failed:", result["failed"])):
        if actions:
            lines.append(title)
            lines += [f"  {_describe(a)}" for a in actions]
    return "\n".join(lines)


def _describe(a: dict[str, Any]) -> str:
    where = f"[{a['flow']}:{a['line']}]"
    kind = a["type"]
    if kind == "reply":
        what = f"reply {a['agent']}" + (f": {a['text']}" if a["text"] is not None else "")
    elif kind == "assign":
        what = "assign " + ("any agent" if a.get("any") else f"group {a['group']}" if "group" in a else a["agent"])
    elif kind == "set":
        what = f"set {a['field']} = {json.dumps(a['value'], ensure_ascii=False)}"
    elif kind == "convert":
        what = f"convert customer_user_type = {a['customer_user_type']}"
    else:
        what = f"ticket: {a['text']}"
    if "error" in a:
        what += f" (error: {a['error']})"
    return f"{where} {what}"


def entry() -> None:
    """Console-script entry: no traceback ever reaches the user."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
    try:
        main(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
    except RecursionError:
        click.echo("error: the input is nested too deeply to process", err=True)
        sys.exit(1)
