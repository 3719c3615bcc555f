"""Where each name of a program is declared and used: the index behind an
editor's go to definition, find references and hover.

A Symbol is a key, `(kind, ident)`: `("event", seq)`, `("agent", name)`,
`("group", name)`, `("field", name)`, `("segment", name)`, `("flow", name)`,
`("let", (flow index, slot))`, and for the prelude `("variable", name)` and
`("function", name)`. Each occurrence of one in the text is a Ref. The index
reads the bindings the checker left on the IR, so it works on a program with
errors too: names that didn't resolve are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from . import ir
from .names import EVENT_VARS, EXTRA_RE, FUNCTIONS, STAT_RE, SYSTEM_VARS
from .span import Span

Symbol = tuple[str, Any]


@dataclass(frozen=True)
class Ref:
    span: Span
    symbol: Symbol
    is_definition: bool


class Symbols:
    """Every Ref of a program, and the node that declares each symbol."""

    def __init__(self, program: ir.Program):
        self.refs: list[Ref] = []
        self.decls: dict[Symbol, Any] = {}
        for e in program.events:
            self._declare(("event", e.seq), e, e.name_span)
        for kind, decls in (
            ("agent", program.agents),
            ("group", program.groups),
            ("field", program.fields),
            ("segment", program.segments),
        ):
            for d in decls:
                self._declare((kind, d.name), d, d.name_span)
        for s in program.segments:
            self._uses(s.expr, None)
        for i, flow in enumerate(program.flows):
            if not flow.implicit:
                self._declare(("flow", flow.name), flow, flow.name_span)
            for rule in flow.rules:
                for ref in rule.events or []:
                    if ref.resolved is not None:
                        self.refs.append(Ref(ref.span, ("event", ref.resolved), False))
                self._uses(rule.body, i)
        self.refs.sort(key=lambda r: (r.span.start, r.span.end))

    def _declare(self, symbol: Symbol, node: Any, span: Span) -> None:
        self.decls.setdefault(symbol, node)  # a duplicate declaration: the first one counts, as in check
        self.refs.append(Ref(span, symbol, True))

    def _uses(self, root: Any, flow: Optional[int]) -> None:
        for node in ir.walk(root):
            if isinstance(node, ir.Var):
                symbol = _var_symbol(node, flow)
                if symbol is not None:
                    self.refs.append(Ref(node.span, symbol, False))
            elif isinstance(node, ir.Call):
                if node.func in FUNCTIONS:
                    self.refs.append(Ref(node.span, ("function", node.func), False))
                if node.seq is not None and node.args:
                    self.refs.append(Ref(node.args[0].span, ("event", node.seq), False))
            elif isinstance(node, ir.Let) and flow is not None:
                self._declare(("let", (flow, node.slot)), node, node.name_span)
            elif isinstance(node, ir.Reply):
                self.refs.append(Ref(node.agent_span, ("agent", node.agent), False))
            elif isinstance(node, ir.Assign) and node.target is not None:
                kind = "group" if node.group else "agent"
                self.refs.append(Ref(node.target_span, (kind, node.target), False))
            elif isinstance(node, ir.SetField):
                symbol = ("field", node.field) if ("field", node.field) in self.decls else _prelude(node.field)
                if symbol is not None:
                    self.refs.append(Ref(node.field_span, symbol, False))

    def at(self, offset: int) -> Optional[Ref]:
        """The occurrence under a cursor at `offset` (just after a name counts too)."""
        found = None
        for ref in self.refs:
            if ref.span.start > offset:
                break
            if ref.span.start <= offset <= ref.span.end:
                found = ref  # the innermost: a later start wins
        return found

    def definition(self, symbol: Symbol) -> Optional[Span]:
        for ref in self.refs:
            if ref.symbol == symbol and ref.is_definition:
                return ref.span
        return None

    def references(self, symbol: Symbol, include_definition: bool = True) -> list[Span]:
        return [r.span for r in self.refs if r.symbol == symbol and (include_definition or not r.is_definition)]


def _var_symbol(var: ir.Var, flow: Optional[int]) -> Optional[Symbol]:
    b = var.binding
    if isinstance(b, ir.LetBinding):
        return ("let", (flow, b.slot)) if flow is not None else None
    if isinstance(b, ir.SegmentBinding):
        return ("segment", b.name)
    if isinstance(b, ir.VisitorVarBinding) and b.declared:
        return ("field", b.name)
    if b is not None:
        return ("variable", var.name)
    return None


def _prelude(name: str) -> Optional[Symbol]:
    if name in SYSTEM_VARS or name in EVENT_VARS or STAT_RE.match(name) or EXTRA_RE.match(name):
        return ("variable", name)
    return None
