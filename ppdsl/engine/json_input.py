"""JSON objects from files and text, with messages that name the input: the
visitor file here, and `--event @file.json` in the CLI."""

from __future__ import annotations

import json
from typing import Any


class InputError(Exception):
    """An input that can't be used; the message names it and says why."""


def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"can't read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def json_object(text: str, what: str) -> dict[str, Any]:
    """Parse JSON text that must be an object; `what` names it in the message."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object")
    return value
