"""Writes that never leave half a file. The compile cache uses them too, so
this module imports only os: a cached `ppdsl.load` stays light."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing's costs the import-light `run` path its time
if TYPE_CHECKING:
    from typing import Optional


def write_text_atomically(path: str, text: str) -> None:
    """Replace a file with UTF-8 text in one step, writing through a symlink to
    its target. An existing file keeps its mode; a new one follows the umask."""
    write_bytes_atomically(os.path.realpath(path), text.encode("utf-8"))


def write_bytes_atomically(path: str, data: bytes, mode: Optional[int] = None) -> None:
    """Write a file in one step: a new, exclusive temp file beside it (never
    following a planted link), then a rename. Nothing is left behind on failure.
    `mode` is the exact mode; without it an existing file keeps its mode and a
    new one gets 0666 less the umask, as open() gives."""
    if mode is None:
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            pass
    tmp = f"{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode & 0o777)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)  # the exact mode, whatever the umask
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
