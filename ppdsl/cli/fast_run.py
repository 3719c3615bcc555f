"""`ppdsl run`: one tracked event through a .ppflow file, from argument values
to printed output. No click here: the CLI wraps `execute`, and `fast_run`
serves the common case without loading click at all (see README, performance).

Every usage problem is raised as UsageProblem before anything is changed, so
a caller can report it (exit 2) knowing that no file was touched.
"""

from __future__ import annotations

import json
import os
import re
import sys

from ..lang.diagnostics import printable


class UsageProblem(Exception):
    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


def event_payload(spec: str) -> dict:
    """--event SPEC: JSON, @file.json, an event number or an event name."""
    text = spec.strip()
    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as f:
                return _json_object(f.read(), "--event", text[1:])
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageProblem("--event", f"can't read {text[1:]}: {getattr(exc, 'strerror', None) or exc}")
    if text.startswith("{"):
        return _json_object(text, "--event", "the --event JSON")
    if re.fullmatch(r"[0-9]+", text):
        return {"event_seq": int(text)}
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        return {"event_name": text}
    raise UsageProblem("--event", "give JSON ({...}), @file.json, an event number or an event name")


def _json_object(text: str, param: str, what: str) -> dict:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageProblem(param, f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageProblem(param, f"{what} must be a JSON object")
    return value


def visitor_state(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageProblem("--visitor", f"can't read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return _json_object(text, "--visitor", path) if text.strip() else {}


def at_time(text: str) -> object:
    from ..runtime.common import _at_time

    try:
        return _at_time(text.strip())
    except ValueError as exc:
        raise UsageProblem("--at", str(exc)) from None


def execute(
    file: str,
    spec: str,
    visitor: str | None = None,
    save: bool = False,
    at: str | None = None,
    fail: tuple = (),
    as_json: bool = False,
) -> int:
    """Run one event and print the result; returns the exit status (0 or 1)."""
    from ..build.loader import load
    from ..engine.files import write_text_atomically

    if save and visitor is None:
        raise UsageProblem("--save", "--save needs --visitor FILE to write to")
    if save and visitor is not None:
        visitor = os.path.realpath(visitor)  # write through a symlink, not over it
        if not os.path.isfile(visitor):
            raise UsageProblem("--visitor", f"--save writes only to a regular file, and {visitor} is not one")
    payload = event_payload(spec)
    state = visitor_state(visitor) if visitor is not None else None
    when = at_time(at) if at is not None else None
    try:
        rules = load(file)
    except OSError as exc:
        raise UsageProblem("FILE", f"can't read {file}: {exc.strerror}") from None
    except Exception as exc:
        from ..lang.diagnostics import CompileError, summary

        if not isinstance(exc, CompileError):
            raise
        print(exc.report(), file=sys.stderr)
        print(f"{printable(file)}: {summary(exc.diagnostics)}", file=sys.stderr)
        return 1
    names = set(fail)
    for name in sorted(names - set(getattr(rules, "_TARGETS", ()))):
        print(
            f"warning: --fail {printable(name)}: no reply or assign in {printable(file)} is aimed at it",
            file=sys.stderr,
        )

    def effects(action: dict) -> bool:
        return action.get("agent") not in names and action.get("group") not in names

    try:
        result = rules.handle(payload, state, effects if names else None, at=when)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if save and visitor is not None:
        text = json.dumps(result["visitor"], ensure_ascii=False, indent=2) + "\n"
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates that came with the visitor: keep them escaped
            text = json.dumps(result["visitor"], indent=2) + "\n"
        try:
            write_text_atomically(visitor, text)
        except OSError as exc:
            print(
                f"error: can't write {printable(visitor)}: {exc.strerror}; the visitor was not saved", file=sys.stderr
            )
            return 1
    print(json.dumps(result, ensure_ascii=False) if as_json else summary_text(result))
    return 0


def summary_text(result: dict) -> str:
    """The readable form of a result: the event, its statistics, the actions."""
    ev = result["event"]
    name = f" {ev['name']}" if ev["name"] else ""
    lines = [f"event {ev['seq']}{name} at {ev['time']} (count {ev['count']})", "statistics:"]
    suffix = f"_{ev['seq']}"
    lines += [
        f"  {k} = {json.dumps(v, ensure_ascii=False)}"
        for k, v in result["visitor"].items()
        if k.startswith("event_") and k.endswith(suffix) and k[: -len(suffix)] in _STAT_NAMES
    ]
    if not result["actions"]:
        lines.append("actions: none")
    for title, actions in (("actions:", result["actions"]), ("failed:", result["failed"])):
        if actions:
            lines.append(title)
            lines += [f"  {describe(a)}" for a in actions]
    return printable("\n".join(lines), keep="\n")  # event data comes from browsers: no terminal escapes


_STAT_NAMES = ("event_count", "event_first_time", "event_last_time", "event_last_data")


def describe(a: dict) -> str:
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


_VALUE_OPTIONS = {"--event": "spec", "-e": "spec", "--visitor": "visitor", "--at": "at", "--fail": "fail"}
_FLAGS = {"--save": "save", "--json": "as_json"}


def fast_run(args: list) -> int | None:
    """`ppdsl run` without click for plain, valid arguments. Returns None
    whenever click should handle the call instead (help, odd arguments,
    usage errors), which it then reports exactly as usual."""
    options: dict = {"fail": []}
    files = []
    queue = list(args)
    while queue:
        arg = queue.pop(0)
        # --opt=value; a short option keeps an "=" in its value, as click does
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in _VALUE_OPTIONS:
            if not eq:
                if not queue:
                    return None
                value = queue.pop(0)
            key = _VALUE_OPTIONS[name]
            if key == "fail":
                options["fail"].append(value)
            elif key in options:
                return None
            else:
                options[key] = value
        elif arg in _FLAGS:
            options[_FLAGS[arg]] = True
        elif arg.startswith("-"):
            return None
        else:
            files.append(arg)
    if len(files) != 1 or "spec" not in options or not os.path.isfile(files[0]):
        return None
    if "visitor" in options and not os.path.isfile(options["visitor"]):
        return None
    options["fail"] = tuple(options["fail"])
    try:
        return execute(files[0], **options)
    except UsageProblem:  # raised before anything is written: click reports it
        return None
