"""Parsing one file again and again as it is edited (the language server's
case): the top-level items before and after the change are reused, and only
the text between them goes through textX, the slow part of checking.

The file is cut into chunks where a line starts, outside any bracket, with
`event`, `agent`, `group`, `field`, `segment`, `flow`, `on event` or `on any`.
After a parse, each chunk keeps the items that start in it (chunks merge
where an item runs on past a cut). On the next version, chunks are reused
from the start of the file, and from its end, for as long as their text is
unchanged and each still begins and ends at a cut (or an end of the file).
The text between is parsed as one piece that starts and ends at item
boundaries, so it reads (and fails) exactly as in a parse of the whole file;
when it fails at its very end, where the whole file would go on, the rest of
the file is parsed with it. Items reused from the start keep their Source (the
text before them is unchanged); items reused from the end are moved to their
new offsets in the new Source.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, fields, replace
from typing import Any

from . import ir
from .diagnostics import Diagnostic, Label, SyntaxProblem
from .lower import Item, _Lower, assemble
from .source import prescan
from .span import LineIndex, Source, Span
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
    start: int  # where it stands in the version its items' spans point into
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
        after: list[_Chunk] = []
        end = len(text)
        for chunk in reversed(self.chunks[len(kept) :]):
            begin = end - len(chunk.text)
            if begin < base or begin not in at_cut or not text.startswith(chunk.text, begin):
                break
            after.insert(0, chunk)
            end = begin
        while True:
            middle = text[base:end]
            try:
                model = _parse(middle)
                break
            except TextXSyntaxError as err:
                pos = base + LineIndex(middle).offset(err.line, err.col)
                if after and not text[pos:end].strip():  # failed where the whole file goes on: read on
                    after, end = [], len(text)
                    continue
                self.chunks = kept + after
                raise SyntaxProblem(syntax_diagnostic(err, source, offset=pos)) from None
        lower = _Lower(source, base=base)
        items = lower.items(model)
        lower.parse_templates()
        ends = [s for s in starts if base < s < end] + [end]
        for chunk in after:
            _move(chunk, end, source)
            end += len(chunk.text)
        self.chunks = kept + _split(text, base, ends, items, lower.diags) + after
        program = assemble(source.name, [item for chunk in self.chunks for item in chunk.items])
        program.comments = scan.comments
        return program, scan.warnings + [d for chunk in self.chunks for d in chunk.diags]


def _move(chunk: _Chunk, start: int, source: Source) -> None:
    """Point a reused chunk's items and diagnostics at `start` in `source`."""
    delta = start - chunk.start

    def moved(span: Span) -> Span:
        return Span(span.start + delta, span.end + delta, source)

    stack: list[Any] = [chunk.items]
    while stack:  # ir.walk, cut down to what can hold a Span: this runs on every keystroke
        node = stack.pop()
        if type(node) in (list, tuple):
            stack.extend(v for v in node if type(v) in (list, tuple) or hasattr(v, "__dataclass_fields__"))
            continue
        spans, children = _plan(type(node))
        for name in spans:
            span = getattr(node, name)
            if span is not None:
                setattr(node, name, moved(span))
        for name in children:
            value = getattr(node, name)
            if type(value) in (list, tuple) or hasattr(value, "__dataclass_fields__"):
                stack.append(value)
    chunk.diags = [
        replace(d, span=moved(d.span), labels=tuple(Label(moved(label.span), label.text) for label in d.labels))
        for d in chunk.diags
    ]
    chunk.start = start


def _parse(text: str) -> Any:
    return with_depth(lambda: metamodel().model_from_str(text))


_PLANS: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}
_LEAVES = ("ty", "binding")  # set by the checker: types and bindings hold no spans


def _plan(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """An IR node class's fields that hold a Span, and those that may hold nodes."""
    plan = _PLANS.get(cls)
    if plan is None:
        names = [f.name for f in fields(cls)]
        spans = tuple(n for n in names if n == "span" or n.endswith("_span"))
        plan = _PLANS[cls] = (spans, tuple(n for n in names if n not in spans and n not in _LEAVES))
    return plan


def _split(text: str, start: int, ends: list[int], items: list[Item], diags: list[Diagnostic]) -> list[_Chunk]:
    """The chunks of text[start:ends[-1]], each with the items that start in it;
    a cut inside an item is skipped, so no item crosses into the next chunk."""
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
    chunks = [_Chunk(text[a:b], a, chunk_items, []) for a, b, chunk_items in bounds if b > a]
    firsts = [chunk.start for chunk in chunks]
    for d in diags:
        chunks[max(0, bisect.bisect_right(firsts, d.span.start) - 1)].diags.append(d)
    return chunks
