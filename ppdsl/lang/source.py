"""Source text: decoding, and the lexical checks that run before the grammar
(typographic and full-width punctuation, unclosed strings, control
characters, bracket depth). Comments are blanked here, column for column; the
line index is in span.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from . import messages as m_
from .diagnostics import Diagnostic, SyntaxProblem, diagnostic
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


@dataclass
class Scan:
    """What the lexical pass finds before the grammar runs."""

    text: str  # the source with comments blanked, column for column
    comments: list[Span]
    warnings: list[Diagnostic]


# characters some editors show as a line break, but ppflow (like Python's tokenizer) does not
_HIDDEN_BREAKS = {"\x0b": "a vertical tab", "\x0c": "a form feed", "\x85": "U+0085 (next line)",
                  "\u2028": "U+2028 (line separator)", "\u2029": "U+2029 (paragraph separator)"}  # fmt: skip
# full-width punctuation from Chinese input methods, and the ASCII it stands for
FULLWIDTH = {"＂": '"', "＇": "'", "，": ",", "（": "(", "）": ")", "［": "[", "］": "]", "｛": "{", "｝": "}",
             "＝": "=", "＜": "<", "＞": ">", "！": "!", "＋": "+", "－": "-", "＊": "*", "／": "/", "％": "%",
             "．": ".", "。": ".", "：": ":", "；": ";", "→": "->", "≥": ">=", "≤": "<=", "≠": "!=",
             "＆": "&&", "｜": "||", "＃": "#"}  # fmt: skip


def prescan(source: Source) -> Scan:
    """Lexical checks textX can't phrase well (typographic and full-width
    punctuation, control characters, unclosed strings, nesting too deep to
    parse). Comments are blanked out, column for column: parsing with a
    grammar that has no Comment rule is faster than trying that rule between
    tokens. Their spans are kept for the formatter."""
    text = source.text
    depth = 0
    i, n = 0, len(text)
    comments: list[Span] = []
    warnings: list[Diagnostic] = []
    while i < n:
        ch = text[i]
        if ch == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            comments.append(source.span(i, j))
            for k in range(i, j):
                if text[k] in _HIDDEN_BREAKS:
                    warnings.append(diagnostic(m_.COMMENT_LINE_BREAK, source.span(k), char=_HIDDEN_BREAKS[text[k]]))
                    break
            i = j
            continue
        if ch in "\"'":
            m = STRING.match(text, i)
            if not m:
                raise SyntaxProblem(diagnostic(m_.UNCLOSED_STRING, source.span(i), quote=ch))
            _check_inner_quote(source, m.group(), m.end())
            i = m.end()
            continue
        if ch in TYPOGRAPHIC_QUOTES:
            straight = "'" if ch in "‘’" else '"'
            raise SyntaxProblem(diagnostic(m_.TYPOGRAPHIC_QUOTE, source.span(i), replacement=straight, quote=ch))
        if ch in FULLWIDTH:
            fix, char, ascii = FULLWIDTH[ch], f"'{ch}'", f"'{FULLWIDTH[ch]}'"
            raise SyntaxProblem(diagnostic(m_.FULLWIDTH, source.span(i), replacement=fix, char=char, ascii=ascii))
        if ch in "([{":
            depth += 1
            if depth > MAX_BRACKETS:
                raise SyntaxProblem(diagnostic(m_.TOO_DEEP_BRACKETS, source.span(i), limit=MAX_BRACKETS))
        elif ch in ")]}":
            depth -= 1
        elif not (ch.isprintable() or ch in "\t\n\r"):
            raise SyntaxProblem(diagnostic(m_.UNEXPECTED_CHARACTER, source.span(i), char=repr(ch)))
        i += 1
    if comments:
        pieces, last = [], 0
        for span in comments:
            pieces += [text[last : span.start], " " * (span.end - span.start)]
            last = span.end
        text = "".join(pieces) + text[last:]
    return Scan(text, comments, warnings)


def _check_inner_quote(source: Source, literal: str, end: int) -> None:
    """`"Hi {{ user_fullname or "there" }}"`: the inner quote ends the string,
    and the grammar would only say it expected something else after it."""
    after = source.text[end : end + 2]
    if after[:1].isalnum() or after[:1] == "_" or after == "{{":  # never valid right after a string
        body = literal[1:-1]
        if body.rfind("{{") > body.rfind("}}"):
            quote = literal[-1]
            other = "'" if quote == '"' else '"'
            raise SyntaxProblem(diagnostic(m_.TEMPLATE_INNER_QUOTE, source.span(end - 1), quote=quote, other=other))


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
