"""Source text: decoding, the line index, and the lexical checks that run
before the grammar (typographic quotes, unclosed strings, control characters,
bracket depth). Comments are blanked here, column for column."""

from __future__ import annotations

import bisect
import re
from typing import Optional

from . import ir
from .diagnostics import SyntaxProblem, make
from .syntax import STRING

MAX_NESTING = 64  # brackets or statements inside each other
TYPOGRAPHIC_QUOTES = "‘’“”"


def decode_source(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SyntaxProblem(
            make(
                "E004",
                line,
                col,
                detail=f"byte 0x{data[exc.start]:02x} at offset {exc.start}",
                help="save the file as UTF-8",
            )
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


class LineIndex:
    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def loc(self, pos: int, length: int = 1) -> ir.Loc:
        line = bisect.bisect_right(self.starts, pos)
        return ir.Loc(line, pos - self.starts[line - 1] + 1, max(1, length))


def prescan(text: str, index: LineIndex) -> str:
    """Lexical checks textX can't phrase well (typographic quotes, control
    characters, unclosed strings, nesting too deep to parse). Returns the text
    with comments blanked out, column for column: parsing it with a grammar
    that has no Comment rule is faster than trying that rule between tokens."""
    depth = 0
    i, n = 0, len(text)
    comments = []
    while i < n:
        ch = text[i]
        if ch == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            comments.append((i, j))
            i = j
            continue
        if ch in "\"'":
            m = STRING.match(text, i)
            if not m:
                loc = index.loc(i)
                raise SyntaxProblem(
                    make(
                        "E006",
                        loc.line,
                        loc.col,
                        help=f"end it with {ch} on the same line; write a line break inside a string as \\n",
                    )
                )
            i = m.end()
            continue
        if ch in TYPOGRAPHIC_QUOTES:
            loc = index.loc(i)
            raise SyntaxProblem(make("E002", loc.line, loc.col, quote=ch, help=STRAIGHT_QUOTES))
        if ch in "([{":
            depth += 1
            if depth > MAX_NESTING:
                loc = index.loc(i)
                raise SyntaxProblem(
                    make(
                        "E005",
                        loc.line,
                        loc.col,
                        limit=MAX_NESTING,
                        help="split the expression with `let` or a segment",
                    )
                )
        elif ch in ")]}":
            depth -= 1
        elif not (ch.isprintable() or ch in "\t\n\r"):
            loc = index.loc(i)
            raise SyntaxProblem(
                make(
                    "E001",
                    loc.line,
                    loc.col,
                    detail=f"unexpected character {ch!r}",
                    help="remove it; only text belongs in a .ppflow file",
                )
            )
        i += 1
    if not comments:
        return text
    pieces, last = [], 0
    for a, b in comments:
        pieces += [text[last:a], " " * (b - a)]
        last = b
    return "".join(pieces) + text[last:]


STRAIGHT_QUOTES = "write strings with straight quotes: \"...\" or '...'"


def typographic_quote(text: str) -> Optional[int]:
    """Where a typographic quote stands outside the string literals of an expression."""
    i = 0
    while i < len(text):
        if text[i] in "\"'":
            m = STRING.match(text, i)
            i = m.end() if m else i + 1
        elif text[i] in TYPOGRAPHIC_QUOTES:
            return i
        else:
            i += 1
    return None


_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}


def decode_string(raw: str, loc: ir.Loc) -> tuple[str, list[int]]:
    """Decode a quoted literal. Returns the text and, for each character, its
    offset in `raw`, so template diagnostics can point inside the string."""
    body = raw[1:-1]
    out: list[str] = []
    offsets: list[int] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            offsets.append(i + 1)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            offsets.append(i + 1)
            i += 2
        elif nxt == "u" and _HEX4.fullmatch(body, i + 2, i + 6):
            code = int(body[i + 2 : i + 6], 16)
            size = 6
            if 0xD800 <= code <= 0xDBFF and body[i + 6 : i + 8] == "\\u" and _HEX4.fullmatch(body, i + 8, i + 12):
                low = int(body[i + 8 : i + 12], 16)
                if 0xDC00 <= low <= 0xDFFF:  # a UTF-16 pair, as JSON spells U+10000 and up
                    code, size = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00), 12
            if 0xD800 <= code <= 0xDFFF:
                raise SyntaxProblem(
                    make(
                        "E003",
                        loc.line,
                        loc.col + i + 1,
                        6,
                        escape=body[i : i + 6],
                        help="a lone UTF-16 surrogate is not text; write the character "
                        "itself or a high+low pair like \\ud83d\\ude00",
                    )
                )
            out.append(chr(code))
            offsets.append(i + 1)
            i += size
        else:
            esc = body[i : i + 2]
            raise SyntaxProblem(
                make("E003", loc.line, loc.col + i + 1, 2, escape=esc, help=r"use one of \\ \" \' \n \t \uXXXX")
            )
    offsets.append(len(body) + 1)
    return "".join(out), offsets
