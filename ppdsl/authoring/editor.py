"""What an editor asks about a `.ppflow` file: hover text, definitions and
references, completions in context, the outline, and the Run lens's work.

Everything here takes text and character offsets and answers with spans and
plain data; `ppdsl.lsp` only converts to and from the Language Server
Protocol. Requests read an Analysis: one version of the file, checked. A file
with a syntax error has no program, so the server passes the last program it
had for completions and the outline.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Optional

from ..build.pipeline import Result, compile_source
from ..lang import ir
from ..lang.reparse import Reparser
from ..lang.names import EVENT_VARS, FIELD_TYPES, FUNCTIONS, MEANINGS, STAT_RE, STAT_TYPES, SYSTEM_VARS
from ..lang.span import LineIndex, Source, Span
from ..lang.symbols import Symbol, Symbols
from ..lang.syntax import KEYWORDS, STRING
from . import testing


@dataclass
class Analysis:
    """One version of a file: its text, what `check` says about it, and (when it
    parsed) the index of its names."""

    text: str
    result: Result

    @property
    def program(self) -> Optional[ir.Program]:
        return self.result.program

    @cached_property
    def index(self) -> LineIndex:
        """Lines of the text as the spans count them (CR LF read as LF)."""
        return Source(self.result.filename, self.text).index

    @cached_property
    def symbols(self) -> Optional[Symbols]:
        return Symbols(self.program) if self.program is not None else None

    def symbol_at(self, offset: int) -> Optional[Symbol]:
        ref = self.symbols.at(offset) if self.symbols else None
        return ref.symbol if ref else None


def analyze(text: str, filename: str, reparser: Optional[Reparser] = None) -> Analysis:
    """Check `text` as `ppdsl check` does (no code is generated); a `reparser`
    that saw an earlier version of the file makes it faster."""
    return Analysis(text, compile_source(text, filename, emit=False, reparser=reparser))


# --------------------------------------------------------------- navigation


def definition(analysis: Analysis, offset: int) -> Optional[Span]:
    symbol = analysis.symbol_at(offset)
    return analysis.symbols.definition(symbol) if symbol and analysis.symbols else None


def references(analysis: Analysis, offset: int, include_definition: bool = True) -> list[Span]:
    symbol = analysis.symbol_at(offset)
    return analysis.symbols.references(symbol, include_definition) if symbol and analysis.symbols else []


# --------------------------------------------------------------- hover


def hover(analysis: Analysis, offset: int) -> Optional[tuple[Span, str]]:
    """The span of the name under the cursor and Markdown that says what it is."""
    ref = analysis.symbols.at(offset) if analysis.symbols else None
    if ref is None or analysis.symbols is None:
        return None
    text = describe(ref.symbol, analysis.symbols.decls.get(ref.symbol))
    return (ref.span, text) if text else None


def describe(symbol: Symbol, node: object) -> Optional[str]:
    """Markdown for a symbol: a code line that shows it, then what it means."""
    kind, ident = symbol
    if kind == "function":
        func = FUNCTIONS[ident]
        return _md(func.signature, func.doc)
    if kind == "variable":
        return _md(*_variable(ident))
    if isinstance(node, ir.EventDecl):
        lines = [f"uuid: `{node.uuid}`" if node.uuid else "no uuid"]
        lines += [f"alias: `{a.text}`" for a in node.aliases]
        if node.description:
            lines.append(node.description)
        return _md(f"event {node.seq} {node.name}", *lines)
    if kind == "event":  # a file that declares no events numbers them 1 to 8
        return _md(f"event {ident}", "An event this file doesn't declare, by its number.")
    if isinstance(node, (ir.AgentDecl, ir.GroupDecl)):
        shown = f'"{node.display}"' if node.display else "(no display name)"
        return _md(f"{kind} {node.name}", f"Display name: {shown}")
    if isinstance(node, ir.FieldDecl):
        return _md(f"field {node.name} {node.type_name}", "A visitor field this file declares.")
    if isinstance(node, ir.SegmentDecl):
        return _md(_source(node.span), f"A segment: a named condition over the visitor ({node.expr.ty}).")
    if isinstance(node, ir.Let):
        return _md(_source(node.span), f"A `let` variable of this rule ({node.value.ty}).")
    if isinstance(node, ir.Flow):
        state = "inactive" if node.inactive else f"priority {node.priority}"
        return _md(f"flow {node.name}", f"{len(node.rules)} rule(s), {state}.")
    return None


def _variable(name: str) -> tuple[str, str]:
    if name in SYSTEM_VARS:
        return f"{name}: {SYSTEM_VARS[name]}", MEANINGS[name]
    if name in EVENT_VARS:
        return f"{name}: {EVENT_VARS[name]}", MEANINGS[name]
    stat = STAT_RE.match(name)
    if stat:
        return f"{name}: {STAT_TYPES[stat[1]]}", MEANINGS[stat[1]].format(seq=stat[2])
    return f"{name}: json", MEANINGS["extra_field"]


def _md(code: str, *lines: str) -> str:
    return "\n\n".join([f"```ppflow\n{code}\n```", *lines])


def _source(span: Span) -> str:
    return span.source.text[span.start : span.end]


# --------------------------------------------------------------- completion


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # keyword snippet event agent group field segment let variable function type
    detail: str = ""
    documentation: str = ""
    insert: Optional[str] = None  # a snippet in the LSP's syntax ($1, ${2:name}); None: the label
    is_snippet: bool = False


def _snippet(label: str, detail: str, body: str) -> Completion:
    return Completion(label, "snippet", detail, insert=body, is_snippet=True)


SNIPPETS = (
    _snippet("flow", "flow NAME { ... }", "flow ${1:name} {\n  on event ${2:event} -> ${0:end}\n}"),
    _snippet("on event", "on event E -> ...", "on event ${1:event} ->\n  ${0:end}"),
    _snippet("if/else", "if ... else ...", "if ${1:condition}\n  ${2:end}\nelse\n  ${0:end}"),
    _snippet(
        "switch",
        "switch VALUE { case ... }",
        "switch ${1:value} {\n  case ${2:value} -> ${3:end}\n  default -> ${0:end}\n}",
    ),
)

_NAME_TAIL = r"[^\W\d]?\w*$"
_CONTEXTS = (
    ("group", re.compile(r"\bassign\s+group\s+" + _NAME_TAIL)),
    ("assign", re.compile(r"\bassign\s+" + _NAME_TAIL)),
    ("agent", re.compile(r"\breply\s+" + _NAME_TAIL)),
    ("event", re.compile(r"\b(count|first_time|last_time|last_data)\s*\(\s*" + _NAME_TAIL)),
    ("event", re.compile(r"\bon\s+event\s+(\w+\s*,\s*)*" + _NAME_TAIL)),
    ("on", re.compile(r"\bon\s+" + _NAME_TAIL)),
    ("set", re.compile(r"\bset\s+" + _NAME_TAIL)),
    ("type", re.compile(r"^\s*field\s+\w+\s+" + _NAME_TAIL)),
    ("new name", re.compile(r"\b(event\s+\d+|agent|group|field|segment|flow|let)\s+" + _NAME_TAIL)),
)


def completions(text: str, offset: int, program: Optional[ir.Program]) -> list[Completion]:
    """What may stand at `offset`: after `reply ` only agents, inside `count(`
    only events, and so on; elsewhere keywords, snippets and every name in
    scope. Nothing inside a comment or a string (outside its `{{ }}`)."""
    line = text[text.rfind("\n", 0, offset) + 1 : offset]
    if _in_comment_or_string(line):
        return []
    context = next((name for name, pattern in _CONTEXTS if pattern.search(line)), None)
    p = program or ir.Program("", [], [], [], [], [], [])
    if context == "agent":
        return _decls(p.agents, "agent")
    if context == "group":
        return _decls(p.groups, "group")
    if context == "assign":
        return _decls(p.agents, "agent") + [_keyword("group"), _keyword("any")]
    if context == "event":
        return [Completion(e.name, "event", f"event {e.seq}", e.description or "") for e in p.events]
    if context == "on":
        return [_keyword(k) for k in ("event", "any", "failure")]
    if context == "set":
        fields = [Completion(f.name, "field", f"field {f.name} {f.type_name}") for f in p.fields]
        return fields + _variables(SYSTEM_VARS)
    if context == "type":
        return [Completion(t, "type", f"field type ({kind})") for t, kind in FIELD_TYPES.items()]
    if context == "new name":
        return []
    items = [_keyword(k) for k in sorted(KEYWORDS)] + list(SNIPPETS)
    items += [Completion(f.name, "field", f"field {f.name} {f.type_name}") for f in p.fields]
    items += [Completion(s.name, "segment", "segment", _source(s.span)) for s in p.segments]
    items += _lets(p, offset)
    items += _variables(SYSTEM_VARS) + _variables(EVENT_VARS)
    items += [Completion(f.name, "function", f.signature, f.doc) for f in FUNCTIONS.values()]
    return items


def _in_comment_or_string(line: str) -> bool:
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "#":
            return True
        if ch in "\"'":
            m = STRING.match(line, i)
            if m is None:  # the string is still open: only its {{ }} hold names
                body = line[i + 1 :]
                return body.rfind("{{") <= body.rfind("}}")
            i = m.end()
        else:
            i += 1
    return False


def _keyword(word: str) -> Completion:
    return Completion(word, "keyword", "keyword")


def _decls(decls: list[ir.AgentDecl] | list[ir.GroupDecl], kind: str) -> list[Completion]:
    return [Completion(d.name, kind, f"{kind} {d.name}", d.display or "") for d in decls]


def _variables(table: dict[str, ir.Ty]) -> list[Completion]:
    return [Completion(name, "variable", f"{name}: {ty}", MEANINGS[name]) for name, ty in table.items()]


def _lets(program: ir.Program, offset: int) -> list[Completion]:
    """The lets bound before `offset` in the rule around it."""
    out = []
    for flow in program.flows:
        for rule in flow.rules:
            if rule.span.start <= offset <= rule.span.end + 1:
                for node in ir.walk(rule.body):
                    if isinstance(node, ir.Let) and node.span.end <= offset:
                        out.append(Completion(node.name, "let", _source(node.span)))
    return out


# --------------------------------------------------------------- outline


@dataclass
class Outline:
    name: str
    kind: str  # event agent group field segment flow rule
    detail: str
    span: Span
    selection: Span
    children: list[Outline] = field(default_factory=list)


def outline(program: ir.Program) -> list[Outline]:
    """The declarations and flows in file order; a flow's rules under it."""
    items = [Outline(e.name, "event", f"event {e.seq}", e.span, e.name_span) for e in program.events]
    for kind, decls in (
        ("agent", program.agents),
        ("group", program.groups),
        ("field", program.fields),
        ("segment", program.segments),
    ):
        items += [Outline(d.name, kind, kind, d.span, d.name_span) for d in decls]
    for flow in program.flows:
        state = "inactive" if flow.inactive else f"priority {flow.priority}"
        rules = [
            Outline(_rule_title(r), "rule", "", r.span, r.span.at(r.span.start, r.span.start + 2)) for r in flow.rules
        ]
        items.append(Outline(flow.name, "flow", state, flow.span, flow.name_span, rules))
    return sorted(items, key=lambda o: o.span.start)


def _rule_title(rule: ir.Rule) -> str:
    if rule.events is None:
        return "on any event"
    return "on event " + ", ".join(e.name or str(e.seq) for e in rule.events)


# --------------------------------------------------------------- the Run lens


def run_target(flow_file: Path) -> Optional[Path]:
    """What the Run lens of a flow file runs: its NAME.test.json, else its NAME.events.json."""
    stem = flow_file.name[: -len(".ppflow")] if flow_file.name.endswith(".ppflow") else flow_file.stem
    for suffix in (testing.SUFFIX, testing.EVENTS_SUFFIX):
        candidate = flow_file.with_name(stem + suffix)
        if candidate.is_file():
            return candidate
    return None


@dataclass
class RunOutcome:
    ok: bool
    summary: str  # one line, for a notification
    details: str  # the full report


def run(target: Path) -> RunOutcome:
    """Run a test file (as `ppdsl test` does) or replay an events file: each
    event's actions, on the visitor the previous one left."""
    replay = target.name.endswith(testing.EVENTS_SUFFIX)
    try:
        test = testing.read_events_file(target) if replay else testing.read_test_file(target)
        report = testing.run_tests([test])
    except (testing.Malformed, testing.NoTests) as exc:
        return RunOutcome(False, f"{target.name}: {exc}", str(exc))
    errors = [line for f in report.files for line in f.errors]
    if not replay:
        details = "\n".join(errors + [testing.to_text_report(report)])
        return RunOutcome(report.failed == 0, f"{target.name}: {report.passed} passed, {report.failed} failed", details)
    case = report.cases[0]
    lines = errors + ([case.error] if case.error else [])
    for i, outcome in enumerate(case.events, 1):
        result = outcome.explained.result if outcome.explained else None
        if result is None:
            lines.append(f"event {i}: rejected: {outcome.explained.rejected if outcome.explained else '?'}")
        else:
            shown = json.dumps({"actions": result.actions, "failed": result.failed}, ensure_ascii=False)
            lines.append(f"event {i}: {shown}")
    actions = sum(len(e.explained.result.actions) for e in case.events if e.explained and e.explained.result)
    ok = case.error is None and not errors
    summary = f"{target.name}: {len(case.events)} events replayed, {actions} actions" if ok else lines[0]
    return RunOutcome(ok, summary, "\n".join(lines))
