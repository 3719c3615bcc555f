"""Writes that never leave half a file. The compile cache uses them too, so
this module imports only os: a cached `ppdsl.load` stays light."""

from __future__ import annotations

import os


def write_text_atomically(path: str, text: str) -> None:
    """Replace a file with UTF-8 text in one step; an existing file keeps its permissions."""
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = 0o666
    write_bytes_atomically(path, text.encode("utf-8"), mode)


def write_bytes_atomically(path: str, data: bytes, mode: int = 0o666) -> None:
    """Write a file in one step: a new, exclusive temp file beside it (never
    following a planted link), then a rename. Nothing is left behind on failure."""
    tmp = f"{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the exact mode, whatever the umask
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
