"""Grammar-based fuzzing of the whole pipeline, with Hypothesis (tests/fuzz/strategies.py
generates the source text, the events and the visitors).

- Any text: `compile_source` never raises; it gives code or at least one
  error; every diagnostic points inside the text (a diagnostic about a name
  points at that name) and renders as text, JSON and LSP.
- Valid programs: no errors; the module compiles (also with warnings as
  errors) and declares the events; `handle` with fuzzed events, visitors,
  effects and times returns the object of LANGUAGE.md section 7, printable as
  strict JSON, or raises ValueError, and leaves the caller's visitor alone;
  flows run in priority order; the saved visitor has what `set` and `convert` did.
- The generated code holds user text only inside string literals: its NAME
  tokens are Python's keywords, the runtime's names and the few names the
  code generator makes (tests/hostile.py checks strings and comments).
- `ppdsl.compile_condition` (and its fast path) agrees with a compiled module.
- The strategies themselves still cover the whole language and the error paths.

The four bugs the fuzzer found (json() overflow, compile_condition's fast
path, template positions after escapes, template syntax errors at the end of
the file) are fixed; their reproductions are the plain tests at the end.

The runs are deterministic (`derandomize`, no example database), sized for CI.
A longer or different run:

    PPDSL_FUZZ_EXAMPLES=2000 .venv/bin/pytest -q -n 2 -m fuzz   # examples per property (default 150)
    PPDSL_FUZZ_SEED=7 .venv/bin/pytest -q -m fuzz               # another seed instead of the fixed one

A failure prints the shrunk example; paste its text into a file and try
`ppdsl check` on it.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import keyword
import os
import re
import tokenize
import warnings
from typing import Optional
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, Phase, given, note, seed, settings
from hypothesis import strategies as st

import ppdsl
import strategies as S
from hostile import assert_contained, module, short_id, tokens
from ppdsl.build.pipeline import compile_source
from ppdsl.codegen.python import runtime_source
from ppdsl.lang.diagnostics import render, to_json, to_lsp

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("PPDSL_FUZZ_EXAMPLES", "150"))
SEED = os.environ.get("PPDSL_FUZZ_SEED")
FILENAME = "fuzz.ppflow"


def fuzz(test):
    """The settings every property here runs with."""
    test = settings(
        derandomize=SEED is None,
        database=None,
        max_examples=EXAMPLES,
        deadline=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )(test)
    return seed(int(SEED))(test) if SEED is not None else test


@functools.lru_cache(maxsize=64)
def compiled(text: str):
    """compile_source, once per text (shrinking tries the same text again)."""
    return compile_source(text, FILENAME)


@functools.lru_cache(maxsize=16)
def loaded(code: str):
    return module(code)


def error_lines(result) -> list[str]:
    return [render(d) for d in result.diagnostics if d.is_error]


# ----------------------------------------------------------------- any text


NAMED = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)'")
NAME_CODES = {"E101", "E102", "E103", "E104", "E105", "E106", "E114", "E116", "E118"}


def string_spans(text: str) -> list[tuple[int, int]]:
    """Where the string literals of a source are (comments skipped)."""
    return [m.span() for m in S.TOKEN_RE.finditer(text) if m.group()[:1] in "\"'" and len(m.group()) > 1]


def assert_points_at_name(text: str, d, strings: list[tuple[int, int]]) -> None:
    """A diagnostic about a name (unknown, declared twice, ...) points at that name."""
    named = NAMED.search(d.message)
    if d.code not in NAME_CODES or named is None:
        return
    if any(a <= d.span.start < b for a, b in strings):
        return  # inside a template: a known bug (test_template_diagnostics_point_into_the_template)
    assert text.startswith(named.group(1), d.span.start), (
        f"{d.code} {d.message} points at {text[d.span.start :][:20]!r}"
    )


def assert_inside(text: str, span, what: str) -> None:
    lines = text.split("\n")
    line, col = span.line, span.col
    assert 1 <= line <= len(lines), f"{what}: line {line} outside 1..{len(lines)}"
    assert 1 <= col <= len(lines[line - 1]) + 1, f"{what}: column {col} outside line {line} ({len(lines[line - 1])})"
    assert span.start <= span.end or span.length >= 1, what


@fuzz
@given(S.any_programs())
def test_any_text_gives_code_or_errors(text):
    result = compile_source(text, FILENAME)  # never raises
    errors = [d for d in result.diagnostics if d.is_error]
    if result.code is None:
        assert errors, "no code and no error"
    else:
        assert not errors, error_lines(result)
        compile(result.code, "<generated>", "exec")
        assert_contained(result.code)
    strings = string_spans(text)
    for d in result.diagnostics:
        assert_inside(text, d.span, f"{d.code} {d.message}")
        assert_points_at_name(text, d, strings)
        for label in d.labels:
            assert_inside(text, label.span, f"{d.code} label {label.text}")
        assert render(d) and render(d, location=False)
        json.dumps(to_json(d), allow_nan=False)
        json.dumps(to_lsp(d, "file:///fuzz.ppflow"), allow_nan=False)


def decoded_index(literal: str) -> list[int]:
    """For each offset in a string literal, the index of the decoded character it spells
    (the closing quote: the length of the decoded text)."""
    out, index, i = [0], 0, 1
    while i < len(literal) - 1:
        size = 1
        if literal[i] == "\\":
            size = 2
            if literal[i + 1] == "u":
                size = 12 if 0xD800 <= int(literal[i + 2 : i + 6], 16) <= 0xDBFF else 6
        out += [index] * size
        index += 1
        i += size
    return out + [index]


@fuzz
@given(S.broken_templates(), st.sampled_from(['"', "'"]))
def test_template_diagnostics_point_into_the_template(value, quote):
    """An error in a `{{ }}` expression points into its string, at the same character
    however the string is spelled (with few escapes, or with every one)."""
    head = "on event 1 -> reply a "
    found = []
    for escape_all in (False, True):
        literal = S.spell(value, quote, escape_all)
        text = head + literal + "\non event 2 -> end\n"
        note(text)
        index = decoded_index(literal)
        where = []
        for d in compiled(text).diagnostics:
            offset = d.span.start - len(head)
            assert 0 <= offset < len(literal), f"{d.code} {d.message} is at {d.line}:{d.col}, outside the template"
            named = NAMED.search(d.message)
            if d.code in ("E101", "E102") and named:
                assert text.startswith(named.group(1), d.span.start), f"{d.message} at {text[d.span.start :][:20]!r}"
            where.append((d.code, index[offset]))
        found.append(where)
    assert found[0] == found[1], "the same template, spelled another way, moves its diagnostics"


# ----------------------------------------------------------------- valid programs


@fuzz
@given(S.program_infos())
def test_valid_program_compiles_without_errors(info):
    result = compiled(info.text)
    assert not error_lines(result), "\n".join(error_lines(result))
    assert result.code is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # hosts may run with -W error
        compile(result.code, "<generated>", "exec")
    rules = loaded(result.code)
    assert set(rules.EVENTS) == {e.seq for e in info.events}
    for e in info.events:
        assert (rules.EVENTS[e.seq]["name"], rules.EVENTS[e.seq]["uuid"]) == (e.name, e.uuid)


def generated_names() -> frozenset[str]:
    """NAME tokens the generated code may hold: Python's keywords, the runtime's
    names, and what the code generator makes itself (ppdsl/codegen/templates):
    the flow arguments V, E and R, `seq`, EVENTS, `_re.compile`, `_timedelta(seconds=...)`."""
    runtime = {t.string for t in tokenize.generate_tokens(io.StringIO(runtime_source()).readline)}
    return frozenset(
        {*keyword.kwlist, *keyword.softkwlist, *runtime, "V", "E", "R", "seq", "EVENTS", "compile", "seconds"}
    )


ALLOWED_NAMES = generated_names()


RULES_MARKER = "\n# ----------------------------------------------------------------- the rules\n"


@functools.cache
def shared_runtime() -> str:
    """The runtime as every compiled module carries it: from the end of the
    docstring to the rules (the same text in every module)."""
    code = compile_source("on event 1 -> end", FILENAME).code
    assert code is not None
    return code[code.index('"""\n', 3) + 4 : code.index(RULES_MARKER)]


def without_runtime(code: str) -> str:
    """The module minus the runtime it shares with every other module, which
    holds no user text (so only the generated part needs tokenizing)."""
    runtime = shared_runtime()
    assert code.count(runtime) == 1, "the runtime differs from one module to the next"
    return code.replace(runtime, "\n")


@fuzz
@given(S.valid_programs())
def test_generated_code_keeps_user_text_in_string_literals(text):
    code = compiled(text).code
    assert code is not None, error_lines(compiled(text))
    generated = without_runtime(code)
    for tok in tokens(generated):
        if tok.type == tokenize.NAME and not tok.string.startswith("_"):
            assert tok.string in ALLOWED_NAMES, f"user text outside a string literal: {tok}"
    assert_contained(generated)  # strings are plain literals, comments are the runtime's or `# FILE:LINE`


# ----------------------------------------------------------------- running the module


ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z")
KEYS = {
    "reply": {"agent", "text"},
    "assign": None,  # one of agent, group, any
    "set": {"field", "value"},
    "convert": {"customer_user_type"},
    "ticket": {"text"},
}


def check_action(action: dict, lines: list[str], failed: bool) -> None:
    kind = action["type"]
    assert kind in (("reply", "assign", "ticket") if failed else KEYS), action
    keys = set(action) - {"flow", "line", "type"} - ({"error"} if failed else set())
    if kind == "assign":
        assert keys in ({"agent"}, {"group"}, {"any"}), action
        assert action.get("any", True) is True and all(isinstance(action.get(k, ""), str) for k in ("agent", "group"))
    else:
        assert keys == KEYS[kind], action
    assert isinstance(action["flow"], str) and type(action["line"]) is int
    assert 1 <= action["line"] <= len(lines), action
    word = "set" if kind == "set" else kind
    assert re.search(rf"\b{word}\b", lines[action["line"] - 1]), f"line {action['line']} has no '{word}': {action}"
    if kind in ("reply", "ticket"):
        assert action["text"] is None or isinstance(action["text"], str), action
        assert kind == "reply" or action["text"] is not None
    if kind == "convert":
        assert isinstance(action["customer_user_type"], str)
    if "error" in action:
        assert isinstance(action["error"], str) and action["error"]


def check_flow_order(info, actions: list[dict]) -> None:
    """Flows run once each, in descending priority, ties in file order; inactive ones never."""
    ran = [a["flow"] for a in actions]
    groups = [f for i, f in enumerate(ran) if i == 0 or ran[i - 1] != f]
    assert len(groups) == len(set(groups)), f"a flow ran twice: {groups}"
    assert all(g in info.flow_order for g in groups), (groups, info.flow_order)
    positions = [info.flow_order.index(g) for g in groups]
    assert positions == sorted(positions), f"flows ran as {groups}, expected the order {info.flow_order}"


def check_result(info, result, visitor, effects) -> None:
    assert set(result) == {"event", "actions", "failed", "visitor"}, set(result)
    event = result["event"]
    assert set(event) == {"seq", "name", "uuid", "count", "time"}, event
    declared = {e.seq: e for e in info.events}
    if declared:
        assert event["seq"] in declared and event["name"] == declared[event["seq"]].name
        assert event["uuid"] == declared[event["seq"]].uuid
    else:
        assert event["seq"] in range(1, 9) and event["name"] is None and event["uuid"] is None
    assert type(event["count"]) is int and event["count"] >= 1
    assert ISO.fullmatch(event["time"]), event["time"]
    lines = info.text.split("\n")
    for action in result["actions"]:
        check_action(action, lines, failed=False)
    for action in result["failed"]:
        check_action(action, lines, failed=True)
    check_flow_order(info, result["actions"])
    check_flow_order(info, result["failed"])
    if effects is None:
        assert result["failed"] == []
    else:
        hosted = [a for a in result["actions"] if a["type"] in ("reply", "assign", "ticket")]
        assert len(effects.calls) == len(hosted) + len(result["failed"])
    out = result["visitor"]
    assert isinstance(out, dict) and set(visitor or {}) <= set(out)
    # section 6: the statistics are updated before the flows run
    before = (visitor or {}).get(f"event_count_{event['seq']}")
    assert event["count"] == (before or 0) + 1
    assert out[f"event_count_{event['seq']}"] == event["count"]
    # section 4: `set` and `convert` change the visitor at once; the saved visitor has the last value
    last = {}
    for action in result["actions"]:
        if action["type"] == "set":
            last[action["field"]] = action["value"]
        elif action["type"] == "convert":
            last["customer_user_type"] = action["customer_user_type"]
    for name, value in last.items():
        assert out[name] == value, f"{name}: the visitor holds {out[name]!r}, the last action set {value!r}"
    json.dumps(result, allow_nan=False)  # strict JSON: no NaN, no Infinity, nothing but JSON types


@fuzz
@given(S.program_infos(), st.data())
def test_handle_returns_the_documented_result_or_rejects(info, data):
    result = compiled(info.text)
    assert result.code is not None, error_lines(result)
    rules = loaded(result.code)
    seqs = tuple(e.seq for e in info.events) or tuple(range(1, 9))
    for _ in range(data.draw(st.integers(1, 4))):
        payload = data.draw(S.events(tuple(info.events)), "payload")
        visitor = data.draw(S.visitors(tuple(info.fields.items()), seqs), "visitor")
        effects = data.draw(S.effects(), "effects")
        at = data.draw(S.at_times(), "at")
        before = copy.deepcopy(visitor)
        try:
            out = rules.handle(payload, visitor, effects, at=at)
        except ValueError as exc:  # a rejected event; anything else is a bug
            assert str(exc), "a rejection needs a message"
            note(f"rejected: {exc}")
            out = None
        assert visitor == before, "handle modified the caller's visitor"
        if out is not None:
            check_result(info, out, visitor, effects)


# ----------------------------------------------------------------- the strategies themselves


def generated(strategy, count: int, seed_: Optional[int] = None) -> list:
    """`count` examples of a strategy, the same ones on every run (Hypothesis also draws
    constants from the modules loaded, so another selection of tests may see others)."""
    out: list = []

    @settings(derandomize=seed_ is None, database=None, max_examples=count, deadline=None, phases=[Phase.generate])
    @given(strategy)
    def collect(value):
        out.append(value)

    (seed(seed_)(collect) if seed_ is not None else collect)()
    return out


def test_valid_programs_use_the_whole_language(seed_=None):
    """A change to the strategies must not quietly stop testing part of the language:
    the valid programs use every keyword, operator, function, literal form and escape."""
    texts = generated(S.valid_programs(), 250, seed_)
    code = [t for text in texts for t in S.TOKEN_RE.findall(text) if t[:1] not in "\"'#"]
    words = set(code)
    strings = "".join(t for text in texts for t in S.TOKEN_RE.findall(text) if t[:1] in "\"'")
    assert S.KEYWORDS <= words, sorted(S.KEYWORDS - words)
    called = set(re.findall(r"([a-z_]+)\(", "".join(texts)))  # in templates too
    assert set(S.FUNCTIONS) <= called, sorted(set(S.FUNCTIONS) - called)
    builtin = set(S.SYSTEM_VARS) | set(S.EVENT_VARS)
    assert len(builtin & words) >= 0.8 * len(builtin), sorted(builtin - words)
    operators = {"==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "!", "||", "&&", "->", ",", "[", "]"}
    assert operators <= words, sorted(operators - words)
    joined = "\n".join(texts)
    for form in (r"\b[0-9]+s\b", r"\b[0-9]+m\b", r"\b[0-9]+h\b", r"\b[0-9]+d\b", r"\b[0-9]+w\b", r"[0-9]\.[0-9]"):
        assert re.search(form, joined), form
    for form in (
        "not in",
        "on any event",
        "on event *",
        "on failure ->",
        "event_count_",
        "extra_field_",
        "data.",
        ",]",
    ):
        assert form in joined, form
    assert re.search(r"[<>=]=? [^ ]+ [<>=!]=? ", joined), "no chained comparison"
    for escape in ("\\\\", '\\"', "\\'", "\\n", "\\t", "\\u", "{{"):
        assert escape in strings, escape


def test_broken_programs_reach_the_error_paths(seed_=None):
    """The broken programs get past the parser often enough to find semantic errors too."""
    codes = {d.code for text in generated(S.broken_programs(), 200, seed_) for d in compiled(text).diagnostics}
    assert {"E001", "W201", "W202", "W203"} <= codes, sorted(codes)
    assert len({c for c in codes if c.startswith("E1")}) >= 6, sorted(codes)


# ----------------------------------------------------------------- compile_condition


def plain(value):
    """A value as `set` stores it: times as ISO text, durations as whole seconds."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def same(a, b) -> bool:
    """Equal, and of the same JSON types all the way down (1, 1.0 and true differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


CONDITION_RULES = "\n".join(f"event {s} ev{s}" for s in range(1, 9)) + "\non event 8 -> set extra_field_zz_out = ({})\n"


@fuzz
@given(
    S.conditions(),
    st.one_of(
        S.typed_visitors(tuple(range(1, 8))), S.visitors((), tuple(range(1, 8))).filter(lambda v: isinstance(v, dict))
    ),
)
def test_compile_condition_agrees_with_a_compiled_rule(text, visitor):
    """ppdsl.compile_condition (with its fast path for well-typed visitors) gives what the
    same expression gives in a compiled module, where `set` stores it."""
    condition = ppdsl.compile_condition(text, events={e.name: e.seq for e in S.CONDITION_EVENTS})
    value = condition(copy.deepcopy(visitor))
    result = compiled(CONDITION_RULES.format(text))
    assert result.code is not None, error_lines(result)
    out = loaded(result.code).handle({"event_seq": 8, "event_timestamp": S.T0}, visitor)
    stored = out["visitor"]["extra_field_zz_out"]
    assert same(plain(value), stored), f"compile_condition gives {short_id(value)}, the module {short_id(stored)}"


# ----------------------------------------------------------------- known bugs, as the fuzzer found them


def test_json_overflow_is_null():
    """LANGUAGE.md: overflowing arithmetic is null and the result is JSON; json("1e400") is inf.
    (Found by this fuzzer; strategies.OVERFLOW_JSON_TEXT keeps generating such texts.)"""
    code = compiled('on event 1 -> set extra_field_a = json("1e400")').code
    out = loaded(code).handle({"event_seq": 1, "event_timestamp": S.T0})
    json.dumps(out, allow_nan=False)


def test_template_positions_follow_escapes():
    text = 'on event 1 -> reply a "{{ \\"a\\" == xx }}"'
    (d,) = [d for d in compiled(text).diagnostics if d.is_error]
    assert d.code == "E101" and d.col == text.index("xx") + 1, render(d)


def test_template_syntax_error_stays_on_its_line():
    text = 'on event 1 -> reply a "{{ 1 +\\n }}"\non event 2 -> end\n'
    (d,) = [d for d in compiled(text).diagnostics if d.is_error]
    assert d.line == 1, render(d)


def test_condition_fast_path_overflow():
    """`+` of two visitor ints in compile_condition's fast path is plain Python; the
    null-safe path (and a compiled module) gives null past 13,000 bits. Both paths must agree.
    (Found by this fuzzer; strategies.HUGE_INTS keeps generating such ints.)"""
    visitor = {"user_web_sessions": 10**3950, "event_count_1": 10**3950}
    rules = loaded(compiled("on event 2 -> set extra_field_a = user_web_sessions + event_count_1").code)
    assert rules.handle({"event_seq": 2, "event_timestamp": S.T0}, visitor)["visitor"]["extra_field_a"] is None
    assert ppdsl.compile_condition("user_web_sessions + event_count_1")(visitor) is None
