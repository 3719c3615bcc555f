"""`ppdsl test`: cases in JSON beside the flows, run through the compiled
module, each event explained (and the explanation checked against the module,
see explain.py), with branch coverage from the module's line map.

A test file is NAME.test.json beside the flow:

    {"flow": "lead_routing.ppflow",               # relative to the test file; default NAME.ppflow
     "cases": [
       {"name": "a hot lead gets Alice",
        "at": "2026-11-25T08:00:00Z",             # events without event_timestamp happen then
        "visitor": {"event_count_2": 8},          # the visitor before the first event; default {}
        "events": [
          {"event": "view_pricing",               # as `run --event`: a name, a SEQ, a payload object
           "fail": ["agent_a"],                   # as `run --fail`, for this event
           "expect": {"actions": [...], "failed": [...], "error": "unknown"}}],
        "expect_visitor": {"event_count_2": 9}}]}

Events run in order, each on the visitor the one before left (a rejected
event leaves it as it was). `expect.actions` and `expect.failed` hold one
object per action, in order; an object matches when each of its keys does. A
plain value matches an equal value (JSON's equality: 1 equals 1.0, true
equals only true); an object with the one key `contains` (a substring, or an
item of a list), `matches` (a regular expression, searched), `absent`
(true: the key is missing; false: it is there) or `equals` (this value
exactly, even an object that looks like a matcher) matches loosely.
`expect.error` is a substring of the rejection message. ppdsl adds
`expect.event` (keys of the result's event: seq, name, uuid, count, time) and
`expect.visitor` (keys of the visitor after this event), and an event may
carry its own `at`; `expect_visitor` holds after the case's last event.

Anything else in a test file is malformed: the message names the file and
the JSON path (`$.cases[0].events[1].expect.actions`), and the command exits 2.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..codegen.linemap import line_map
from ..engine.json_input import InputError, json_object, read_text
from ..lang import ir
from ..lang.printable import printable
from . import unparse
from .explain import Disagreement, Explained, Explainer, GraphKey, action_text, to_json, to_text, trigger_text

SUFFIX = ".test.json"
EVENTS_SUFFIX = ".events.json"
MATCHERS = ("contains", "matches", "absent", "equals")
_SKIP_DIRS = ("node_modules", "__pycache__")


class Malformed(Exception):
    """A test file that can't be run; the message names the file and the JSON path."""

    def __init__(self, file: str, where: str, message: str):
        if where:
            text = f"{file}: {where}: {message}"
        else:  # messages of engine.json_input name the file themselves
            text = message if message.startswith(file + " ") or message.startswith(file + ":") else f"{file}: {message}"
        super().__init__(text)
        self.file, self.where, self.message = file, where, message


class NoTests(Exception):
    """The paths hold no test file, or no case (after -k)."""


# --------------------------------------------------------------- the test files


@dataclass
class EventSpec:
    given: Any  # `event` as the file gives it
    payload: dict[str, Any]
    fail: tuple[str, ...]
    at: object
    expect: Optional[dict[str, Any]]


@dataclass
class Case:
    name: str
    at: object
    visitor: dict[str, Any]
    events: list[EventSpec]
    expect_visitor: Optional[dict[str, Any]]


@dataclass
class TestFile:
    path: Path
    shown: str  # as the user would write it: relative to the working folder when inside it
    flow: Path
    cases: list[Case]


def shown_path(path: Path) -> str:
    """A path relative to the working folder when it is inside it, else absolute."""
    path = path.absolute()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def find_test_files(paths: Sequence[str]) -> list[Path]:
    """The test files named or found: a FILE as it is, FLOW.ppflow's
    FLOW.test.json, and every *.test.json under a DIR (sorted, hidden folders
    skipped). Raises Malformed for a path that doesn't exist or a flow
    without a test file, NoTests when nothing is found."""
    found: list[Path] = []
    for given in paths or ["."]:
        path = Path(given)
        if path.is_dir():
            for p in sorted(path.rglob("*" + SUFFIX)):
                inside = p.relative_to(path).parts[:-1]
                if p.is_file() and not any(part.startswith(".") or part in _SKIP_DIRS for part in inside):
                    found.append(p)
        elif path.suffix == ".ppflow":
            test = path.with_name(path.name[: -len(".ppflow")] + SUFFIX)
            if not test.is_file():
                raise Malformed(given, "", f"no test file for it: expected {shown_path(test)}")
            found.append(test)
        elif path.is_file():
            found.append(path)
        else:
            raise Malformed(given, "", "no such file or folder")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise NoTests(f"no {SUFFIX} files in {', '.join(paths or ['.'])}")
    return unique


def read_test_file(path: Path) -> TestFile:
    """A test file, checked in full; raises Malformed."""
    shown = shown_path(path)
    try:
        data = json_object(read_text(str(path)), shown)
    except InputError as exc:
        raise Malformed(shown, "", str(exc)) from None
    return _Reader(path, shown).file(data)


def read_events_file(path: Path) -> TestFile:
    """NAME.events.json, a JSON list of events (each what `run --event` takes),
    as one case without expectations on NAME.visitor.json when there is one:
    what an editor's Run lens replays for a flow without a test file."""
    shown = shown_path(path)
    try:
        events = json.loads(read_text(str(path)))
    except InputError as exc:
        raise Malformed(shown, "", str(exc)) from None
    except ValueError as exc:
        raise Malformed(shown, "", f"not JSON: {exc}") from None
    if not isinstance(events, list) or not events:
        raise Malformed(shown, "$", "must be a non-empty JSON list of events")
    stem = path.name[: -len(EVENTS_SUFFIX)]
    case: dict[str, Any] = {"name": f"replay of {path.name}", "events": [{"event": e} for e in events]}
    if path.with_name(stem + ".visitor.json").is_file():
        case["visitor"] = stem + ".visitor.json"
    return _Reader(path, shown).file({"flow": stem + ".ppflow", "cases": [case]})


class _Reader:
    def __init__(self, path: Path, shown: str):
        self.path, self.shown, self.folder = path, shown, path.parent

    def fail(self, where: str, message: str) -> Malformed:
        return Malformed(self.shown, where, message)

    def keys(self, value: Any, where: str, allowed: Iterable[str], what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"{what} must be a JSON object, got {_kind(value)}")
        for key in value:
            if key not in allowed:
                raise self.fail(f"{where}.{key}", f"unknown key; {what} takes {', '.join(allowed)}")
        return value

    def file(self, data: dict[str, Any]) -> TestFile:
        self.keys(data, "$", ("flow", "cases", "description"), "a test file")
        flow_name = data.get(
            "flow", self.path.name[: -len(SUFFIX)] + ".ppflow" if self.path.name.endswith(SUFFIX) else None
        )
        if not isinstance(flow_name, str) or not flow_name:
            raise self.fail("$.flow", 'give the flow file, relative to the test file ("flow": "NAME.ppflow")')
        flow = (self.folder / flow_name).resolve()
        if not flow.is_file():
            given = "" if "flow" in data else ' (no "flow" given, so the one beside the test file)'
            raise self.fail("$.flow", f"{shown_path(flow)} doesn't exist{given}")
        cases = data.get("cases")
        if not isinstance(cases, list):
            raise self.fail("$.cases", f"must be a list of cases, got {_kind(cases)}")
        if not cases:
            raise self.fail("$.cases", "has no cases")
        return TestFile(self.path, self.shown, flow, [self.case(c, f"$.cases[{i}]", i) for i, c in enumerate(cases)])

    def case(self, data: Any, where: str, index: int) -> Case:
        allowed = ("name", "at", "visitor", "events", "expect_visitor", "description")
        self.keys(data, where, allowed, "a case")
        name = data.get("name", f"case {index + 1}")
        if not isinstance(name, str) or not name.strip():
            raise self.fail(f"{where}.name", "must be a non-empty string")
        at = self.at(data.get("at"), f"{where}.at")
        visitor = self.visitor(data.get("visitor"), f"{where}.visitor")
        events = data.get("events")
        if not isinstance(events, list) or not events:
            raise self.fail(f"{where}.events", f"must be a non-empty list of events, got {_kind(events)}")
        specs = [self.event(e, f"{where}.events[{i}]") for i, e in enumerate(events)]
        expect_visitor = data.get("expect_visitor")
        if expect_visitor is not None:
            self.expected_object(expect_visitor, f"{where}.expect_visitor", "expect_visitor")
        return Case(name, at, visitor, specs, expect_visitor)

    def at(self, value: Any, where: str) -> object:
        if value is None:
            return None
        from ..runtime.common import _at_time

        if type(value) not in (str, int, float):
            raise self.fail(where, f"must be ISO-8601 text or epoch seconds, got {_kind(value)}")
        try:
            return _at_time(value)
        except ValueError as exc:
            raise self.fail(where, str(exc)) from None

    def visitor(self, value: Any, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if isinstance(value, str):  # a visitor file, relative to the test file
            path = self.folder / value
            try:
                text = read_text(str(path))
                return json_object(text, shown_path(path)) if text.strip() else {}
            except InputError as exc:
                raise self.fail(where, str(exc)) from None
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a JSON object of PPMessage variables (or a file name), got {_kind(value)}")
        return value

    def event(self, data: Any, where: str) -> EventSpec:
        self.keys(data, where, ("event", "fail", "at", "expect"), "an event")
        if "event" not in data:
            raise self.fail(where, 'an event needs "event": a name, a SEQ or a payload object')
        payload = self.payload(data["event"], f"{where}.event")
        fail = data.get("fail", [])
        if not isinstance(fail, list) or not all(isinstance(n, str) and n for n in fail):
            raise self.fail(f"{where}.fail", "must be a list of agent or group names (or ticket, any)")
        expect = data.get("expect")
        if expect is not None:
            self.expect(expect, f"{where}.expect")
        return EventSpec(data["event"], payload, tuple(fail), self.at(data.get("at"), f"{where}.at"), expect)

    def payload(self, value: Any, where: str) -> dict[str, Any]:
        """What `run --event` takes: a payload object, a SEQ, or text (JSON, @file, digits, a name)."""
        if isinstance(value, dict):
            return value
        if type(value) is int:
            return {"event_seq": value}
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"must be an event name, a SEQ or a payload object, got {_kind(value)}")
        text = value.strip()
        try:
            if text.startswith("@"):
                path = self.folder / text[1:]
                return json_object(read_text(str(path)), shown_path(path))
            if text.startswith("{"):
                return json_object(text, "the event JSON")
        except InputError as exc:
            raise self.fail(where, str(exc)) from None
        if re.fullmatch(r"[0-9]+", text):
            return {"event_seq": int(text)}
        return {"event_name": text}

    def expect(self, data: Any, where: str) -> None:
        self.keys(data, where, ("actions", "failed", "error", "event", "visitor"), "expect")
        if "error" in data:
            if not isinstance(data["error"], str):
                raise self.fail(f"{where}.error", "must be a string: a part of the rejection message")
            others = [k for k in ("actions", "failed", "event", "visitor") if k in data]
            if others:
                raise self.fail(f"{where}.{others[0]}", "a rejected event has no actions, event or visitor to expect")
        for key in ("actions", "failed"):
            if key in data:
                items = data[key]
                if not isinstance(items, list):
                    raise self.fail(f"{where}.{key}", f"must be a list of action objects, got {_kind(items)}")
                for i, item in enumerate(items):
                    self.expected_object(item, f"{where}.{key}[{i}]", "an expected action")
        for key in ("event", "visitor"):
            if key in data:
                self.expected_object(data[key], f"{where}.{key}", f"expect.{key}")

    def expected_object(self, data: Any, where: str, what: str) -> None:
        if not isinstance(data, dict):
            raise self.fail(where, f"{what} must be a JSON object, got {_kind(data)}")
        for key, value in data.items():
            problem = matcher_problem(value)
            if problem:
                raise self.fail(f"{where}.{key}", problem)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


# --------------------------------------------------------------- matching


def is_matcher(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in MATCHERS


def matcher_problem(value: Any) -> Optional[str]:
    """Why a matcher can't be used, or None (also for a plain value)."""
    if not is_matcher(value):
        return None
    ((kind, arg),) = value.items()
    if kind in ("contains", "matches") and not isinstance(arg, str):
        return f'"{kind}" takes a string, got {_kind(arg)}'
    if kind == "matches":
        try:
            re.compile(arg)
        except re.error as exc:
            return f'"matches" needs a valid regular expression: {exc}'
    if kind == "absent" and not isinstance(arg, bool):
        return f'"absent" takes true or false, got {_kind(arg)}'
    return None


def same(a: Any, b: Any) -> bool:
    """JSON's equality: numbers by value (1 == 1.0), a boolean only equal to a boolean."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def match(expected: Any, present: bool, actual: Any) -> bool:
    """Whether an actual value (absent when not `present`) matches an expected value or matcher."""
    if is_matcher(expected):
        ((kind, arg),) = expected.items()
        if kind == "absent":
            return present != arg
        if not present:
            return False
        if kind == "equals":
            return same(arg, actual)
        if kind == "contains":
            if isinstance(actual, str):
                return arg in actual
            return isinstance(actual, list) and any(same(arg, x) for x in actual)
        return isinstance(actual, str) and re.search(arg, actual) is not None
    return present and same(expected, actual)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def object_problems(expected: dict[str, Any], actual: dict[str, Any], where: str) -> list[str]:
    out = []
    for key, want in expected.items():
        if not match(want, key in actual, actual.get(key)):
            got = _json(actual[key]) if key in actual else "nothing (the key is absent)"
            out.append(f"{where}{key}: expected {_json(want)}, got {got}")
    return out


def list_problems(kind: str, expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    if len(expected) != len(actual):
        return [f"{kind}: expected {_count(len(expected), kind)}, got {len(actual)}"]
    out = []
    for i, (want, got) in enumerate(zip(expected, actual, strict=True)):
        out += object_problems(want, got, f"{kind}[{i}].")
    return out


def _count(n: int, kind: str) -> str:
    noun = "failed action" if kind == "failed" else "action"
    return f"{n} {noun}{'' if n == 1 else 's'}"


def event_problems(expect: Optional[dict[str, Any]], explained: Explained) -> list[str]:
    """What differs from `expect` (none: the event must not be rejected)."""
    expect = expect or {}
    if explained.result is None:
        if "error" not in expect:
            return [f"the event was rejected: {explained.rejected}"]
        if expect["error"] not in (explained.rejected or ""):
            return [f"error: expected a message containing {_json(expect['error'])}, got {_json(explained.rejected)}"]
        return []
    if "error" in expect:
        return [f"error: expected the event to be rejected ({_json(expect['error'])}), but it ran"]
    result = explained.result
    out = []
    for key, actual in (("actions", result.actions), ("failed", result.failed)):
        if key in expect:
            out += list_problems(key, expect[key], actual)
    if "event" in expect:
        out += object_problems(expect["event"], result.event, "event.")
    if "visitor" in expect:
        out += object_problems(expect["visitor"], result.visitor, "visitor.")
    return out


# --------------------------------------------------------------- running


@dataclass
class EventOutcome:
    spec: EventSpec
    explained: Optional[Explained]
    problems: list[str]


@dataclass
class CaseOutcome:
    case: Case
    events: list[EventOutcome] = field(default_factory=list)
    visitor: dict[str, Any] = field(default_factory=dict)
    visitor_problems: list[str] = field(default_factory=list)
    error: Optional[str] = None  # the flow has errors, or ppdsl disagreed with itself
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and not self.visitor_problems and not any(e.problems for e in self.events)

    def problems(self) -> list[str]:
        out = [self.error] if self.error else []
        for i, e in enumerate(self.events, 1):
            out += [f"event {i}: {p}" for p in e.problems]
        return out + [f"expect_visitor: {p.removeprefix('visitor.')}" for p in self.visitor_problems]


@dataclass
class FileOutcome:
    test: TestFile
    cases: list[CaseOutcome]
    errors: list[str]  # the flow's diagnostics, when it has errors


@dataclass
class CoverageItem:
    line: int
    col: int
    kind: str  # rule if elif else case default action
    outcome: str  # taken, or success/failed for an action
    text: str
    count: int = 0

    @property
    def group(self) -> str:
        return "rules" if self.kind == "rule" else "outcomes" if self.kind == "action" else "arms"

    def describe(self) -> str:
        if self.kind == "action":
            return f"{self.text}: {'success' if self.outcome == 'success' else 'failure'}"
        return self.text


@dataclass
class FlowCoverage:
    path: Path
    flow: str  # as shown
    items: list[CoverageItem]
    graph_keys: set[GraphKey] = field(default_factory=set)

    def counts(self, group: Optional[str] = None) -> tuple[int, int]:
        items = [i for i in self.items if group is None or i.group == group]
        return sum(i.count > 0 for i in items), len(items)

    @property
    def untaken(self) -> list[CoverageItem]:
        return [i for i in self.items if i.count == 0]


@dataclass
class Report:
    files: list[FileOutcome]
    coverage: list[FlowCoverage]

    @property
    def cases(self) -> list[CaseOutcome]:
        return [c for f in self.files for c in f.cases]

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.cases)

    @property
    def failed(self) -> int:
        return sum(not c.passed for c in self.cases)


class _Flow:
    """A flow file, compiled once for every test file that uses it."""

    def __init__(self, path: Path):
        from ..build.loader import module_from_code, read_source
        from ..build.pipeline import compile_source
        from ..lang.diagnostics import CompileError, render, summary

        self.shown = shown_path(path)
        self.errors: list[str] = []
        self.explainer: Optional[Explainer] = None
        self.coverage: Optional[FlowCoverage] = None
        try:
            source = read_source(path)
        except CompileError as exc:
            self.errors = [render(d) for d in exc.diagnostics]
            return
        result = compile_source(source, self.shown)
        if result.checked is None or result.code is None:
            errors = [d for d in result.diagnostics if d.is_error]
            self.errors = [render(d) for d in errors] + [f"{self.shown}: {summary(result.diagnostics)}"]
            return
        module = module_from_code(result.code, self.shown)
        self.explainer = Explainer(result.checked, module)
        self.coverage = FlowCoverage(path, self.shown, universe(result.checked, module))
        self.index = {(i.line, i.col, i.kind, i.outcome): i for i in self.coverage.items}

    def count(self, explained: Explained) -> None:
        assert self.coverage is not None
        for branch in explained.branches:
            item = self.index.get(branch)
            if item is None:
                raise Disagreement(f"explain took a branch the module's line map doesn't have: {branch}")
            item.count += 1
        self.coverage.graph_keys |= explained.graph_keys


def universe(checked: ir.CheckedProgram, module: Any) -> list[CoverageItem]:
    """Every branch of the compiled module, from its line map: each rule, each
    if/elif/else arm and switch case or default, and the success and the
    failure of each reply, assign and ticket. Inactive flows, and rules
    whose events earlier rules take, have no code and no branches."""
    nodes: dict[tuple[int, int, str], Any] = {}
    for flow in checked.active_flows:
        for node in ir.walk(flow):
            if isinstance(node, ir.Rule):
                nodes[(node.span.line, node.span.col, "rule")] = node
            elif isinstance(node, ir.If):
                for i, (cond, _) in enumerate(node.branches):
                    nodes[(cond.span.line, cond.span.col, "elif" if i else "if")] = cond
                if node.orelse is not None:
                    nodes[(node.orelse.span.line, node.orelse.span.col, "else")] = node.orelse
            elif isinstance(node, ir.Switch):
                for case in node.cases:
                    nodes[(case.span.line, case.span.col, "case")] = case
                if node.default is not None:
                    nodes[(node.default.span.line, node.default.span.col, "default")] = node.default
            elif isinstance(node, ir.ActionStmt):
                nodes[(node.span.line, node.span.col, "action")] = node
    names = {e.seq: e.name for e in checked.program.events}
    items = []
    for origin in line_map(module):
        key = (origin.source_line, origin.source_col, origin.kind)
        node = nodes.get(key)
        if origin.kind in ("rule", "if", "elif", "else", "case", "default"):
            items.append(CoverageItem(*key, "taken", _label(origin.kind, node, names)))
        elif origin.kind == "action" and isinstance(node, ir.ActionStmt):
            if isinstance(node.action, (ir.Reply, ir.Assign, ir.Ticket)):
                text = action_text(node.action)
                items += [CoverageItem(*key, outcome, text) for outcome in ("success", "failed")]
    return items


def _label(kind: str, node: Any, names: dict[int, str]) -> str:
    if kind == "rule" and isinstance(node, ir.Rule):
        return f"rule `{trigger_text(node, names)}`"
    if kind in ("if", "elif") and isinstance(node, ir.Expr):
        text = unparse.expr(node)
        return f"{kind} {text if len(text) <= 60 else text[:57] + '...'}"
    if kind == "case" and isinstance(node, ir.Case):
        return "case " + ", ".join(unparse.literal(v) for v in node.values)
    return kind  # else, default


def read_all(paths: Sequence[str]) -> list[TestFile]:
    """Every test file of the paths, read and checked before anything runs."""
    return [read_test_file(p) for p in find_test_files(paths)]


def run_tests(files: list[TestFile], pattern: Optional[str] = None) -> Report:
    """Run the cases whose name contains `pattern` (any case); NoTests when none does."""
    needle = pattern.casefold() if pattern else None
    flows: dict[Path, _Flow] = {}
    outcomes = []
    for test in files:
        cases = [c for c in test.cases if needle is None or needle in c.name.casefold()]
        if not cases:
            continue
        flow = flows.get(test.flow)
        if flow is None:
            flow = flows[test.flow] = _Flow(test.flow)
        outcomes.append(FileOutcome(test, [run_case(case, flow) for case in cases], flow.errors))
    if not outcomes:
        raise NoTests(f"no case matches -k {pattern}" if pattern else "no cases")
    coverage = [f.coverage for f in flows.values() if f.coverage is not None]
    return Report(outcomes, coverage)


def run_case(case: Case, flow: _Flow) -> CaseOutcome:
    outcome = CaseOutcome(case)
    if flow.explainer is None:
        outcome.error = f"{flow.shown} has errors"
        return outcome
    started = time.perf_counter()
    visitor = copy.deepcopy(case.visitor)
    try:
        for spec in case.events:
            at = spec.at if spec.at is not None else case.at
            explained = flow.explainer.explain(copy.deepcopy(spec.payload), visitor, at=at, fail=spec.fail)
            flow.count(explained)
            outcome.events.append(EventOutcome(spec, explained, event_problems(spec.expect, explained)))
            if explained.result is not None:
                visitor = explained.result.visitor
    except Disagreement as exc:
        outcome.error = f"{exc} (a bug in ppdsl: please report it)"
    outcome.visitor = visitor
    if case.expect_visitor is not None:
        outcome.visitor_problems = object_problems(case.expect_visitor, visitor, "visitor.")
    outcome.seconds = time.perf_counter() - started
    return outcome


# --------------------------------------------------------------- output


def _event_title(i: int, spec: EventSpec) -> str:
    given = spec.given if isinstance(spec.given, str) else _json(spec.given)
    return f"event {i} ({given if len(given) <= 60 else given[:57] + '...'})"


def case_details(outcome: CaseOutcome) -> list[str]:
    """What a failed case prints under its FAIL line: for each event that went
    wrong, the problems, what was expected, what happened and the explanation."""
    lines = []
    if outcome.error:
        lines.append(f"  {outcome.error}")
    for i, e in enumerate(outcome.events, 1):
        if not e.problems:
            continue
        lines.append(f"  {_event_title(i, e.spec)}:")
        lines += [f"    {p}" for p in e.problems]
        lines.append(f"    expected: {_json(e.spec.expect or {})}")
        assert e.explained is not None
        result = e.explained.result
        if result is None:
            lines.append(f"    got: rejected: {e.explained.rejected}")
        else:
            lines.append(f"    got: {_json({'actions': result.actions, 'failed': result.failed})}")
            lines.append("    explanation:")
            lines += to_text(e.explained.flows, "      ").rstrip("\n").split("\n")
    if outcome.visitor_problems:
        lines.append("  after the last event:")
        lines += [f"    {p}" for p in outcome.visitor_problems]
        lines.append(f"    expected visitor: {_json(outcome.case.expect_visitor)}")
        wanted = outcome.case.expect_visitor or {}
        lines.append(f"    got visitor: {_json({k: outcome.visitor[k] for k in wanted if k in outcome.visitor})}")
    return lines


def to_text_report(report: Report, coverage: bool = False) -> str:
    """PASS/FAIL lines (a failure with its details), the coverage, and `N passed, N failed` last."""
    lines = []
    for f in report.files:
        lines.append(f"{f.test.shown} (flow {shown_path(f.test.flow)})")
        for c in f.cases:
            lines.append(f"{'PASS' if c.passed else 'FAIL'} {c.case.name}")
            if not c.passed:
                lines += case_details(c)
    if coverage:
        lines += coverage_text(report.coverage)
    lines.append(f"{report.passed} passed, {report.failed} failed")
    return printable("\n".join(lines), keep="\n") + "\n"


_GROUPS = (
    ("rules", "rules"),
    ("arms", "if/elif/else arms and switch cases"),
    ("outcomes", "reply/assign/ticket outcomes (success and failure)"),
)


def coverage_text(coverage: list[FlowCoverage]) -> list[str]:
    lines = []
    for cov in coverage:
        taken, total = cov.counts()
        lines.append(f"coverage of {cov.flow}: {taken} of {total} branches taken")
        for group, title in _GROUPS:
            t, n = cov.counts(group)
            lines.append(f"  {title}: {t} of {n}")
        if cov.untaken:
            lines.append("  not taken:")
            lines += [f"    line {i.line}:{i.col}  {i.describe()}" for i in cov.untaken]
    return lines


def to_json_report(report: Report, coverage: bool = False) -> dict[str, Any]:
    """The report as JSON values (the shape is in the README, `ppdsl test --json`)."""
    out: dict[str, Any] = {
        "passed": report.passed,
        "failed": report.failed,
        "files": [
            {
                "file": f.test.shown,
                "flow": shown_path(f.test.flow),
                "errors": f.errors,
                "cases": [_case_json(c) for c in f.cases],
            }
            for f in report.files
        ],
    }
    if coverage:
        out["coverage"] = [coverage_json(c) for c in report.coverage]
    return out


def _case_json(c: CaseOutcome) -> dict[str, Any]:
    events = []
    for e in c.events:
        assert e.explained is not None
        result = e.explained.result
        events.append(
            {
                "event": e.spec.given,
                "passed": not e.problems,
                "problems": e.problems,
                "result": result.data if result is not None else None,
                "rejected": e.explained.rejected,
                "explain": to_json(e.explained.flows),
            }
        )
    return {
        "name": c.case.name,
        "passed": c.passed,
        "problems": c.problems(),
        "seconds": round(c.seconds, 6),
        "events": events,
        "visitor": c.visitor,
    }


def coverage_json(cov: FlowCoverage) -> dict[str, Any]:
    def item(i: CoverageItem) -> dict[str, Any]:
        return {"line": i.line, "column": i.col, "kind": i.kind, "outcome": i.outcome, "text": i.text, "count": i.count}

    taken, total = cov.counts()
    out: dict[str, Any] = {"flow": cov.flow, "taken": taken, "total": total}
    for group, _ in _GROUPS:
        t, n = cov.counts(group)
        out[group] = {"taken": t, "total": n}
    out["branches"] = [item(i) for i in cov.items]
    out["untaken"] = [item(i) for i in cov.untaken]
    return out


def to_junit_xml(report: Report) -> bytes:
    """JUnit XML: a testsuite per test file, a testcase per case, a
    <failure> for a case whose expectations failed and an <error> for one
    that couldn't run (the flow has errors)."""
    import xml.etree.ElementTree as ET

    cases = report.cases
    root = ET.Element("testsuites", name="ppdsl test", tests=str(len(cases)))
    root.set("failures", str(sum(not c.passed and c.error is None for c in cases)))
    root.set("errors", str(sum(c.error is not None for c in cases)))
    root.set("time", f"{sum(c.seconds for c in cases):.6f}")
    for f in report.files:
        suite = ET.SubElement(root, "testsuite", name=f.test.shown, tests=str(len(f.cases)))
        suite.set("failures", str(sum(not c.passed and c.error is None for c in f.cases)))
        suite.set("errors", str(sum(c.error is not None for c in f.cases)))
        suite.set("skipped", "0")
        suite.set("time", f"{sum(c.seconds for c in f.cases):.6f}")
        classname = f.test.shown.removesuffix(SUFFIX).replace(os.sep, ".").replace("/", ".").lstrip(".")
        for c in f.cases:
            case = ET.SubElement(suite, "testcase", classname=classname, name=c.case.name, time=f"{c.seconds:.6f}")
            case.set("file", f.test.shown)
            if c.passed:
                continue
            problems = c.problems()
            tag = "error" if c.error is not None else "failure"
            element = ET.SubElement(case, tag, message=_xml_text(problems[0] if problems else "failed"))
            element.set("type", "AssertionError" if c.error is None else "CompileError" if f.errors else "Disagreement")
            details = case_details(c) + ([""] + f.errors if f.errors else [])
            element.text = _xml_text("\n".join(line.removeprefix("  ") for line in details))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _xml_text(text: str) -> str:
    """XML 1.0 can't hold most control characters, even escaped."""
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "\ufffd", text)


def graph_keys(report: Report, flow: Path) -> Optional[set[GraphKey]]:
    """The graph branches the cases of `flow` took; None when no case runs it."""
    target = flow.resolve()
    found = [c for c in report.coverage if c.path == target]
    return found[0].graph_keys if found else None
