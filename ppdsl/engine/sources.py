"""Files of JSON lines, one envelope a line: plain or gzip, or `-` for
standard input. A bad line is an item of its own, with its FILE:LINE, so a
replay counts it and goes on."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import sys
import zlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO, Optional

MAX_LINE = 1 << 20
"""A line longer than this (1 MiB) is counted as too long and skipped unread."""
_HEAD = 1 << 16  # a source is known by the hash of its first 64 KiB


class BadLine:
    """A line that can't be read: `reason` says why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


class Source:
    """One EVENTS argument. `identity` (known once opened) names its content,
    so a replay into a store knows the file again, whatever its name."""

    def __init__(self, path: str):
        self.path = path
        self.name = "<stdin>" if path == "-" else path
        self.identity = ""
        self.size = 0
        self._raw: Optional[BinaryIO] = None

    def open(self) -> Iterator[tuple[int, bytes | BadLine]]:
        """Read the head (so `identity` is known), then give (line number,
        line) pairs from line 1, empty lines left out. Raises OSError."""
        raw: BinaryIO = sys.stdin.buffer if self.path == "-" else open(self.path, "rb")  # noqa: SIM115
        self._raw = raw
        try:
            self.size = os.fstat(raw.fileno()).st_size if self.path != "-" else 0
        except (OSError, ValueError):
            self.size = 0
        stream: BinaryIO = raw
        head, cut, failure = b"", b"", None
        try:
            magic = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
            if magic == b"\x1f\x8b":
                stream = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
            while len(head) < _HEAD:  # a piece at a time: what comes before a gzip file's cut is kept
                piece = stream.read1(_HEAD - len(head))  # type: ignore[attr-defined]
                if not piece:
                    break
                head += piece
            if len(head) == _HEAD and not head.endswith(b"\n"):
                head += stream.readline(MAX_LINE)
            if len(head) > _HEAD and not head.endswith(b"\n"):  # a line of over 1 MiB starts in the head
                before, _, cut = head.rpartition(b"\n")
                head = before + b"\n" if before else b""
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            failure = exc
            head, cut, stream = head[: head.rfind(b"\n") + 1], b"", io.BytesIO()  # the cut line is the bad one
        self.identity = hashlib.sha256(head + cut).hexdigest()[:32]
        return self._lines(raw, _split(io.BytesIO(head), stream, cut), failure)

    def close(self) -> None:
        if self._raw is not None and self._raw is not sys.stdin.buffer:
            self._raw.close()

    def position(self) -> int:
        """Bytes of the file read so far (compressed bytes for gzip), for progress."""
        try:
            return self._raw.tell() if self._raw is not None and self.path != "-" else 0
        except (OSError, ValueError):
            return 0

    def _lines(
        self, raw: BinaryIO, lines: Iterator[bytes | BadLine], failure: Optional[BaseException]
    ) -> Iterator[tuple[int, bytes | BadLine]]:
        number = 0
        try:
            try:
                for line in lines:
                    number += 1
                    if isinstance(line, BadLine) or line.strip():
                        yield number, line
            except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
                failure = exc
            if failure is not None:
                yield number + 1, BadLine(_gzip_reason(failure))
        finally:
            if raw is not sys.stdin.buffer:
                raw.close()


def _split(head: BinaryIO, rest: BinaryIO, cut: bytes) -> Iterator[bytes | BadLine]:
    """The lines of `head`, then those of `rest`; `cut` is the start of a
    too-long line that `rest` ends."""
    for stream in (head, rest):
        if stream is rest and cut:
            line = cut
            while line and not line.endswith(b"\n"):
                line = rest.readline(MAX_LINE)
            yield BadLine(f"the line is longer than {MAX_LINE >> 20} MiB")
        readline = stream.readline
        while True:
            line = readline(MAX_LINE + 1)
            if not line:
                break
            if len(line) > MAX_LINE and not line.endswith(b"\n"):
                while line and not line.endswith(b"\n"):  # skip the rest of it, a piece at a time
                    line = readline(MAX_LINE)
                yield BadLine(f"the line is longer than {MAX_LINE >> 20} MiB")
                continue
            yield line


def _gzip_reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the gzip file is cut short here: nothing after this point can be read"
    if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile):
        return f"can't read on: {exc.strerror or exc}"
    return f"the gzip data is damaged: {exc}"
