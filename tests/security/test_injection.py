"""Injection. The generated module is a security boundary (LANGUAGE.md
section 9: source text never becomes code): hostile strings, templates, names
and file names reach the module (and ppdsl.compile_condition) only as string
literals (checked with `tokenize`), and round-trip exactly. Hostile text and
arguments given to ppdsl.compile_condition end in a CompileError or a callable."""

from __future__ import annotations

import ast
import functools
import json
import re
import tokenize

import pytest

import ppdsl
from hostile import (
    LOC_COMMENT,
    T0,
    assert_contained,
    assert_handles,
    build,
    compiled,
    errors,
    ev,
    lit,
    module,
    paren_bomb,
    runtime_comments,
    short_id,
    tokens,
)


SAFE_NAME = re.compile(r"[A-Za-z0-9._-]+")


def skeleton(code: str) -> list[tuple[int, str]]:
    """Every token but string literals: what user text must never change."""
    return [(t.type, t.string) for t in tokens(code) if t.type != tokenize.STRING]


@functools.cache
def benign_skeleton(source: str) -> tuple:
    return tuple(skeleton(build(source)[0]))


# ----------------------------------------------------------------- strings


HOSTILE_STRINGS = [
    'PWN"); __import__("os").system("echo PWN"); ("',
    "PWN'); __import__('os').system('echo PWN'); ('",
    'PWN""" + __import__("os").getcwd() + """',
    "PWN''' + __import__('os').getcwd() + '''",
    "PWN\\",  # a backslash at the very end
    "PWN\\\\\\",
    "PWN\\'\\\"",
    "PWN\\N{BULLET}\\x41\\u0041\\",  # backslash sequences as text
    "PWN\r__import__('os')",  # a lone CR ends a Python comment
    "PWN\n__import__('os')\n#",
    "PWN\r\n\r\n",
    "PWN\u2028__import__('os')\u2029",
    "PWN\x85\x0b\x0c\x1c\x1d\x1e\x7f",  # str.splitlines() breaks on all of these
    "PWN\x00after-nul",
    "PWN\x1b[2J\x07",
    "PWN # not a comment",
    "PWN\t\ttabs",
    "PWN😀 ünïcødé 中文 \U0010ffff",
    "PWN {0} %s %(x)s {x!r} { }",
    "PWN" + "\\" * 7,
]


def string_program(payload: str) -> str:
    p = lit(payload)
    index_template = lit("{{ data[" + p + "] }}")
    regex = lit(re.escape(payload))
    return f"""\
event 1 ev_one uuid {p} {p}
event 2 ev_two
agent a1 {p}
group g1 {p}
field f1 string
flow hostile_flow {{
  on event ev_one -> {{
    reply a1 {p}
    ticket {p}
    convert {p}
    set f1 = {p}
    let v1 = {p}
    reply a1 "<{{{{ v1 }}}}>"
    reply a1 {index_template}
    if data.k == {p} reply a1 "eq"
    switch data.k {{ case {p} -> reply a1 "case" }}
    if matches(data.k, {regex}) reply a1 "match"
    if {p} in data.k reply a1 "in"
    if data.k != {p} reply a1 "ne"
    assign group g1
  }}
  on event ev_two -> reply a1 "two"
}}
"""


def summary(actions: list[dict]) -> list[tuple]:
    out = []
    for a in actions:
        if a["type"] == "reply":
            out.append(("reply", a["agent"], a["text"]))
        elif a["type"] == "ticket":
            out.append(("ticket", a["text"]))
        elif a["type"] == "convert":
            out.append(("convert", a["customer_user_type"]))
        elif a["type"] == "set":
            out.append(("set", a["field"], a["value"]))
        else:
            out.append(("assign", a.get("agent"), a.get("group"), a.get("any")))
    return out


@pytest.mark.parametrize("payload", HOSTILE_STRINGS, ids=lambda p: repr(p)[:40])
def test_hostile_string_stays_a_string_and_round_trips(payload):
    code, rules = build(string_program(payload))
    assert_contained(code)
    # Only string literals differ from the same program with an innocent string.
    assert tuple(skeleton(code)) == benign_skeleton(string_program("PWN innocent text"))

    assert rules.EVENTS[1] == {"name": "ev_one", "uuid": payload, "description": payload}
    surrogate = any(0xD800 <= ord(ch) <= 0xDFFF for ch in payload)
    te = {"event_uuid": payload, "event_timestamp": T0}
    if not surrogate:  # event_data must be valid Unicode; the source may hold any code point
        te["event_data"] = {payload: "indexed", "k": payload}
    result = rules.handle({"track_event": te})
    assert result["event"]["uuid"] == payload
    by_data = (
        [("reply", "a1", ""), ("reply", "a1", "ne")]
        if surrogate
        else [
            ("reply", "a1", "indexed"),
            ("reply", "a1", "eq"),
            ("reply", "a1", "case"),
            ("reply", "a1", "match"),
            ("reply", "a1", "in"),
        ]
    )
    assert summary(result["actions"]) == [
        ("reply", "a1", payload),
        ("ticket", payload),
        ("convert", payload),
        ("set", "f1", payload),
        ("reply", "a1", f"<{payload}>"),
        *by_data,
        ("assign", None, "g1", None),
    ]
    assert {a["flow"] for a in result["actions"]} == {"hostile_flow"}
    assert result["visitor"]["f1"] == payload
    assert result["visitor"]["customer_user_type"] == payload


def test_a_big_module_is_cut_only_where_the_generator_put_a_def(monkeypatch):
    """A big module's flows compile one by one, cut at `def _flow_N(` lines
    (ppdsl/build/cache.py): text that looks like such a line stays a string."""
    from ppdsl.build import cache
    from ppdsl.build.loader import module_from_code

    fake = "\ndef _flow_1(R, V, E):\n    __import__('os').system('echo PWN')\ndef _seg_2(V, E):\n"
    source = (
        f"agent a\nflow x {{ on any event -> reply a {lit(fake)} }}\nflow y {{ on event 2 -> ticket {lit(fake)} }}\n"
    )
    code, _ = build(source)
    monkeypatch.setattr(cache, "LAZY_LINES", 10)  # any module counts as big
    pieces = cache.compile_module(code, "big.py")
    assert [p[0] for p in pieces if type(p) is tuple] == ["_flow_1", "_flow_2"]
    rules = module_from_code(pieces, "hostile.ppflow")
    assert [a["text"] for a in rules.handle(ev(2))["actions"]] == [fake, fake]


@pytest.mark.parametrize(
    "raw", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x00", "\x1b", "\ufeff"], ids=repr
)
def test_raw_control_characters_inside_strings(raw):
    """Not escaped in the source: either a diagnostic or a faithful round trip."""
    source = f'on event 1 -> reply a "PWN{raw}x"\non event 2 -> ticket "{raw}"\n'
    result = compiled(source)
    if result.code is None:
        return
    assert_contained(result.code)
    rules = module(result.code)
    assert [a["text"] for a in rules.handle(ev(1))["actions"]] == [f"PWN{raw}x"]
    assert [a["text"] for a in rules.handle(ev(2))["actions"]] == [raw]


@pytest.mark.parametrize(
    "expr",
    [
        '__import__("os").system("echo PWN")',
        "__import__('os').system('echo PWN')",
        "exec('PWN')",
        'eval("1")',
        "open('/etc/passwd')",
        "getattr(data, 'PWN')",
        "data.__class__",
        "data.__class__.__mro__",
        "lower.__globals__",
        "_do(R, {})",
        "V",
        "E.now",
        "R",
        "lambda: 1",
        "[x for x in data]",
        "data if 1 else 2",
        "(yield)",
        "1; import os",
        "x := 1",
    ],
)
def test_template_expressions_cannot_reach_python(expr):
    source = f"on event 1 -> reply a {lit('{{ ' + expr + ' }}')}\n"
    result = compiled(source)
    if result.code is None:
        return  # a diagnostic: fine
    # if it compiled, the names must have resolved to ppflow things only
    assert_contained(result.code)
    out = assert_handles(module(result.code), ev(1, {"__class__": "c"}))
    assert out is not None
    if expr == "data.__class__":  # the JSON member, not the Python attribute
        assert out["actions"][0]["text"] == "c"
    if expr == "data.__class__.__mro__":
        assert out["actions"][0]["text"] == ""


@pytest.mark.parametrize(
    "text",
    [
        '{{ __import__("os").system("x") }}',
        "}}{{",
        "{{",
        "}}",
        "{{ }}",
        "{{ 1 }}}}",
        "{{{{ 1 }}",
        "{{ '}}' + '{{' }}",
        '{{ "}}" }}{{ "{{" }}',
    ],
)
def test_template_braces(text):
    source = f"on event 1 -> reply a {lit(text)}\n"
    result = compiled(source)
    for d in result.diagnostics:
        assert d.line == 1 and 1 <= d.col <= len(source)
    if result.code is not None:
        assert_contained(result.code)
        module(result.code).handle(ev(1))


def test_literal_braces_round_trip():
    text = 'a {{ "{{" }} b {{ "}}" }} c'
    _, rules = build("on event 1 -> reply a " + lit(text) + "\n")
    assert rules.handle(ev(1))["actions"][0]["text"] == "a {{ b }} c"


# ----------------------------------------------------------------- compile_condition


def test_lone_surrogate_escapes_are_diagnosed():
    """A lone surrogate escape is not text (UTF-8 has no such character); a pair is one character."""
    result = compiled('on event 1 -> reply a "PWN\\ud800lone\\udfff"\n')
    assert [d.code for d in result.diagnostics] == ["E003"]
    with pytest.raises(ppdsl.CompileError):
        ppdsl.compile_condition('user_fullname == "\\ud800"')
    assert ppdsl.compile_condition('"\\ud83d\\ude00"')({}) == "\U0001f600"


@pytest.mark.parametrize("payload", HOSTILE_STRINGS, ids=lambda p: repr(p)[:40])
def test_condition_strings_round_trip(payload):
    same = ppdsl.compile_condition(f"user_fullname == {lit(payload)} and {lit(payload)} in page_title")
    assert same({"user_fullname": payload, "page_title": "<" + payload + ">"}) is True
    assert same({"user_fullname": payload + "x", "page_title": payload}) is False
    assert ppdsl.compile_condition(f"lower({lit(payload)})")({}) == payload.lower()


@pytest.mark.parametrize(
    "text",
    [
        "(" * 5000 + "1" + ")" * 5000,
        "(" * 300 + "1" + ")" * 300,
        "[" * 300 + "]" * 300,
        "not " * 10000 + "1",
        "- " * 10000 + "user_web_sessions",
        "1" + " + 1" * 5000,
        "(" * 300,
        "",
        "\x00",
        "\r",
        "1 # comment",
        "1\n2",
        "__import__('os').system('echo PWN')",
        "user_fullname; __import__('os')",
        "count(2) > " + "9" * 5000,
        "1." + "9" * 400,
        "now - now < 99999999999999d",
    ],
    ids=lambda t: repr(t)[:30],
)
def test_condition_hostile_text_gives_compile_error_or_a_callable(text):
    try:
        condition = ppdsl.compile_condition(text)
    except ppdsl.CompileError as exc:
        assert exc.diagnostics
        return
    condition({"user_web_sessions": 1})


def test_condition_bracket_depth_is_checked():
    expr = paren_bomb(60, 40).replace("data.x", "user_web_sessions")
    try:
        condition = ppdsl.compile_condition(expr)
    except ppdsl.CompileError:
        return
    condition({"user_web_sessions": 1})


@pytest.mark.parametrize(
    "events",
    [
        {"x": "1"},
        {"x": None},
        {"x": 1.5},
        {"x": 99},
        {1: 1},
        {"x": [1]},
        {"if": 1},
        {"a b": 1},
        {"x": 1, "y": 1},
        {"x": 2**100},
    ],
    ids=short_id,
)
def test_condition_hostile_event_maps(events):
    try:
        condition = ppdsl.compile_condition("count(x) > 0 or count(1) > 0", events=events)
    except (ppdsl.CompileError, TypeError, ValueError) as exc:
        assert "event" in str(exc), f"the message should say the events argument is wrong: {exc}"
        return
    condition({"event_count_1": 1})


# ----------------------------------------------------------------- names


PYTHON_NAMES = [
    "class",
    "import",
    "lambda",
    "def",
    "return",
    "yield",
    "await",
    "async",
    "global",
    "nonlocal",
    "del",
    "pass",
    "for",
    "print",
    "exec",
    "eval",
    "open",
    "type",
    "self",
    "match",
    "_",
    "__builtins__",
    "__import__",
    "__name__",
    "__file__",
    "__class__",
    "_do",
    "_set",
    "_fmt",
    "V",
    "E",
    "R",
    "seq",
    "_l1",
    "_s1",
    "_K1",
    "_seg_1",
    "_flow_1",
    "handle",
    "EVENTS",
    "_FLOWS",
    "_FLOWS_BY_EVENT",
    "_BY_NAME",
    "_COUNT_KEYS",
    "_json",
    "_re",
    "_datetime",
]


PPFLOW_KEYWORDS = ["if", "None", "True", "TRUE", "null", "event", "not", "in", "and", "end", "any", "failure"]


def names_program(n: str) -> str:
    return f"""\
event 1 {n}
event 2 other
agent {n} "display {n}"
group {n}
field {n} int
flow {n} {{
  on event {n} -> {{
    set {n} = count({n}) + 1
    reply {n} "{{{{ {n} }}}}|{{{{ data.{n} }}}}|{{{{ data['{n}'] }}}}"
    assign group {n}
    assign {n}
  }}
  on event other -> reply {n}
}}
"""


def segment_program(n: str) -> str:
    return f"""\
segment {n} = count(1) > 0
on event 1 -> {{
  let {n}_x = 1
  if {n} reply a "{{{{ {n} }}}}"
}}
"""


def let_program(n: str) -> str:
    return f"""\
on event 1 -> {{
  let {n} = 40 + 2
  if {n} > 41 reply a "{{{{ {n} }}}}"
  switch {n} {{ case 42 -> ticket "{{{{ {n} }}}}" }}
}}
"""


@pytest.mark.parametrize("name", PYTHON_NAMES)
def test_python_names_are_ordinary_ppflow_names(name):
    code, rules = build(names_program(name))
    assert tuple(skeleton(code)) == benign_skeleton(names_program("zzbenign")), (
        "a name changed the generated code outside string literals"
    )
    result = rules.handle({"event_name": name, "event_timestamp": T0, "event_data": {name: "m"}}, {name: "not an int"})
    assert summary(result["actions"]) == [
        ("set", name, 2),
        ("reply", name, "2|m|m"),
        ("assign", None, name, None),
        ("assign", name, None, None),
    ]
    assert {a["flow"] for a in result["actions"]} == {name}
    assert rules.EVENTS[1]["name"] == name

    code, rules = build(segment_program(name))
    assert tuple(skeleton(code)) == benign_skeleton(segment_program("zzbenign"))
    assert summary(rules.handle(ev(1))["actions"]) == [("reply", "a", "true")]

    code, rules = build(let_program(name))
    assert tuple(skeleton(code)) == benign_skeleton(let_program("zzbenign"))
    assert summary(rules.handle(ev(1))["actions"]) == [("reply", "a", "42"), ("ticket", "42")]


@pytest.mark.parametrize("name", PPFLOW_KEYWORDS)
def test_ppflow_keywords_as_names_are_diagnosed(name):
    for source in (names_program(name), segment_program(name), let_program(name)):
        result = compiled(source)
        assert errors(result), source


@pytest.mark.parametrize(
    "name",
    ["data", "now", "user_fullname", "event_count_1", "track_event_seq", "extra_field_x", "count", "len", "main"],
)
def test_builtin_names_as_declared_names_never_crash(name):
    for source in (names_program(name), segment_program(name), let_program(name)):
        result = compiled(source)
        if result.code is not None:
            assert_handles(module(result.code), {"event_name": name, "event_timestamp": T0})


def test_very_long_names():
    long = "n" * 100_000
    code, rules = build(f'on event 1 -> {{\n let {long} = 1\n reply {long} "{{{{ {long} }}}}"\n}}\n')
    assert rules.handle(ev(1))["actions"][0] == {"flow": "main", "line": 3, "type": "reply", "agent": long, "text": "1"}
    assert max(len(t.string) for t in tokens(code) if t.type == tokenize.NAME) < 100
    result = compiled(f"event 1 {long}\nflow {long} {{ on event 1 -> end }}\n")
    assert {d.code for d in result.diagnostics if d.is_error} == {"E111"}
    assert all(len(d.message) < 200 for d in result.diagnostics)


# ----------------------------------------------------------------- file names


HOSTILE_FILE_NAMES = [
    "a\nb.ppflow",
    "a\rb.ppflow",
    "a\r\n__import__('os').system('PWN')\r\n.ppflow",
    'x""".ppflow',
    "x'''.ppflow",
    "x\"');__import__('os');#.ppflow",
    "#PWN.ppflow",
    "\u2028PWN\u2029.ppflow",
    "\x00PWN.ppflow",
    "PWN\\.ppflow",
    "ünï PWN ☃.ppflow",
    "P" * 500 + ".ppflow",
    ".ppflow",
    "",
]


@pytest.mark.parametrize("filename", HOSTILE_FILE_NAMES, ids=lambda f: repr(f)[:30])
def test_hostile_file_names_are_sanitized(filename):
    code, rules = build('agent a\non event 1 -> if count(1) > 0 reply a "ok"\n', filename)
    locs = [t.string for t in tokens(code) if t.type == tokenize.COMMENT and LOC_COMMENT.fullmatch(t.string)]
    assert locs, "expected # FILE:LINE comments"
    for tok in tokens(code):
        if tok.type == tokenize.COMMENT:
            assert LOC_COMMENT.fullmatch(tok.string) or tok.string in runtime_comments(), tok
        elif tok.type != tokenize.STRING:
            assert "PWN" not in tok.string
    doc = ast.get_docstring(ast.parse(code)) or ""
    first = doc.splitlines()[0]
    m = re.fullmatch(r"Event-flow rules compiled by ppdsl \S+ from (.*)\.", first)
    assert m and SAFE_NAME.fullmatch(m.group(1)), first
    assert rules.handle(ev(1))["actions"][0]["text"] == "ok"


def test_hostile_file_name_through_the_cli(cli, tmp_path):
    name = "evil\n\"\"\"#'\r__import__('os').system('PWN').ppflow"
    src = tmp_path / name
    src.write_text('agent a\non event 1 -> reply a "ok"\n', encoding="utf-8")
    out = tmp_path / "out.py"
    proc = cli("compile", src, "-o", out)
    assert proc.returncode == 0, proc.stderr
    code = out.read_text(encoding="utf-8")
    assert_contained(code)
    assert module(code).handle(ev(1))["actions"][0]["text"] == "ok"
    proc = cli("run", src, "--event", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["actions"][0]["text"] == "ok"
