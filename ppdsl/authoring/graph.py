"""`ppdsl graph`: each flow drawn as PPMessage's flow editor shows it.

A checked program becomes a Graph (one FlowGraph per flow, in run order,
then the inactive ones); renderers turn it into DOT, Mermaid, JSON, or SVG
and PNG through Graphviz's `dot`.

Coverage: an edge that leaves a branch point has a `branch` key
(line, column, outcome), the place its IR node starts and one of:
  "rule"              a rule was chosen (the rule's start)
  "true" / "false"    an if/elif condition (the condition's start) or a switch case (the `case`)
  "success" / "failed" an action (its keyword)
Renderers given the set of keys a test run took colour what was taken green
and the rest grey.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Optional

from ..lang import ir
from ..lang.diagnostics import printable
from ..lang.messages import MAX_EVENTS
from ..lang.span import Span
from . import unparse

Branch = tuple[int, int, str]  # (line, column, outcome)

FONTS = "Noto Sans CJK SC,Noto Sans,DejaVu Sans,sans-serif"  # the CJK font first, for Chinese labels
LABEL_LIMIT = 120  # characters of a condition or assignment shown; longer text ends in "…"
TEXT_LIMIT = 32  # characters of a reply or ticket text shown
WRAP = 36  # characters a line of a label in the pictures


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # start branch logic reply assign convert ticket set let end
    label: str
    line: int


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""  # event names, TRUE FALSE SUCCESS FAILED, or nothing
    branch: Optional[Branch] = None


@dataclass
class FlowGraph:
    id: str
    name: str
    priority: int
    inactive: bool
    run: Optional[int]  # its place in the run order; None when inactive
    line: int
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    @property
    def title(self) -> str:
        priority = f" priority {self.priority}" if self.priority else ""
        return f"{self.name}{priority} (inactive)" if self.inactive else f"{self.run}. {self.name}{priority}"


@dataclass
class Graph:
    filename: str
    flows: list[FlowGraph]


def build(checked: ir.CheckedProgram) -> Graph:
    """The graph of every flow: the active ones in run order, then the inactive ones in file order."""
    program = checked.program
    names = {e.seq: e.name for e in program.events}
    active = checked.active_flows
    flows = active + [f for f in program.flows if f.inactive]
    every = len(names) or MAX_EVENTS  # a file without event declarations has all eight
    graphs = []
    for i, flow in enumerate(flows, 1):
        run = i if i <= len(active) else None
        graph = FlowGraph(f"f{i}", flow.name, flow.priority, flow.inactive, run, flow.span.line)
        graphs.append(_FlowBuilder(graph, names, every).build(flow))
    return Graph(program.filename, graphs)


# --------------------------------------------------------------- IR → graph

_Exit = tuple[str, str, Optional[Branch]]  # an edge waiting for its target: source, label, branch key
_ACTION_KINDS = {ir.Reply: "reply", ir.Assign: "assign", ir.Convert: "convert", ir.Ticket: "ticket"}


def _key(span: Span, outcome: str) -> Branch:
    return (span.line, span.col, outcome)


def _short(text: str, limit: int) -> str:
    """About `limit` characters, ending in "…" when cut: never inside a `{{ ... }}`,
    which is kept whole when it closes soon after the limit."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    start = text.rfind("{{", 0, limit)  # a `{{` that the cut leaves open, or splits
    if start > text.rfind("}}", 0, limit - 1):
        close = text.find("}}", start) + 2
        cut = text[:close] if 1 < close <= limit + 24 else cut[:start]
    elif " " in cut[-12:] and text[len(cut)] != " ":  # end at a word
        word = cut[: cut.rfind(" ")]
        cut = cut if word.rfind("{{") > word.rfind("}}") else word
    return text if len(cut) == len(text) else cut.rstrip() + "…"


class _FlowBuilder:
    """Walks a flow's statements forward, carrying the edges that wait for the next node."""

    def __init__(self, graph: FlowGraph, event_names: dict[int, str], event_count: int):
        self.graph, self.event_names, self.event_count = graph, event_names, event_count

    def build(self, flow: ir.Flow) -> FlowGraph:
        start = self.node("start", "start", flow.span.line, [])
        branch = self.node("branch", "on event", flow.span.line, [(start, "", None)])
        for rule in flow.rules:
            exits = self.stmt(rule.body, [(branch, self.trigger(rule), _key(rule.span, "rule"))])
            if exits:  # the rule's statement completes: the flow ends
                self.node("end", "end", rule.span.end_line_col[0], exits)
        # each node's edges together, FAILED last; an edge's source always comes before its target
        order = {node.id: i for i, node in enumerate(self.graph.nodes)}
        self.graph.edges.sort(key=lambda e: (order[e.source], e.label == "FAILED"))
        return self.graph

    def node(self, kind: str, label: str, line: int, into: list[_Exit]) -> str:
        """A new node, the target of every edge in `into`."""
        node_id = f"{self.graph.id}_n{len(self.graph.nodes) + 1}"
        self.graph.nodes.append(Node(node_id, kind, label, line))
        self.graph.edges += [Edge(source, node_id, text, branch) for source, text, branch in into]
        return node_id

    def trigger(self, rule: ir.Rule) -> str:
        if rule.events is None:
            return "any event" if len(rule.seqs) == self.event_count else "any other event"
        return ", ".join(self.event_names.get(seq, str(seq)) for seq in rule.seqs) or "no event (taken earlier)"

    def stmt(self, s: ir.Stmt, into: list[_Exit]) -> list[_Exit]:
        """Draw `s`, entered by the edges `into`; returns the edges that leave it when it completes."""
        if isinstance(s, ir.Block):
            for x in s.stmts:
                into = self.stmt(x, into)
            return into
        if isinstance(s, ir.End):
            self.node("end", "end", s.span.line, into)
            return []
        if isinstance(s, ir.Let):
            n = self.node("let", f"let {s.name} = {_short(unparse.expr(s.value), LABEL_LIMIT)}", s.span.line, into)
            return [(n, "", None)]
        if isinstance(s, ir.If):
            tests = [(unparse.expr(cond), cond.span, body) for cond, body in s.branches]
            return self.tests(tests, s.orelse, into)
        if isinstance(s, ir.Switch):
            subject = unparse.expr(s.subject)
            tests = [(self.case(subject, case), case.span, case.body) for case in s.cases]
            return self.tests(tests, s.default, into)
        assert isinstance(s, ir.ActionStmt)
        return self.action(s, into)

    def tests(
        self, tests: list[tuple[str, Span, ir.Stmt]], orelse: Optional[ir.Stmt], into: list[_Exit]
    ) -> list[_Exit]:
        """A chain of logic nodes: TRUE runs the arm, FALSE goes on to the next test."""
        exits: list[_Exit] = []
        for text, span, body in tests:
            n = self.node("logic", _short(text, LABEL_LIMIT), span.line, into)
            exits += self.stmt(body, [(n, "TRUE", _key(span, "true"))])
            into = [(n, "FALSE", _key(span, "false"))]
        return exits + (self.stmt(orelse, into) if orelse is not None else into)

    @staticmethod
    def case(subject: str, case: ir.Case) -> str:
        values = [unparse.literal(v) for v in case.values]
        return f"{subject} == {values[0]}" if len(values) == 1 else f"{subject} in [{', '.join(values)}]"

    def action(self, s: ir.ActionStmt, into: list[_Exit]) -> list[_Exit]:
        a = s.action
        if isinstance(a, ir.SetField):  # never fails
            label = f"set {a.field} = {_short(unparse.expr(a.value), LABEL_LIMIT)}"
            return [(self.node("set", label, a.span.line, into), "", None)]
        n = self.node(_ACTION_KINDS[type(a)], self.action_label(a), a.span.line, into)
        failed: list[_Exit] = [(n, "FAILED", _key(a.span, "failed"))]
        success: list[_Exit] = [(n, "SUCCESS", _key(a.span, "success"))]
        if s.on_failure is None:  # an unconnected FAILED ends the flow
            self.node("end", "end", a.span.line, failed)
            return success
        return success + self.stmt(s.on_failure, failed)

    @staticmethod
    def action_label(a: ir.Action) -> str:
        if isinstance(a, ir.Reply):
            text = f": {unparse.string(_short(unparse.template_text(a.text), TEXT_LIMIT))}" if a.text else ""
            return f"reply {a.agent}{text}"
        if isinstance(a, ir.Assign):
            return f"assign {'group ' if a.group else ''}{a.target or 'any'}"
        if isinstance(a, ir.Convert):
            return f"convert {unparse.string(_short(a.value, TEXT_LIMIT))}"
        assert isinstance(a, ir.Ticket)
        return f"ticket {unparse.string(_short(unparse.template_text(a.text), TEXT_LIMIT))}"


# --------------------------------------------------------------- coverage


def _taken(flow: FlowGraph, taken: Collection[Branch]) -> tuple[set[str], set[int]]:
    """The nodes and edges (by index) a test run went through: from the start
    while a rule was chosen, along every edge whose branch key was taken (or that has none)."""
    nodes: set[str] = set()
    edges: set[int] = set()
    if not any(e.branch in taken for e in flow.edges if e.branch and e.branch[2] == "rule"):
        return nodes, edges
    nodes.add(flow.nodes[0].id)
    for i, e in enumerate(flow.edges):  # in source order: a node's inputs come before its outputs
        if e.source in nodes and (e.branch is None or e.branch in taken):
            edges.add(i)
            nodes.add(e.target)
    return nodes, edges


def _state(flow: FlowGraph, marks: Optional[tuple[set[str], set[int]]], item: object) -> str:
    """How to paint a node (by id) or an edge (by index): "" as usual, "taken" or "off" (grey)."""
    if flow.inactive:
        return "off"
    if marks is None:
        return ""
    return "taken" if item in marks[0] or item in marks[1] else "off"


def _marks(flow: FlowGraph, taken: Optional[Collection[Branch]]) -> Optional[tuple[set[str], set[int]]]:
    return None if taken is None else _taken(flow, taken)


def _lines(node: Node) -> list[str]:
    """A node's label as the pictures show it: wrapped, with its line when it is a statement."""
    # no line breaks inside a {{ ... }} that fits on a line
    kept = re.sub(r"\{\{.*?\}\}", lambda m: m[0].replace(" ", "\0") if len(m[0]) <= WRAP else m[0], node.label)
    lines = [line.replace("\0", " ") for line in textwrap.wrap(kept, WRAP, break_on_hyphens=False)] or [""]
    return lines if node.kind in ("start", "branch") else lines + [f"line {node.line}"]


# --------------------------------------------------------------- renderers

# kind: DOT shape and style, fill colour, Mermaid's brackets
_KINDS = {
    "start": ("oval", "filled", "#d1fae5", '(["', '"])'),
    "branch": ("hexagon", "filled", "#dbeafe", '{{"', '"}}'),
    "logic": ("box", "filled", "#fef3c7", '["', '"]'),
    "reply": ("box", "rounded,filled", "#e0f2fe", '("', '")'),
    "assign": ("box", "rounded,filled", "#e0f2fe", '("', '")'),
    "convert": ("box", "rounded,filled", "#ede9fe", '("', '")'),
    "ticket": ("box", "rounded,filled", "#e0f2fe", '("', '")'),
    "set": ("box", "rounded,filled", "#f3f4f6", '["', '"]'),
    "let": ("box", "rounded,filled", "#f3f4f6", '["', '"]'),
    "end": ("oval", "filled", "#fee2e2", '(["', '"])'),
}
_INK, _TEXT = "#374151", "#111827"  # lines and borders, text
_GREEN, _GREEN_FILL, _GREEN_TEXT = "#16a34a", "#dcfce7", "#14532d"  # taken
_GREY, _GREY_LINE, _GREY_FILL, _INACTIVE_FILL = "#9ca3af", "#d1d5db", "#f3f4f6", "#fafafa"  # not taken, inactive


def to_dot(graph: Graph, taken: Optional[Collection[Branch]] = None) -> str:
    """Graphviz DOT: one cluster per flow, side by side in run order."""
    font = _dot_text([FONTS])
    name = PurePath(graph.filename).name
    out = [
        "digraph ppflow {",
        f"  graph [label={_dot_text([name])}, labelloc=t, fontname={font}, fontsize=13, nodesep=0.3, ranksep=0.35];",
        f'  node [fontname={font}, fontsize=10, penwidth=1, color="{_INK}", fontcolor="{_TEXT}"];',
        f'  edge [fontname={font}, fontsize=9, arrowsize=0.7, color="{_INK}"];',
    ]
    for flow in graph.flows:
        marks = _marks(flow, taken)
        cluster = {"label": _dot_text([flow.title]), "color": f'"{_GREY}"', "style": "rounded"}
        if flow.inactive:
            cluster.update(style='"rounded,dashed,filled"', fillcolor=f'"{_INACTIVE_FILL}"', fontcolor=f'"{_GREY}"')
        out.append(f"  subgraph cluster_{flow.id} {{")
        out.append(f"    graph [{_attrs(cluster)}];")
        for node in flow.nodes:
            shape, style, fill, _, _ = _KINDS[node.kind]
            attrs = {"label": _dot_text(_lines(node)), "shape": shape, "style": f'"{style}"'}
            attrs.update(_dot_paint(_state(flow, marks, node.id), node=True, fill=fill))
            attrs["tooltip"] = _dot_text([f"{name}:{node.line}"])
            out.append(f"    {node.id} [{_attrs(attrs)}];")
        for i, e in enumerate(flow.edges):
            attrs = {"label": _dot_text([f" {e.label} "])} if e.label else {}  # spaces keep it off the line
            if e.label == "FAILED":
                attrs["style"] = "dashed"
            attrs.update(_dot_paint(_state(flow, marks, i), node=False))
            out.append(f"    {e.source} -> {e.target}" + (f" [{_attrs(attrs)}];" if attrs else ";"))
        out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_paint(state: str, node: bool, fill: str = "") -> dict[str, str]:
    if state == "taken":
        paint = {"color": _GREEN, "penwidth": "2", "fontcolor": _GREEN_TEXT}
        fill = _GREEN_FILL
    elif state == "off":
        paint = {"color": _GREY_LINE, "fontcolor": _GREY}
        fill = _GREY_FILL
    else:
        paint = {}
    if node:
        paint["fillcolor"] = fill
    return {k: f'"{v}"' for k, v in paint.items()}


def _attrs(attrs: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in attrs.items())


def _dot_text(lines: list[str]) -> str:
    """A quoted DOT string; lines are joined with DOT's centred line break."""
    escaped = (printable(line).replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;") for line in lines)
    return '"' + "\\n".join(escaped) + '"'


def to_mermaid(graph: Graph, taken: Optional[Collection[Branch]] = None) -> str:
    """A Mermaid flowchart: one subgraph per flow."""
    out = ["flowchart TD"]
    classes: dict[str, list[str]] = {}
    links: dict[str, list[str]] = {"taken": [], "off": []}
    count = 0
    for flow in graph.flows:
        marks = _marks(flow, taken)
        out.append(f'  subgraph {flow.id}["{_mermaid_text([flow.title])}"]')
        for node in flow.nodes:
            _, _, _, open_, close = _KINDS[node.kind]
            out.append(f"    {node.id}{open_}{_mermaid_text(_lines(node))}{close}")
            classes.setdefault(_state(flow, marks, node.id) or f"{node.kind}_node", []).append(node.id)
        out.append("  end")
        if flow.inactive:
            out.append(f"  style {flow.id} fill:{_INACTIVE_FILL},stroke:{_GREY},color:{_GREY},stroke-dasharray:4")
        for i, e in enumerate(flow.edges):
            arrow = "-.->" if e.label == "FAILED" else "-->"
            label = f'|"{_mermaid_text([e.label])}"|' if e.label else ""
            out.append(f"  {e.source} {arrow}{label} {e.target}")
            state = _state(flow, marks, i)
            if state:
                links[state].append(str(count))
            count += 1
    styles = {f"{kind}_node": f"fill:{fill},stroke:{_INK},color:{_TEXT}" for kind, (*_, fill, _, _) in _KINDS.items()}
    styles["taken"] = f"fill:{_GREEN_FILL},stroke:{_GREEN},stroke-width:2px,color:{_GREEN_TEXT}"
    styles["off"] = f"fill:{_GREY_FILL},stroke:{_GREY_LINE},color:{_GREY}"
    for name, ids in classes.items():  # class names end in _node: never a bare `end`
        out += [f"  classDef {name} {styles[name]}", f"  class {','.join(ids)} {name}"]
    if links["taken"]:
        out.append(f"  linkStyle {','.join(links['taken'])} stroke:{_GREEN},stroke-width:2px")
    if links["off"]:
        out.append(f"  linkStyle {','.join(links['off'])} stroke:{_GREY_LINE}")
    return "\n".join(out) + "\n"


_MERMAID_ENTITIES = {'"': "#quot;", "#": "#35;", "&": "#amp;", "<": "#lt;", ">": "#gt;", "`": "#96;"}


def _mermaid_text(lines: list[str]) -> str:
    """Text for inside a quoted Mermaid label: entities for what Mermaid or HTML would read."""
    escaped = ("".join(_MERMAID_ENTITIES.get(ch, ch) for ch in printable(line)) for line in lines)
    return "<br>".join(escaped)


def to_json(graph: Graph, taken: Optional[Collection[Branch]] = None) -> str:
    """The graph as data: flows, each with its nodes and edges (and with
    `taken` on each when coverage is given)."""
    flows = []
    for flow in graph.flows:
        marks = _marks(flow, taken)
        nodes: list[dict[str, object]] = [
            {"id": n.id, "kind": n.kind, "label": n.label, "line": n.line} for n in flow.nodes
        ]
        edges: list[dict[str, object]] = [
            {"from": e.source, "to": e.target, "label": e.label, "branch": list(e.branch) if e.branch else None}
            for e in flow.edges
        ]
        if marks is not None:
            for n in nodes:
                n["taken"] = n["id"] in marks[0]
            for i, e in enumerate(edges):
                e["taken"] = i in marks[1]
        flows.append(
            {
                "id": flow.id,
                "name": flow.name,
                "priority": flow.priority,
                "inactive": flow.inactive,
                "run": flow.run,
                "line": flow.line,
                "nodes": nodes,
                "edges": edges,
            }
        )
    return json.dumps({"file": graph.filename, "flows": flows}, ensure_ascii=False, indent=2) + "\n"


class GraphvizError(Exception):
    """Graphviz's `dot` failed."""


class GraphvizMissing(GraphvizError):
    """Graphviz's `dot` is not installed."""


def to_image(graph: Graph, fmt: str, taken: Optional[Collection[Branch]] = None) -> bytes:
    """SVG or PNG, drawn by Graphviz's `dot` from to_dot()."""
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing(
            f"drawing {fmt} needs Graphviz's `dot` program, which is not on the PATH: "
            "install Graphviz (apt-get install graphviz, brew install graphviz) or use --format dot"
        )
    done = subprocess.run([dot, f"-T{fmt}"], input=to_dot(graph, taken).encode("utf-8"), capture_output=True)
    if done.returncode != 0:
        problem = done.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit status {done.returncode}"]
        raise GraphvizError(f"Graphviz's dot failed: {printable(problem[0])}")
    return done.stdout


def render(graph: Graph, fmt: str, taken: Optional[Collection[Branch]] = None) -> bytes:
    """The graph in one of FORMATS."""
    if fmt in ("svg", "png"):
        return to_image(graph, fmt, taken)
    text = {"dot": to_dot, "mermaid": to_mermaid, "json": to_json}[fmt](graph, taken)
    return text.encode("utf-8")
