"""What `ppdsl run` prints for a result: the readable summary, or --json."""

from __future__ import annotations

import json
import os
import sys
from ..lang.printable import printable

TYPE_CHECKING = False  # typing's costs the import-light `run` path its time
if TYPE_CHECKING:
    from typing import Any, Optional

    from ..engine.one_event import EventResult

_STAT_NAMES = ("event_count", "event_first_time", "event_last_time", "event_last_data")


def json_bytes(value: Any, indent: Optional[int] = None) -> bytes:
    """Valid JSON as UTF-8, whatever the locale: lone surrogates stay escaped,
    and a number JSON can't carry (NaN, Infinity) raises ValueError."""
    try:
        return json.dumps(value, ensure_ascii=False, indent=indent, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, indent=indent, allow_nan=False).encode("ascii")


def use_color(stream: Any, choice: str = "auto") -> bool:
    """--color: "always", "never", or "auto": on a terminal, unless NO_COLOR is set (not empty)."""
    if choice != "auto":
        return choice == "always"
    return not os.environ.get("NO_COLOR") and stream.isatty()


def write_stdout(data: bytes) -> None:
    """Bytes to stdout, after any text already printed."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def summary_text(result: EventResult) -> str:
    """The event, its statistics after the update, the actions and failed actions."""
    ev = result.event
    name = f" {ev['name']}" if ev["name"] else ""
    lines = [f"event {ev['seq']}{name} at {ev['time']} (count {ev['count']})", "statistics:"]
    suffix = f"_{ev['seq']}"
    lines += [
        f"  {k} = {json.dumps(v, ensure_ascii=False)}"
        for k, v in result.visitor.items()
        if k.startswith("event_") and k.endswith(suffix) and k[: -len(suffix)] in _STAT_NAMES
    ]
    if not result.actions:
        lines.append("actions: none")
    for title, actions in (("actions:", result.actions), ("failed:", result.failed)):
        if actions:
            lines.append(title)
            lines += [f"  {describe(a)}" for a in actions]
    return printable("\n".join(lines), keep="\n")  # event data comes from browsers: no terminal escapes


def describe(a: dict[str, Any]) -> str:
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
