"""Parsing one file again and again as it is edited (the language server's
case): the top-level items before the first change are reused, and only the
text from there on goes through textX, the slow part of checking.

The file is cut into chunks where a line starts, outside any bracket, with
`event`, `agent`, `group`, `field`, `segment`, `flow`, `on event` or `on any`.
After a parse, each chunk keeps the items that start in it (chunks merge
where an item runs on past a cut). On the next version, chunks are reused
from the start of the file for as long as their text is unchanged and each
still ends at a cut (or the end); the rest of the file is parsed as one
piece, starting at an item boundary, so it reads (and fails) exactly as in a
parse of the whole file. Reused items keep their Source: the text before
them is unchanged, so their offsets, lines and columns still hold.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from . import ir
from .diagnostics import Diagnostic, SyntaxProblem
from .lower import Item, _Lower, assemble
from .source import prescan
from .span import LineIndex, Source
from .syntax import STRING, metamodel, syntax_diagnostic, with_depth

_CUTS = re.compile(
    STRING.pattern + r"|[][(){}]|^(?:event|agent|group|field|segment|flow)\b|^on[ \t]+(?:event|any)\b", re.M
)


def cuts(text: str) -> list[int]:
    """Where chunks start: 0, and each top-level keyword at the start of a line outside brackets."""
    out, depth = [0], 0
    for m in _CUTS.finditer(text):
        ch = text[m.start()]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch.isalpha() and depth == 0 and m.start():
            out.append(m.start())
    return out


@dataclass
class _Chunk:
    text: str  # as the grammar reads it (comments blanked)
    items: list[Item]
    diags: list[Diagnostic]  # found while lowering its items


class Reparser:
    """Parses successive versions of one file; `parse` is `lower.parse` with memory."""

    def __init__(self) -> None:
        self.chunks: list[_Chunk] = []

    def parse(self, source: Source) -> tuple[ir.Program, list[Diagnostic]]:
        from textx.exceptions import TextXSyntaxError

        scan = prescan(source)
        text = scan.text
        starts = cuts(text)
        at_cut = set(starts)
        at_cut.add(len(text))
        kept: list[_Chunk] = []
        base = 0
        for chunk in self.chunks:
            end = base + len(chunk.text)
            if end not in at_cut or not text.startswith(chunk.text, base):
                break
            kept.append(chunk)
            base = end
        tail = text[base:]
        try:
            model = with_depth(lambda: metamodel().model_from_str(tail))
        except TextXSyntaxError as err:
            self.chunks = kept
            pos = base + LineIndex(tail).offset(err.line, err.col)
            raise SyntaxProblem(syntax_diagnostic(err, source, offset=pos)) from None
        lower = _Lower(source, base=base)
        items = lower.items(model)
        lower.parse_templates()
        self.chunks = kept + _split(text, base, [s for s in starts if s > base] + [len(text)], items, lower.diags)
        program = assemble(source.name, [item for chunk in self.chunks for item in chunk.items])
        program.comments = scan.comments
        return program, scan.warnings + [d for chunk in self.chunks for d in chunk.diags]


def _split(text: str, start: int, ends: list[int], items: list[Item], diags: list[Diagnostic]) -> list[_Chunk]:
    """The chunks of text[start:], each with the items that start in it; a cut
    inside an item is skipped, so no item crosses into the next chunk."""
    bounds: list[tuple[int, int, list[Item]]] = []
    pending: list[Item] = []
    begin, reach, k = start, start, 0

    def close_until(limit: float) -> None:
        nonlocal begin, pending, k
        while k < len(ends) and ends[k] <= limit:
            if ends[k] >= reach:
                bounds.append((begin, ends[k], pending))
                begin, pending = ends[k], []
            k += 1

    for item in items:
        close_until(item.span.start)
        pending.append(item)
        reach = max(reach, item.span.end)
    close_until(float("inf"))
    if begin < len(text) or not bounds:
        bounds.append((begin, len(text), pending))
    chunks = [_Chunk(text[a:b], chunk_items, []) for a, b, chunk_items in bounds]
    firsts = [a for a, _b, _items in bounds]
    for d in diags:
        chunks[max(0, bisect.bisect_right(firsts, d.span.start) - 1)].diags.append(d)
    return chunks
