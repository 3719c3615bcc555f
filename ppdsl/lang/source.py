"""Source text: decoding, the line index, and the lexical checks that run
before the grammar (typographic quotes, unclosed strings, control characters,
bracket depth). Comments are blanked here, column for column."""

from __future__ import annotations

import re
from typing import Optional

from . import messages as m_
from .diagnostics import SyntaxProblem, diagnostic
from .messages import MAX_BRACKETS
from .span import Source, Span
from .syntax import STRING

TYPOGRAPHIC_QUOTES = "‘’“”"


def decode_source(data: bytes, name: str) -> Source:
    """A file's bytes as a Source; bytes that aren't UTF-8 raise SyntaxProblem (E004)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        shown = Source(name, data.decode("utf-8", "replace"))  # for the caret
        at = len(data[: exc.start].decode("utf-8"))
        detail = f"byte 0x{data[exc.start]:02x} at offset {exc.start}"
        raise SyntaxProblem(diagnostic(m_.NOT_UTF8, shown.span(at), detail=detail)) from None
    return Source(name, text[1:] if text.startswith("\ufeff") else text)


def prescan(source: Source) -> str:
    """Lexical checks textX can't phrase well (typographic quotes, control
    characters, unclosed strings, nesting too deep to parse). Returns the text
    with comments blanked out, column for column: parsing it with a grammar
    that has no Comment rule is faster than trying that rule between tokens."""
    text = source.text
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
                raise SyntaxProblem(diagnostic(m_.UNCLOSED_STRING, source.span(i), quote=ch))
            i = m.end()
            continue
        if ch in TYPOGRAPHIC_QUOTES:
            raise SyntaxProblem(diagnostic(m_.TYPOGRAPHIC_QUOTE, source.span(i), quote=ch))
        if ch in "([{":
            depth += 1
            if depth > MAX_BRACKETS:
                raise SyntaxProblem(diagnostic(m_.TOO_DEEP_BRACKETS, source.span(i), limit=MAX_BRACKETS))
        elif ch in ")]}":
            depth -= 1
        elif not (ch.isprintable() or ch in "\t\n\r"):
            raise SyntaxProblem(diagnostic(m_.UNEXPECTED_CHARACTER, source.span(i), char=repr(ch)))
        i += 1
    if not comments:
        return text
    pieces, last = [], 0
    for a, b in comments:
        pieces += [text[last:a], " " * (b - a)]
        last = b
    return "".join(pieces) + text[last:]


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


def decode_string(raw: str, span: Span) -> tuple[str, list[int]]:
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
                at = span.start + i + 1
                raise SyntaxProblem(diagnostic(m_.LONE_SURROGATE, span.at(at, at + 6), escape=body[i : i + 6]))
            out.append(chr(code))
            offsets.append(i + 1)
            i += size
        else:
            esc = body[i : i + 2]
            at = span.start + i + 1
            raise SyntaxProblem(diagnostic(m_.BAD_ESCAPE, span.at(at, at + 2), escape=esc))
    offsets.append(len(body) + 1)
    return "".join(out), offsets
