"""A visitor's PPMessage variables kept as one JSON object in a file: what
`ppdsl run --visitor` reads and `--save` writes back."""

from __future__ import annotations

import json
import os
import stat
from contextlib import contextmanager

from .files import write_text_atomically
from .json_input import json_object, read_text

TYPE_CHECKING = False  # typing's costs the import-light `run` path its time
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

try:
    import fcntl
except ImportError:  # no advisory locks here (Windows): saves are not serialized
    fcntl = None  # type: ignore[assignment]


class SaveError(Exception):
    """The visitor could not be saved to `path` (as the caller gave it); the file is as it was."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


def read_visitor(path: str) -> dict[str, Any]:
    """The visitor in the file; an empty file is a new visitor. Raises InputError."""
    text = read_text(path)
    return json_object(text, path) if text.strip() else {}


def _writable(path: str) -> bool:
    """Write permission by the owner's mode bit as well as access(), so that a
    read-only file counts as one even for root, who may write anything."""
    return bool(os.stat(path).st_mode & stat.S_IWUSR) and os.access(path, os.W_OK)


def saving_path(path: str) -> str:
    """The file a save of `path` replaces: the target of a symlink, never the
    link itself, and only a regular, writable file in a writable folder (the
    new file is renamed into it). Check it before running an event, so a bad
    path is refused before anything happens. Raises SaveError."""
    target = os.path.realpath(path)
    if not os.path.isfile(target):
        raise SaveError(path, f"--save writes only to a regular file, and {path} is not one")
    if not _writable(target):
        raise SaveError(path, f"{path} is read-only; --save does not replace it")
    folder = os.path.dirname(target)
    if not _writable(folder):
        given = os.path.dirname(path) or "."
        shown = given if os.path.realpath(given) == folder else folder
        raise SaveError(
            path, f"can't save {path}: the folder {shown} is read-only (--save puts a new file in its place)"
        )
    return target


@contextmanager
def visitor_lock(path: str) -> Iterator[None]:
    """Hold an exclusive advisory lock (flock) on TARGET.lock, beside the file
    a save of `path` replaces, so concurrent read-modify-write cycles take
    turns. The lock file stays: removing it would race with a waiting run.
    Raises SaveError when `path` can't be saved or the lock file can't be opened."""
    lock = saving_path(path) + ".lock"
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as exc:
        raise SaveError(path, f"can't lock {path}: {exc.strerror}") from None
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def save_visitor(path: str, visitor: dict[str, Any]) -> None:
    """Replace the file in one step, keeping its permissions. Raises SaveError."""
    target = saving_path(path)
    try:
        text = json.dumps(visitor, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates that came with the visitor: keep them escaped
        text = json.dumps(visitor, indent=2, allow_nan=False) + "\n"
    except ValueError:
        raise SaveError(path, f"can't write {path}: the visitor holds a number that JSON can't carry") from None
    try:
        write_text_atomically(target, text)
    except OSError as exc:
        raise SaveError(path, f"can't write {path}: {exc.strerror}") from None
