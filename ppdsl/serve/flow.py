"""The flow the service runs: loaded from its .ppflow file, loaded again when
the file changes. A file with errors is not loaded: the previous flow stays
and the diagnostics go to the log."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from ..build.loader import load_with_warnings

log = logging.getLogger("ppdsl.serve")


class FlowError(Exception):
    """The file can't be read or has errors; the message holds the diagnostics."""


@dataclass(frozen=True)
class Flow:
    file: str
    version: str
    """A digest of the source: it changes when a reload brings a different file."""
    rules: Any

    def summary(self) -> dict[str, Any]:
        """What the demo page needs: the events and the agents' display names."""
        events = self.rules.EVENTS
        return {
            "file": os.path.basename(self.file),
            "version": self.version,
            "events": [
                {"seq": seq, "name": events[seq]["name"], "description": events[seq].get("description")}
                for seq in sorted(events)
            ],
            "agents": dict(getattr(self.rules, "_AGENTS", {})),
        }


def load_flow(path: str) -> Flow:
    """Compile the file (through the compile cache). Raises FlowError."""
    try:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        rules, warnings = load_with_warnings(path)
    except OSError as exc:
        raise FlowError(f"can't read {path}: {exc.strerror}") from None
    except Exception as exc:  # CompileError: its module loads only when a file has errors
        diagnostics = getattr(exc, "diagnostics", None)
        if diagnostics is None:
            raise
        from ..lang.diagnostics import render, summary

        text = "\n".join(render(d) for d in diagnostics)
        raise FlowError(f"{text}\n{path}: {summary(diagnostics)}") from None
    for plain, _ in warnings:
        log.warning("%s", plain)
    return Flow(path, digest, rules)


def script_json(value: Any) -> str:
    """JSON that is safe inside an HTML <script>: no `<`, `>` or `&` that could
    close it, and no U+2028/2029, which end a line in older JavaScript."""
    text = json.dumps(value, ensure_ascii=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text
