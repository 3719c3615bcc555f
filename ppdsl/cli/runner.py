"""`ppdsl run` from option values to printed output and an exit status, for
both the click command (run.py) and the fast path (fast_run.py). The engine
does the work; this module turns option values into its inputs, and its
results and errors into text.

Every usage problem is raised as UsageProblem before anything is changed, so
a caller can report it (exit 2) knowing that no file was touched.
"""

from __future__ import annotations

import functools
import math
import re
import sys

from ..build.loader import save_compiled
from ..engine.one_event import RejectedEvent, run_event, unaimed
from ..lang.printable import printable
from .output import json_bytes, summary_text, use_color, write_stdout

TYPE_CHECKING = False  # typing's costs the import-light `run` path its time
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Optional

    from ..engine.one_event import EventResult
    from ..engine.ruleset import Ruleset


class UsageProblem(Exception):
    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


def event_payload(spec: str) -> dict[str, Any]:
    """--event SPEC: JSON, @file.json (@- is stdin), an event number or an event name."""
    text = spec.strip()
    if text.startswith(("@", "{")):
        return _json_payload(text)
    if re.fullmatch(r"[0-9]+", text):
        return {"event_seq": int(text)}
    if text:  # a name in any script, or an alias such as "view-pricing" (docs/language.md section 3.1)
        return {"event_name": text}
    raise UsageProblem("--event", "give JSON ({...}), @file.json, @- (stdin), an event number or an event name")


def _json_payload(text: str) -> dict[str, Any]:
    from ..engine.json_input import InputError, json_object, read_text  # only for JSON: run stays light

    try:
        if text == "@-":
            return json_object(_stdin_text(), "<stdin>")
        if text.startswith("@"):
            return json_object(read_text(text[1:]), text[1:])
        return json_object(text, "the --event JSON")
    except InputError as exc:
        raise UsageProblem("--event", str(exc)) from None


@functools.cache  # read once: click may run after the fast path gave up
def _stdin_bytes() -> bytes:
    return sys.stdin.buffer.read()


def _stdin_text() -> str:
    try:
        return _stdin_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageProblem("--event", "can't read <stdin>: it is not UTF-8 text") from None


def at_time(text: str) -> object:
    """--at, checked now so that a bad time is a usage problem, not a rejected
    event. Messages show the time as given."""
    from ..runtime.common import _at_time

    given = text.strip()
    shown = given if len(given) <= 24 else given[:20] + "..."
    try:
        seconds: Optional[float] = float(given)
    except ValueError:
        seconds = None
    problem = None
    if seconds is None:
        try:
            return _at_time(given)
        except ValueError as exc:
            problem = str(exc)
    elif not math.isfinite(seconds):
        problem = f"the event time must be a finite number of seconds, got {shown}"
    elif seconds < 0:
        problem = f"the event time must not be negative, got {shown}"
    elif seconds >= 1e11:
        hint = f" ({seconds / 1000:.3f})" if seconds < 1e15 else ""
        problem = f"the event time {shown} looks like milliseconds; send seconds since the epoch{hint}"
    else:
        return _at_time(seconds)
    raise UsageProblem("--at", problem)


def execute(
    file: str,
    spec: str,
    visitor: Optional[str],
    save: bool,
    at: Optional[str],
    fail: tuple[str, ...],
    as_json: bool,
    quiet: bool,
    explain: bool = False,
    store: Optional[str] = None,
    visitor_id: Optional[str] = None,
) -> int:
    """Run one event and print the result (with `explain`, and why); returns
    the exit status (0 or 1; 2 for a --store that can't be used)."""
    if save and visitor is None:
        raise UsageProblem("--save", "--save needs --visitor FILE to write to")
    if store is not None or visitor_id is not None:
        if store is None or visitor_id is None:
            raise UsageProblem("--store", "--store URL and --visitor-id ID go together")
        if visitor is not None or explain:
            raise UsageProblem("--store", "--store takes the visitor from the store: leave out --visitor and --explain")
        payload, when = event_payload(spec), at_time(at) if at is not None else None
        return _run_in_store(file, payload, store, visitor_id, when, fail, as_json, quiet)
    if visitor is None:  # no visitor file: nothing to read, lock or save
        payload, when = event_payload(spec), at_time(at) if at is not None else None
        return _run(file, payload, None, when, at, fail, as_json, quiet, None, explain)
    from contextlib import ExitStack

    from ..engine.json_input import InputError
    from ..engine.visitor_file import SaveError, read_visitor, visitor_lock

    with ExitStack() as stack:
        if save:
            try:  # held from before the read until after the save
                stack.enter_context(visitor_lock(visitor))
            except SaveError as exc:
                raise UsageProblem("--visitor", str(exc)) from None
        payload = event_payload(spec)
        try:
            state = read_visitor(visitor)
        except InputError as exc:
            raise UsageProblem("--visitor", str(exc)) from None
        when = at_time(at) if at is not None else None
        return _run(file, payload, state, when, at, fail, as_json, quiet, visitor if save else None, explain)


def _run(
    file: str,
    payload: dict[str, Any],
    state: Optional[dict[str, Any]],
    when: object,
    at: Optional[str],
    fail: tuple[str, ...],
    as_json: bool,
    quiet: bool,
    save_to: Optional[str],
    explain: bool = False,
) -> int:
    """The event through the file's flows, the output, and the save (under the caller's lock)."""
    rules = load_rules(file, quiet)
    if rules is None:
        return 1
    if not quiet:
        for warning in option_warnings(rules, file, payload, at, fail):
            print(f"warning: {warning}", file=sys.stderr)
    trace: Optional[list[Any]] = None
    try:
        if explain:
            result, trace = _explained(file, rules, payload, state, when, fail)
        else:
            result = run_event(rules, payload, state, at=when, fail=fail)
    except RejectedEvent as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the explainer disagreeing with the module is ppdsl's bug, told plainly
        if type(exc).__name__ != "Disagreement":
            raise
        print(f"error: {exc} (a bug in ppdsl: please report it)", file=sys.stderr)
        return 1
    save_compiled(rules)
    try:
        out = _output(result, trace, as_json)
    except ValueError:  # never print invalid JSON
        print("error: the result holds a number that JSON can't carry", file=sys.stderr)
        return 1
    if save_to is not None:
        from ..engine.visitor_file import SaveError, save_visitor

        try:
            save_visitor(save_to, result.visitor)
        except SaveError as exc:
            print(f"error: {printable(str(exc))}; the visitor was not saved", file=sys.stderr)
            return 1
    if isinstance(out, bytes):  # --json is UTF-8 whatever the locale
        write_stdout(out)
    else:
        print(out)
    return 0


def _run_in_store(
    file: str,
    payload: dict[str, Any],
    url: str,
    visitor_id: str,
    when: Any,
    fail: tuple[str, ...],
    as_json: bool,
    quiet: bool,
) -> int:
    """--store: the event as an envelope for the visitor, through the engine
    that replay and the service use, committed before anything is printed."""
    from ..engine.envelope import EnvelopeError, parse_envelope, visitor_keys
    from ..engine.one_event import EventResult, failing
    from ..engine.processor import APPLIED, DUPLICATE, Processor
    from ..store import StoreError, open_store

    rules = load_rules(file, quiet)
    if rules is None:
        return 1
    event = payload.get("track_event", payload)
    if when is not None and isinstance(event, dict) and event.get("event_timestamp") is None:
        event = {**event, "event_timestamp": when.timestamp()}
    envelope = {"visitor_id": visitor_id, "message_id": payload.get("message_id"), "track_event": event}
    if "visitor" in payload:
        envelope["visitor"] = payload["visitor"]
    try:
        checked = parse_envelope(envelope, visitor_keys=visitor_keys(rules))
    except EnvelopeError as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return 1
    try:
        target = open_store(url)
        try:
            (outcome,) = Processor(rules, target, failing(frozenset(fail))).process([checked])
        finally:
            target.close()
        save_compiled(rules)
    except StoreError as exc:  # one line and exit 2, as `ppdsl replay` reports a store
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return 2
    if outcome.status == DUPLICATE:
        print(f"duplicate: message_id {printable(repr(checked.message_id))} was applied before; nothing changed")
        return 0
    if outcome.status != APPLIED:
        print(f"error: {printable(outcome.message)}", file=sys.stderr)
        return 1
    out = _output(EventResult(outcome.result), None, as_json)
    if isinstance(out, bytes):
        write_stdout(out)
    else:
        print(out)
    return 0


def _explained(
    file: str,
    rules: Ruleset,
    payload: dict[str, Any],
    state: Optional[dict[str, Any]],
    when: object,
    fail: tuple[str, ...],
) -> tuple[EventResult, list[Any]]:
    """--explain: the compiled module's result, and the trace of each flow
    (ppdsl.authoring.explain, which checks itself against the module)."""
    from ..authoring.explain import Explainer

    explained = Explainer.for_file(file, rules).explain(payload, state, at=when, fail=fail)
    if explained.result is None:
        raise RejectedEvent(explained.rejected)
    return explained.result, explained.flows


def _output(result: EventResult, trace: Optional[list[Any]], as_json: bool) -> bytes | str:
    """--json's bytes or the readable summary, each with the explanation when there is one."""
    if trace is None:
        return json_bytes(result.data) + b"\n" if as_json else summary_text(result)
    from ..authoring.explain import to_json, to_text

    if as_json:
        return json_bytes({**result.data, "explain": to_json(trace)}) + b"\n"
    return summary_text(result) + "\nexplain:\n" + to_text(trace).rstrip("\n")


def load_rules(file: str, quiet: bool) -> Optional[Ruleset]:
    """The compiled file, after printing its warnings (unless quiet) on stderr;
    None after printing its errors."""
    from ..build.loader import load_with_warnings

    color = use_color(sys.stderr)
    try:
        rules, warnings = load_with_warnings(file)
    except OSError as exc:
        raise UsageProblem("FILE", f"can't read {file}: {exc.strerror}") from None
    except Exception as exc:  # the compiler's modules load only when a file has errors
        from ..lang.diagnostics import CompileError, render, summary

        if not isinstance(exc, CompileError):
            raise
        for d in exc.diagnostics:
            print(render(d, color=color), file=sys.stderr)
        print(f"{printable(file)}: {summary(exc.diagnostics)}", file=sys.stderr)
        return None
    if not quiet:
        for plain, colored in warnings:
            print(colored if color else plain, file=sys.stderr)
    return rules


def option_warnings(
    rules: Ruleset, file: str, payload: dict[str, Any], at: Optional[str], fail: tuple[str, ...]
) -> Iterator[str]:
    """Options that will have no effect: a --fail name no action aims at, an
    --at for an event that carries its own time."""
    for name in unaimed(rules, fail):
        yield f"--fail {printable(name)}: no reply or assign in {printable(file)} is aimed at it"
    event = payload.get("track_event", payload)
    if at is not None and isinstance(event, dict) and event.get("event_timestamp") is not None:
        yield "--at is ignored: the event carries its own event_timestamp"
