"""A visitor's PPMessage variables kept as one JSON object in a file: what
`ppdsl run --visitor` reads and `--save` writes back."""

from __future__ import annotations

import json
import os
from typing import Any

from .files import write_text_atomically
from .json_input import json_object, read_text


class SaveError(Exception):
    """The visitor could not be saved to `path`; the file is as it was."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


def read_visitor(path: str) -> dict[str, Any]:
    """The visitor in the file; an empty file is a new visitor. Raises InputError."""
    text = read_text(path)
    return json_object(text, path) if text.strip() else {}


def saving_path(path: str) -> str:
    """The file a save of `path` replaces: the target of a symlink, never the
    link itself, and only a regular file. Check it before running an event,
    so a bad path is refused before anything happens."""
    target = os.path.realpath(path)
    if not os.path.isfile(target):
        raise SaveError(target, f"{target} is not a regular file")
    return target


def save_visitor(path: str, visitor: dict[str, Any]) -> None:
    """Replace the file in one step, keeping its permissions. Raises SaveError."""
    target = saving_path(path)
    text = json.dumps(visitor, ensure_ascii=False, indent=2) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates that came with the visitor: keep them escaped
        text = json.dumps(visitor, indent=2) + "\n"
    try:
        write_text_atomically(target, text)
    except OSError as exc:
        raise SaveError(target, f"can't write {target}: {exc.strerror}") from None
