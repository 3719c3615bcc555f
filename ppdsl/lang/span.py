"""Positions in a `.ppflow` file. A Span is two character offsets into one
Source; lines and columns are derived from the Source's line index, in the
units each consumer needs: characters for messages, UTF-16 code units for
the LSP, terminal cells for carets under wide (e.g. Chinese) text."""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property


class LineIndex:
    """Where each line starts. Lines end at LF (a Source has no other line ends)."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_of(self, pos: int) -> int:
        """1-based line of a character offset."""
        return bisect.bisect_right(self.starts, pos)

    def line_col(self, pos: int) -> tuple[int, int]:
        """1-based line and column, counting characters (code points)."""
        line = self.line_of(pos)
        return line, pos - self.starts[line - 1] + 1

    def utf16(self, pos: int) -> tuple[int, int]:
        """0-based line and UTF-16 column, as the Language Server Protocol counts."""
        line = self.line_of(pos)
        start = self.starts[line - 1]
        return line - 1, sum(2 if ord(ch) > 0xFFFF else 1 for ch in self.text[start:pos])

    def from_utf16(self, line: int, units: int) -> int:
        """The character offset of a 0-based line and UTF-16 column (an LSP
        Position). Positions past the end of a line or the file clamp to it."""
        if line < 0:
            return 0
        if line >= len(self.starts):
            return len(self.text)
        pos = self.starts[line]
        end = len(self.text) if line + 1 == len(self.starts) else self.starts[line + 1] - 1
        while pos < end and units > 0:
            units -= 2 if ord(self.text[pos]) > 0xFFFF else 1
            pos += 1
        return pos

    def offset(self, line: int, col: int) -> int:
        """The character offset of a 1-based line and column."""
        return self.starts[line - 1] + col - 1

    def line_text(self, line: int) -> str:
        start = self.starts[line - 1]
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        return self.text[start:end]


@dataclass(frozen=True, eq=False)
class Source:
    """A file's name and text (after decoding; a BOM removed)."""

    name: str
    text: str

    def __post_init__(self) -> None:
        # CR LF and a lone CR end lines too (old Mac files); one form keeps offsets simple
        if "\r" in self.text:
            object.__setattr__(self, "text", self.text.replace("\r\n", "\n").replace("\r", "\n"))

    @cached_property
    def index(self) -> LineIndex:
        return LineIndex(self.text)

    def span(self, start: int, end: int | None = None) -> Span:
        return Span(start, start + 1 if end is None else end, self)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    source: Source = field(compare=False, repr=False)

    @property
    def line(self) -> int:
        return self.source.index.line_of(self.start)

    @property
    def col(self) -> int:
        return self.source.index.line_col(self.start)[1]

    @property
    def length(self) -> int:
        return max(1, self.end - self.start)

    @property
    def end_line_col(self) -> tuple[int, int]:
        return self.source.index.line_col(max(self.start, self.end))

    def at(self, start: int, end: int | None = None) -> Span:
        """Another span of the same file."""
        return self.source.span(start, end)


def display_width(text: str) -> int:
    """Terminal cells: East Asian wide and full-width characters take two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1 for ch in text)
