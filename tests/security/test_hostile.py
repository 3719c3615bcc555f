"""Hostile input. The generated module is a security boundary (LANGUAGE.md
section 9: source text never becomes code), and bad input of any kind must end
in diagnostics or a clear error, never in a traceback or a damaged file.

1. injection: hostile strings, names and file names reach the module (and
   ppdsl.compile_condition) only as string literals (checked with `tokenize`),
   and round-trip exactly;
2. robustness of the compiler: deep nesting, huge files, binary junk, edge
   cases of the lexical rules;
3. hostile events and visitors through `handle` and `ppdsl run`;
4. a small seeded fuzz over the examples.
"""

from __future__ import annotations

import ast
import functools
import io
import json
import random
import re
import tokenize
import types
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import ppdsl
from ppdsl.build.pipeline import compile_source

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
T0 = 1795593600  # 2026-11-25T08:00:00Z

LOC_COMMENT = re.compile(r"# [A-Za-z0-9._-]+:[0-9]+")
SAFE_NAME = re.compile(r"[A-Za-z0-9._-]+")


# ----------------------------------------------------------------- helpers


def compiled(source: str, filename: str = "hostile.ppflow"):
    """compile_source must never raise: it returns diagnostics or code."""
    result = compile_source(source, filename)
    if result.code is not None:
        compile(result.code, "<generated>", "exec")  # whatever it returns is valid Python
        assert not any(d.is_error for d in result.diagnostics)
    else:
        assert any(d.is_error for d in result.diagnostics), "no code and no error"
    return result


def errors(result) -> list[str]:
    return [f"{d.line}:{d.col} {d.code} {d.message}" for d in result.diagnostics if d.is_error]


def module(code: str) -> types.ModuleType:
    mod = types.ModuleType("ppdsl_hostile")
    exec(compile(code, "<hostile>", "exec"), mod.__dict__)
    return mod


def build(source: str, filename: str = "hostile.ppflow") -> tuple[str, types.ModuleType]:
    result = compiled(source, filename)
    assert result.code is not None, errors(result)
    return result.code, module(result.code)


def tokens(code: str) -> list[tokenize.TokenInfo]:
    return list(tokenize.generate_tokens(io.StringIO(code).readline))


def skeleton(code: str) -> list[tuple[int, str]]:
    """Every token but string literals: what user text must never change."""
    return [(t.type, t.string) for t in tokens(code) if t.type != tokenize.STRING]


@functools.cache
def benign_skeleton(source: str) -> tuple:
    return tuple(skeleton(build(source)[0]))


def lit(text: str) -> str:
    """A ppflow string literal whose decoded value is exactly `text`."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) <= 0xFFFF and not ch.isprintable():
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


_BENIGN_COMMENTS: set[str] = set()


def runtime_comments() -> set[str]:
    """The comments of a module compiled from innocent source: the runtime's own."""
    if not _BENIGN_COMMENTS:
        code, _ = build("on event 1 -> reply a", "benign.ppflow")
        _BENIGN_COMMENTS.update(
            t.string for t in tokens(code) if t.type == tokenize.COMMENT and not LOC_COMMENT.fullmatch(t.string)
        )
    return _BENIGN_COMMENTS


def assert_contained(code: str, marker: str = "PWN") -> None:
    """User text appears only inside STRING tokens; comments are the runtime's
    own or `# SAFE_FILE_NAME:LINE`; every string literal is a plain literal."""
    assert marker not in runtime_comments()
    for tok in tokens(code):
        if tok.type == tokenize.STRING:
            if re.match(r"[A-Za-z]*[fF]", tok.string):  # the runtime's own f-strings
                assert marker not in tok.string, f"user text inside an f-string: {tok}"
            else:
                ast.literal_eval(tok.string)
            continue
        if tok.type == tokenize.COMMENT and LOC_COMMENT.fullmatch(tok.string):
            continue  # `# FILE:LINE` with the file name reduced to [A-Za-z0-9._-]
        assert marker not in tok.string, f"user text outside a string literal: {tok}"
        if tok.type == tokenize.COMMENT:
            assert tok.string in runtime_comments(), tok
    docstring = ast.get_docstring(ast.parse(code)) or ""
    assert "\r" not in docstring


def short_id(value) -> str:
    try:
        return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))[:50]
    except (ValueError, RecursionError):
        return type(value).__name__


def ev(seq: int = 1, data=None, **more):
    te = {"event_seq": seq, "event_timestamp": T0, **more}
    if data is not None:
        te["event_data"] = data
    return {"track_event": te}


def assert_handles(rules, payload, visitor=None) -> dict | None:
    """`handle` either returns a result or rejects the event with ValueError."""
    try:
        result = rules.handle(payload, visitor)
    except ValueError as exc:
        assert str(exc), "a rejection needs a message"
        return None
    # what ppdsl made is printable as JSON (the visitor may carry the caller's own values)
    json.dumps({k: v for k, v in result.items() if k != "visitor"}, ensure_ascii=False)
    return result


def assert_no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout, proc.stdout[-3000:]


# ======================================================= 1. injection: strings

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


@pytest.mark.parametrize(
    "cond",
    [
        "exists(1)",
        "1 == null",
        "null != 'a'",
        "exists([1]) and exists('x')",
        "null == null",
        "[] == null",
        "10m != null",
    ],
)
def test_generated_code_is_warning_free(cond):
    """Hosts run with -W error too: `1 is not None` is a SyntaxWarning, and then an error."""
    result = compiled(f"on event 1 -> if {cond} reply a\n")
    if result.code is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile(result.code, "<generated>", "exec")


def test_subtraction_and_juxtaposed_operands():
    """A silently dropped operand would change what a rule means."""
    _, rules = build('on event 1 -> reply a "{{ 10 - 3 }}|{{ 10 -3 }}|{{ 2 * 3 - 1 }}"\n')
    assert rules.handle(ev(1))["actions"][0]["text"] == "7|7|5"
    for juxtaposed in ("data.a data.b", "1 2", "1 (2)", "data.a not data.b", "count(1) count(2)"):
        result = compiled(f"on event 1 -> if {juxtaposed} reply a\n")
        assert errors(result), f"{juxtaposed!r} must be a syntax error, not silently read as its first operand"


# ======================================================= 1. injection: compile_condition


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


# ======================================================= 1. injection: names

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


# ======================================================= 1. injection: file names

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


def test_file_name_with_terminal_escapes_in_diagnostics(cli, tmp_path):
    src = tmp_path / "x\x1b]0;PWN\x07\x1b[2J.ppflow"
    src.write_text("on event 1 -> reply\n", encoding="utf-8")
    proc = cli("check", src)
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert "\x1b" not in proc.stdout + proc.stderr, "a file name must not drive the terminal"


# ======================================================= 2. robustness: compiler

DEEP = {
    "1000 nested parens": "on event 1 -> if " + "(" * 1000 + "1" + ")" * 1000 + " reply a\n",
    "1000 nested brackets": "on event 1 -> if 1 in " + "[" * 1000 + "]" * 1000 + " reply a\n",
    "1000 parens unclosed": "on event 1 -> if " + "(" * 1000 + "\n",
    "1000 closing parens": "on event 1 -> if 1" + ")" * 1000 + " reply a\n",
    "500 nested if without braces": "on event 1 -> " + "if true " * 500 + "reply a\n",
    "500 nested on failure": "on event 1 -> " + "reply a on failure -> " * 500 + "end\n",
    "500 nested switch": "on event 1 -> " + "switch 1 { case 1 -> " * 500 + "end" + " }" * 500 + "\n",
    "200 nested blocks": "on event 1 -> " + "{ " * 200 + "reply a" + " }" * 200 + "\n",
    "60 nested blocks": "on event 1 -> " + "{ " * 60 + "reply a" + " }" * 60 + "\n",
    "5000-term sum": "on event 1 -> if " + "+".join(["1"] * 5000) + " > 0 reply a\n",
    "5000-term product": "on event 1 -> if " + "*".join(["data.x"] * 5000) + " > 0 reply a\n",
    "5000 and": "on event 1 -> if " + " and ".join(["true"] * 5000) + " reply a\n",
    "3000 chained <": "on event 1 -> if " + " < ".join(["1"] * 3000) + " reply a\n",
    "10000 not": "on event 1 -> if " + "not " * 10000 + "true reply a\n",
    "10000 !": "on event 1 -> if " + "!" * 10000 + "true reply a\n",
    "10000 unary minus": "on event 1 -> if " + "- " * 10000 + "data.x > 0 reply a\n",
    "5000 member chain": "on event 1 -> if data" + ".a" * 5000 + " reply a\n",
    "3000 index chain": "on event 1 -> if data" + "[0]" * 3000 + " reply a\n",
    "2000 parens in a template": 'on event 1 -> reply a "{{ ' + "(" * 2000 + "1" + ")" * 2000 + ' }}"\n',
    "10000 not in a template": 'on event 1 -> reply a "{{ ' + "not " * 10000 + '1 }}"\n',
    "deep segment chain": "".join(f"segment s{i} = s{i + 1} and true\n" for i in range(400))
    + "segment s400 = true\non event 1 -> if s0 reply a\n",
    "segment cycle": "".join(f"segment s{i} = s{(i + 1) % 300}\n" for i in range(300))
    + "on event 1 -> if s0 reply a\n",
}


@pytest.mark.parametrize("name", list(DEEP))
def test_deep_nesting_gives_diagnostics_or_valid_code(name):
    source = DEEP[name]
    result = compiled(source)
    last = source.count("\n") + 1
    for d in result.diagnostics:
        assert 1 <= d.line <= last and d.col >= 1, d
    if result.code is not None:
        assert_handles(module(result.code), ev(1, {"x": 1, "a": None}))


def paren_bomb(levels: int, terms: int) -> str:
    """Each source level costs the checker one level but the emitter three
    Python brackets: `((not _eq(X, 1)) and (not (1 == 1)))`."""
    expr = "+".join(["data.x"] * terms)
    for _ in range(levels):
        expr = f"({expr} != 1 != 1)"
    return expr


@pytest.mark.parametrize("levels,terms", [(30, 60), (45, 40), (54, 40), (60, 20), (60, 40), (63, 60)])
def test_deepest_accepted_expression_still_compiles(levels, terms):
    """Whatever the checker accepts must stay within CPython's 200 nested brackets."""
    expr = paren_bomb(levels, terms)
    compiled(f"on event 1 -> if {expr} reply a\n")
    compiled(f"on event 1 -> reply a {lit('{{ ' + expr + ' }}')}\n")


def test_paren_bomb_through_run(cli, tmp_path):
    path = tmp_path / "bomb.ppflow"
    path.write_text(f"on event 1 -> if {paren_bomb(60, 40)} reply a\n", encoding="utf-8")
    proc = cli("run", path, "--event", "1")
    assert_no_traceback(proc)
    assert proc.returncode in (0, 1)


def test_large_file_of_valid_rules():
    # LANGUAGE.md has no size limit; 3 MB of rules takes minutes with textX, so
    # this uses ~250 KB (about 2,600 rules in 330 flows), which takes a few seconds.
    block = "".join(
        f'  on event {e} -> if count({e}) > {e} and user_fullname != "x{e}" reply agent_{e} '
        f'"Hi {{{{ user_fullname }}}} #{e}"\n'
        for e in range(1, 9)
    )
    source = "".join(f"flow f{i} priority {i % 7} {{\n{block}}}\n" for i in range(330))
    assert len(source) > 250_000
    code, rules = build(source)
    out = rules.handle(ev(3), {"event_count_3": 5, "user_fullname": "Li"})
    assert len(out["actions"]) == 330
    assert out["actions"][0]["text"] == "Hi Li #3"


@pytest.mark.parametrize("kind", ["comment", "string", "names", "junk"])
def test_three_megabyte_single_line(kind):
    big = 3_000_000
    source = {
        "comment": "# " + "x" * big,
        "string": 'on event 1 -> reply a "' + "y" * big + '"',
        "names": "on event 1 -> reply " + "a" * big,
        "junk": "on event 1 -> " + "@" * big,
    }[kind]
    result = compiled(source)
    if kind == "string":
        assert module(result.code).handle(ev(1))["actions"][0]["text"] == "y" * big
    for d in result.diagnostics:
        assert len(d.message) < 1000, "a diagnostic must not echo megabytes"


def test_three_megabyte_line_through_check(cli, tmp_path):
    path = tmp_path / "big.ppflow"
    path.write_text("on event 1 -> reply a " + "(" * 3_000_000 + "\n", encoding="utf-8")
    proc = cli("check", path)
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert ":1:" in proc.stdout and "E005" in proc.stdout


BINARY = {
    "random bytes": bytes(random.Random(7).randrange(256) for _ in range(4096)),
    "png header": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00",
    "nul bytes": b"\x00" * 64,
    "nul in a rule": b'on event 1 -> reply a\x00 "x"\n',
    "utf-16 with bom": "on event 1 -> reply a\n".encode("utf-16"),
    "utf-16 be with bom": b"\xfe\xff" + "on event 1 -> reply a\n".encode("utf-16-be"),
    "latin-1": 'on event 1 -> reply a "caf\xe9"\n'.encode("latin-1"),
    "lone continuation byte": b'on event 1 -> reply a "\x80"\n',
    "overlong encoding": b'on event 1 -> reply a "\xc0\xaf"\n',
    "encoded surrogate": b'on event 1 -> reply a "\xed\xa0\x80"\n',
    "truncated utf-8": b'on event 1 -> reply a "\xe4\xb8',
    "escape sequences": b"\x1b[2J\x1b]0;title\x07on event 1 -> reply a\n",
}


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_junk_in_process(name, tmp_path):
    path = tmp_path / "junk.ppflow"
    path.write_bytes(BINARY[name])
    with pytest.raises(ppdsl.CompileError) as info:
        ppdsl.load(path, cache=False)
    assert info.value.diagnostics and all(d.line >= 1 and d.col >= 1 for d in info.value.diagnostics)


@pytest.mark.parametrize("name", ["random bytes", "png header", "utf-16 with bom", "escape sequences"])
@pytest.mark.parametrize("command", ["check", "run", "compile"])
def test_binary_junk_through_the_cli(cli, tmp_path, name, command):
    path = tmp_path / "junk.ppflow"
    path.write_bytes(BINARY[name])
    args = {"check": (), "run": ("--event", "1"), "compile": ("-o", tmp_path / "out.py")}[command]
    proc = cli(command, path, *args)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert_no_traceback(proc)
    assert "junk.ppflow:" in proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr
    assert not (tmp_path / "out.py").exists()


@pytest.mark.parametrize(
    "source",
    [
        "",
        "\n",
        "   \n\t\n",
        "# only a comment",
        "# one\n# two\n\n# three\n",
        "\ufeff",
        "\ufeff# bom and comment\n",
        "\r\n\r\n",
        "#\r",
        "# x\r# y\r",
    ],
    ids=repr,
)
def test_empty_and_comment_only_files(source):
    result = compiled(source)
    if result.code is not None:
        assert module(result.code).handle(ev(1))["actions"] == []


def test_empty_file_through_the_cli(cli, tmp_path):
    path = tmp_path / "empty.ppflow"
    path.write_bytes(b"")
    for args in (("check",), ("run", "--event", "1", "--json"), ("compile",)):
        proc = cli(args[0], path, *args[1:])
        assert_no_traceback(proc)
        assert proc.returncode in (0, 1)


def test_line_endings_and_missing_final_newline():
    lf = (EXAMPLES / "lead_routing.ppflow").read_text(encoding="utf-8")
    visitor = {"user_fullname": "Li", "event_count_2": 9, "event_count_3": 9}
    expected = module(compiled(lf).code).handle({"event_name": "click", "event_timestamp": T0}, visitor)
    assert expected["actions"]
    variants = [
        lf.replace("\n", "\r\n"),
        lf.rstrip("\n"),
        lf.replace("\n", "\r\n").rstrip("\r\n"),
        lf + "# trailing comment without newline",
        lf.replace("\n", "\r\n") + "# c\r",
    ]
    for source in variants:
        result = compiled(source)
        assert result.code is not None, errors(result)
        assert "\r" not in result.code
        got = module(result.code).handle({"event_name": "click", "event_timestamp": T0}, visitor)
        assert got == expected


def test_lone_cr_does_not_end_a_comment():
    """A ppflow comment runs to the end of the line, and a CR alone is not one."""
    result = compiled("# note\ron event 1 -> reply a\n")
    if result.code is not None:
        assert "\r" not in result.code
        compile(result.code, "x", "exec")


@pytest.mark.parametrize(
    "source",
    [
        "on event 1 -> if count(1) > " + "1" * 500 + " reply a\n",
        "on event 1 -> if count(1) > " + "1" * 5000 + " reply a\n",
        "on event 1 -> if count(1) > -" + "1" * 5000 + " reply a\n",
        "event " + "1" * 500 + " x\n",
        "event " + "1" * 5000 + " x\n",
        "on event " + "1" * 500 + " -> end\n",
        "on event " + "1" * 5000 + " -> end\n",
        "flow f priority -" + "1" * 5000 + " { on event 1 -> end }\n",
        "on event 1 -> switch data.x { case " + "1" * 5000 + " -> end }\n",
        "on event 1 -> if now - last_time(1) < " + "9" * 5000 + "s reply a\n",
        "on event 1 -> if count(" + "1" * 5000 + ") > 1 reply a\n",
        "on event 1 -> if event_count_" + "1" * 5000 + " > 1 reply a\n",
    ],
    ids=lambda s: s[:40],
)
def test_huge_integers_are_diagnosed(source):
    result = compiled(source)
    assert errors(result)


def test_long_priority_never_crashes():
    for digits in (19, 500, 4299):
        compiled("flow f priority " + "1" * digits + " { on event 1 -> end }\n")


@pytest.mark.parametrize(
    "literal", ["9" * 400 + ".0", "1" + "0" * 309 + ".5", "0." + "0" * 400 + "1", "3." + "1" * 5000]
)
def test_huge_floats(literal):
    """A float literal that doesn't fit a double is an error, not `inf` in the code."""
    for source in (
        f'on event 1 -> if data.x < {literal} reply a "{{{{ {literal} }}}}"\n',
        f"on event 1 -> switch data.x {{ case {literal} -> reply a }}\n",
        f"field f float\non event 1 -> set f = -{literal}\n",
    ):
        result = compiled(source)
        if result.code is None:
            continue
        names = {t.string for t in tokens(result.code) if t.type == tokenize.NAME}
        assert not names & {"inf", "nan"}, "repr() of a float literal leaked a bare inf/nan into the code"
        out = assert_handles(module(result.code), ev(1, {"x": 1.5}))
        assert out is not None
        for a in out["actions"]:
            assert a.get("text") not in ("inf", "nan")


@pytest.mark.parametrize(
    "duration", ["999999999999999999w", "99999999999999d", "9999999999999999s", "100000000000000000m"]
)
def test_huge_durations(duration):
    """A duration beyond what datetime.timedelta holds is an error, not a module that can't load."""
    source = f'on event 1 -> if now - last_time(1) < {duration} reply a "{{{{ {duration} }}}}"\n'
    result = compiled(source)
    if result.code is not None:
        assert_handles(module(result.code), ev(1))


# ======================================================= 3. hostile events and visitors

RULES = """\
event 1 click uuid "u-click"
event 2 view uuid "u-view"
agent a
field score int
field when datetime
on any event -> {
  reply a "{{ data }}|{{ data.x }}|{{ user_fullname }}|{{ len(data) }}|{{ last_data(1) }}"
  if data.x * data.x * data.x * data.x > 0 ticket "{{ data.x * data.x * data.x * data.x }}"
  if ent_user_createtime < now and first_time(1) <= now and is_anonymous_user reply a "old"
  if user_web_sessions > 3 or score > 2 or when < now reply a "busy"
  set score = data.x
  set when = data.t
  set extra_field_copy = data
}
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "rules.ppflow"
    path.write_text(RULES, encoding="utf-8")
    return ppdsl.load(path, cache=False)


def nested(depth: int, leaf=1):
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"x": value}
    return value


@pytest.mark.parametrize(
    "payload",
    [
        None,
        42,
        4.5,
        True,
        "not json",
        "",
        "[]",
        "[1, 2]",
        "null",
        b"\xff\xfe",
        b"{}",
        bytearray(b"{"),
        [1],
        [],
        {},
        {"track_event": None},
        {"track_event": 5},
        {"track_event": [1]},
        {"track_event": "click"},
        {"track_event": {}},
        {"event_seq": True},
        {"event_seq": 1.0},
        {"event_seq": "1"},
        {"event_seq": 2**80},
        {"event_seq": -1},
        {"event_seq": 0},
        {"event_seq": [1]},
        {"event_name": 5},
        {"event_name": ["click"]},
        {"event_name": {"x": 1}},
        {"event_name": "\ud800"},
        {"event_name": "click\x00"},
        {"event_uuid": ""},
        {"event_uuid": {"u": 1}},
        {"event_uuid": "u-view", "event_name": "click"},
        {"event_seq": 1, "event_timestamp": True},
        {"event_seq": 1, "event_timestamp": "1000"},
        {"event_seq": 1, "event_timestamp": [1]},
        {"event_seq": 1, "event_timestamp": float("nan")},
        {"event_seq": 1, "event_timestamp": float("inf")},
        {"event_seq": 1, "event_timestamp": -float("inf")},
        {"event_seq": 1, "event_timestamp": 10**400},
        {"event_seq": 1, "event_timestamp": 1e300},
        {"event_seq": 1, "event_timestamp": -1},
        {"event_seq": 1, "event_timestamp": 2**63},
        {"event_seq": 1, "event_timestamp": T0, "event_data": float("nan")},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"x": float("inf")}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {1: 2}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {(1, 2): 2}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {1, 2}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": object()},
        {"event_seq": 1, "event_timestamp": T0, "event_data": b"bytes"},
        {"event_seq": 1, "event_timestamp": T0, "event_data": "\ud800"},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"\udfff": "\ud800" * 20000}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"x": 10**1100}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"x": 10**5000}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"x": "9" * 70000}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"x": 1e308, "t": "0001-01-01T00:00:00+01:00"}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"t": "9999-12-31T23:59:59-23:59"}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"t": 1e20}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": nested(400)},
        {"event_seq": 1, "event_timestamp": T0, "event_data": nested(900)},
        {"event_seq": 1, "event_timestamp": T0, "event_data": nested(5000)},
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": ' + "[" * 600 + "]" * 600 + "}",
        '{"event_seq": 1, "event_timestamp": NaN}',
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": [NaN, Infinity, -Infinity]}',
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": "\\ud800"}',
        '{"event_seq": 1, "event_timestamp": 1e400}',
    ],
    ids=short_id,
)
def test_hostile_payloads_are_processed_or_rejected(rules, payload):
    assert_handles(rules, payload)


@pytest.mark.parametrize(
    "visitor",
    [
        [],
        "visitor",
        5,
        ["event_count_1"],
        {"event_count_1": "3"},
        {"event_count_1": 1.5},
        {"event_count_1": True},
        {"event_count_1": -1},
        {"event_count_1": None},
        {"event_count_1": [1]},
        {"event_count_1": {"n": 1}},
        {"event_count_1": 10**30},
        {"event_count_1": 10**1100},
        {"event_count_1": float("nan")},
        {"event_first_time_1": "garbage"},
        {"event_first_time_1": [1]},
        {"event_first_time_1": True},
        {"event_first_time_1": 1e20},
        {"event_first_time_1": -1e20},
        {"event_first_time_1": float("nan")},
        {"event_first_time_1": "nan"},
        {"event_first_time_1": "inf"},
        {"event_first_time_1": ""},
        {"event_first_time_1": "0001-01-01T00:00:00+01:00"},
        {"event_last_time_1": "9999-12-31T23:59:59-01:00"},
        {"event_last_time_1": "2026-13-45T99:00:00Z"},
        {"event_last_time_1": "\ud800"},
        {"event_last_time_1": 10**400},
        {"event_last_time_1": {"$date": 1}},
        {"event_last_data_1": {"not": "text"}},
        {"event_last_data_1": 5},
        {"user_fullname": ["x"]},
        {"user_fullname": {"a": nested(300)}},
        {"user_fullname": 10**1200},
        {"user_fullname": "\ud800"},
        {"user_fullname": None},
        {"user_fullname": float("nan")},
        {"ent_user_createtime": "0001-01-01T00:00:00+01:00"},
        {"ent_user_createtime": "9999-12-31T23:59:59-01:00"},
        {"ent_user_createtime": 1e20},
        {"ent_user_createtime": "x"},
        {"ent_user_createtime": [1]},
        {"is_anonymous_user": "yes"},
        {"user_web_sessions": "5"},
        {"user_web_sessions": 10**1200},
        {"score": "high"},
        {"score": 10**1200},
        {"when": "0001-01-01T00:00:00+05:00"},
        {"when": 1e20},
        {"event_count_2": "x", "event_count_9": "y", "event_count_": 1, "event_count_01": "z"},
        {"": 1, "\x00": 2, "\ud800": 3},
        # not JSON at all: the in-process API gets whatever the host passes
        {"user_fullname": {1, 2}},
        {"user_fullname": object()},
        {"user_fullname": b"bytes"},
        {"user_fullname": ("t", "u")},
        {"score": 1 + 2j},
        {"when": object()},
    ],
    ids=short_id,
)
def test_hostile_visitors_are_processed_or_rejected(rules, visitor):
    before = repr(visitor)
    assert_handles(rules, ev(1, {"x": 2, "t": "2026-01-01T00:00:00Z"}), visitor)
    assert repr(visitor) == before, "handle must not modify the caller's visitor"


def test_big_integer_arithmetic_never_raises(rules):
    """LANGUAGE.md section 5: evaluation never raises. A 1,100-digit number is a
    valid event; its fourth power has more digits than int -> str allows."""
    result = rules.handle(ev(1, {"x": 10**1100}))
    assert result["actions"]
    json.dumps(result)


@pytest.mark.parametrize(
    "at",
    [
        True,
        None,
        float("nan"),
        float("inf"),
        -1,
        10**400,
        "",
        "x",
        "\ud800",
        [1],
        datetime.max,
        datetime.min,
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1))),
    ],
    ids=short_id,
)
def test_hostile_at_in_process(rules, at):
    try:
        result = rules.handle({"event_seq": 1}, None, None, at=at)
    except ValueError as exc:
        assert str(exc)
    else:
        assert result["event"]["time"].endswith("Z")


def test_visitor_event_count_of_the_wrong_type_is_named(rules):
    for bad in ("3", 1.5, True, -1, [1]):
        with pytest.raises(ValueError, match="event_count_1"):
            rules.handle(ev(1), {"event_count_1": bad})


def test_effects_that_misbehave(rules):
    def boom(action):
        raise RecursionError("deep")

    class Weird:
        def __bool__(self):
            raise RuntimeError("no truth")

        def __eq__(self, other):
            raise RuntimeError("no equality")

    for effects in (boom, lambda a: Weird(), lambda a: a.clear(), lambda a: 0, lambda a: None):
        try:
            result = rules.handle(ev(1, {"x": 1}), None, effects)
        except ValueError:
            continue
        json.dumps(result)


# ----------------------------------------------------------------- through `ppdsl run`

CLI_RULES = 'on event 1 -> reply a "{{ data }}"\non event 2 -> set extra_field_x = data\n'


@pytest.fixture
def cli_files(tmp_path):
    rules_path = tmp_path / "rules.ppflow"
    rules_path.write_text(CLI_RULES, encoding="utf-8")
    visitor = tmp_path / "visitor.json"
    visitor.write_bytes(b'{ "user_fullname" : "Li",\n\n  "event_count_1": 3 }  \n')
    return rules_path, visitor


def _untouched(visitor: Path, before: bytes) -> None:
    assert visitor.read_bytes() == before
    leftovers = [p.name for p in visitor.parent.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers, leftovers


@pytest.mark.parametrize(
    "event",
    [
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": ' + "[" * 60_000 + "]" * 60_000 + "}",
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": ' + "[" * 700 + "]" * 700 + "}",
        '{"event_seq": 2, "event_timestamp": 1000, "event_data": ' + "[" * 700 + "]" * 700 + "}",
        '{"event_seq": 1, "event_timestamp": NaN}',
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": {"x": Infinity}}',
        '{"event_seq": 1, "event_timestamp": 1' + "0" * 400 + "}",
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": "\\ud800"}',
        '{"event_seq": 2, "event_timestamp": 1000, "event_data": {"\\udfff": "\\ud800"}}',
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": ' + "9" * 5000 + "}",
        '{"event_seq": true}',
        '{"event_seq": 1.0}',
        '{"event_seq": "1"}',
        '{"track_event": [1]}',
        '{"track_event": {"event_name": {"x": 1}}}',
        '{"event_seq": 1, "event_timestamp": "soon"}',
        "[1, 2]",
        "{",
        "{}",
        '{"event_seq": 1}garbage',
        "0",
        "-1",
        "99999999999999999999999",
        "not-a-name!",
        "@/nonexistent/event.json",
        "@",
        " ",
    ],
    ids=lambda e: repr(e)[:40],
)
def test_run_hostile_event_with_save(cli, cli_files, event):
    rules_path, visitor = cli_files
    before = visitor.read_bytes()
    proc = cli("run", rules_path, "--event", event, "--visitor", visitor, "--save", "--json")
    assert_no_traceback(proc)
    if proc.returncode == 0:
        json.loads(proc.stdout)
        json.loads(visitor.read_text(encoding="utf-8"))
        leftovers = [p.name for p in visitor.parent.iterdir() if p.name.endswith(".tmp")]
        assert not leftovers
        return
    assert proc.returncode in (1, 2), proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip(), "a rejection needs a message"
    if proc.returncode == 1:
        assert proc.stderr.startswith("error: ") or ": error[" in proc.stderr, proc.stderr
    _untouched(visitor, before)


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00", "{}".encode("utf-16"), b"", b"[]"])
def test_run_event_file_that_is_not_an_object(cli, cli_files, tmp_path, content):
    rules_path, visitor = cli_files
    event = tmp_path / "event.json"
    event.write_bytes(content)
    before = visitor.read_bytes()
    proc = cli("run", rules_path, "--event", f"@{event}", "--visitor", visitor, "--save")
    assert_no_traceback(proc)
    assert proc.returncode == 2
    assert "event.json" in proc.stderr
    _untouched(visitor, before)


def test_run_visitor_file_with_lone_surrogates_saves_cleanly(cli, cli_files):
    rules_path, visitor = cli_files
    visitor.write_text('{"user_fullname": "Li\\ud800", "\\udfff": 1}', encoding="utf-8")
    proc = cli("run", rules_path, "--event", "1", "--visitor", visitor, "--save", "--json")
    assert_no_traceback(proc)
    assert proc.returncode in (0, 1, 2)
    if proc.returncode == 0:
        saved = json.loads(visitor.read_text(encoding="utf-8"))
        assert saved["user_fullname"] == "Li\ud800" and saved["\udfff"] == 1
    assert not [p.name for p in visitor.parent.iterdir() if p.name.endswith(".tmp")]


def test_run_summary_does_not_pass_terminal_escapes_through(cli, tmp_path):
    """Event data comes from a visitor's browser: the readable summary must not
    let it drive the terminal (as file names already can't)."""
    rules_path = tmp_path / "echo.ppflow"
    rules_path.write_text('on event 1 -> reply a "{{ data.x }}"\n', encoding="utf-8")
    event = json.dumps({"event_seq": 1, "event_data": {"x": "\x1b]0;PWN\x07\x1b[2J\r\x08"}})
    proc = cli("run", rules_path, "--event", event)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout


def test_run_deep_event_file(cli, cli_files, tmp_path):
    rules_path, visitor = cli_files
    event = tmp_path / "deep.json"
    event.write_text('{"event_seq": 1, "event_data": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    before = visitor.read_bytes()
    proc = cli("run", rules_path, "--event", f"@{event}", "--visitor", visitor, "--save")
    assert_no_traceback(proc)
    assert proc.returncode == 2
    assert "deep.json" in proc.stderr
    _untouched(visitor, before)


@pytest.mark.parametrize(
    "content",
    [
        bytes(random.Random(11).randrange(256) for _ in range(2048)),
        b"\x89PNG\r\n\x1a\n\x00\x00",
        b"[1, 2, 3]",
        b'["event_count_1"]',
        b"null",
        b"42",
        b'"text"',
        b'{"event_count_1": 3',
        b"\xff\xfe{\x00}\x00",
        b"{" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"event_count_1": NaN}',
    ],
)
def test_run_visitor_file_that_is_not_an_object(cli, cli_files, content):
    rules_path, visitor = cli_files
    visitor.write_bytes(content)
    proc = cli("run", rules_path, "--event", "1", "--visitor", visitor, "--save")
    assert_no_traceback(proc)
    if content == b'{"event_count_1": NaN}':
        assert proc.returncode in (1, 2)
    else:
        assert proc.returncode == 2, (proc.returncode, proc.stderr)
        assert "--visitor" in proc.stderr or "visitor" in proc.stderr
    _untouched(visitor, content)


@pytest.mark.parametrize(
    "state",
    [
        '{"event_count_1": "3"}',
        '{"event_count_1": 1.5}',
        '{"event_count_1": true}',
        '{"event_count_1": -4}',
        '{"event_first_time_1": "yesterday"}',
        '{"event_first_time_1": [2026]}',
        '{"event_first_time_1": "0001-01-01T00:00:00+01:00"}',
        '{"event_last_time_1": "9999-12-31T23:59:59-01:00"}',
        '{"event_last_time_1": 1e400}',
        '{"event_count_1": ' + "9" * 5000 + "}",
    ],
)
def test_run_visitor_with_wrong_types_leaves_it_unchanged(cli, cli_files, state):
    rules_path, visitor = cli_files
    visitor.write_text(state, encoding="utf-8")
    before = visitor.read_bytes()
    proc = cli(
        "run", rules_path, "--event", '{"event_seq": 1, "event_timestamp": 1795593600}', "--visitor", visitor, "--save"
    )
    assert_no_traceback(proc)
    assert proc.returncode in (1, 2), proc.stdout
    assert proc.stderr.strip() and proc.stdout == ""
    _untouched(visitor, before)


@pytest.mark.parametrize(
    "at",
    [
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "1" + "0" * 400,
        "nan",
        "-5",
        "1e400",
        "",
        "2026-02-30T00:00:00Z",
    ],
)
def test_run_hostile_at(cli, cli_files, at):
    rules_path, visitor = cli_files
    before = visitor.read_bytes()
    proc = cli("run", rules_path, "--event", "1", "--at", at, "--visitor", visitor, "--save")
    assert_no_traceback(proc)
    assert proc.returncode in (0, 1, 2)
    if proc.returncode:
        _untouched(visitor, before)


def test_run_with_a_damaged_cache_entry(cli, tmp_path, monkeypatch):
    """A cache entry that is truncated or garbage must be recompiled, not crash `run`."""
    cache = tmp_path / "cache"
    rules_path = tmp_path / "rules.ppflow"
    rules_path.write_text('on event 1 -> reply a "ok"\n', encoding="utf-8")
    monkeypatch.setenv("PPDSL_CACHE_DIR", str(cache))
    assert cli("run", rules_path, "--event", "1", "--json").returncode == 0
    entries = [p for p in cache.rglob("*") if p.is_file()]
    assert entries
    for entry in entries:
        entry.write_bytes(b"\x00garbage(" + entry.read_bytes()[:20])
    proc = cli("run", rules_path, "--event", "1", "--json")
    assert_no_traceback(proc)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["actions"][0]["text"] == "ok"


# ======================================================= 4. fuzz

FUZZ_WORDS = [
    "event",
    "agent",
    "group",
    "field",
    "segment",
    "flow",
    "on",
    "any",
    "if",
    "elif",
    "else",
    "switch",
    "case",
    "default",
    "reply",
    "assign",
    "set",
    "let",
    "convert",
    "ticket",
    "end",
    "failure",
    "and",
    "or",
    "not",
    "in",
    "true",
    "null",
    "count",
    "data",
    "now",
    "priority",
    "inactive",
    "uuid",
]
FUZZ_PUNCT = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    "->",
    "=",
    "==",
    "!=",
    "<",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    ".",
    "!",
    "&&",
    "||",
    "#",
    '"',
    "'",
    "\\",
    "{{",
    "}}",
    '"{{ x }}"',
    "*",
    "1",
    "0",
    "99999999999",
    "1.5",
    "10m",
    '"\\u0000"',
    '"\\q"',
    "\u201c",
    "\x00",
    "\r",
    "\n",
    "é",
    "\ufeff",
]
TOKEN_RE = re.compile(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|#[^\n]*|[A-Za-z_0-9]+|->|[=!<>]=|&&|\|\||\s+|.")


def mutate(source: str, rng: random.Random) -> str:
    toks = TOKEN_RE.findall(source)
    for _ in range(rng.randint(1, 4)):
        if not toks:
            break
        i = rng.randrange(len(toks))
        op = rng.randrange(7)
        if op == 0:
            del toks[i]
        elif op == 1:
            toks.insert(i, toks[i])
        elif op == 2 and i + 1 < len(toks):
            toks[i], toks[i + 1] = toks[i + 1], toks[i]
        elif op == 3:
            toks.insert(i, " " + rng.choice(FUZZ_WORDS) + " ")
        elif op == 4:
            toks.insert(i, rng.choice(FUZZ_PUNCT))
        elif op == 5:
            toks = toks[:i]
        else:
            j = rng.randrange(len(toks))
            toks[i] = toks[j]
    return "".join(toks)


def test_fuzz_mutated_examples():
    sources = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.ppflow"))]
    assert sources
    rng = random.Random(20261125)
    compiled_ok = 0
    for n in range(300):
        original = sources[n % len(sources)]
        source = mutate(original, rng)
        try:
            result = compile_source(source, "fuzz.ppflow")
        except Exception as exc:  # pragma: no cover - the failure report
            raise AssertionError(f"compile_source raised {type(exc).__name__}: {exc}\n--- source:\n{source}") from exc
        for d in result.diagnostics:
            assert d.line >= 1 and d.col >= 1, (d, source)
        if result.code is None:
            assert any(d.is_error for d in result.diagnostics), source
            continue
        compiled_ok += 1
        try:
            rules = module(result.code)
        except Exception as exc:
            raise AssertionError(f"generated code failed: {type(exc).__name__}: {exc}\n--- source:\n{source}")
        assert_contained(result.code, marker="\x00PWN")
        for seq in (1, 2, 3):
            try:
                rules.handle(
                    {"event_seq": seq, "event_timestamp": T0, "event_data": {"plan": "pro"}},
                    {"user_fullname": "Li", "event_count_2": 9, "event_count_3": 9},
                )
            except ValueError:
                pass
    assert compiled_ok > 10, "the mutations should leave some programs valid"


def test_chained_comparisons_compile_to_linear_code():
    """Each operand of `a == b == c` appears once in the generated code, so nesting
    chains can't double the module's size at every level."""
    expr = "true"
    for _ in range(18):
        expr = f"true == ({expr}) == true"
    result = compiled(f"on event 1 -> if {expr} reply a\n")
    assert result.code is not None and len(result.code) < 200_000


def test_negating_the_longest_duration_is_null_not_an_error():
    rules = module(compiled("on event 1 -> if -(999999999d + 1s) < 1s reply a\n").code)
    assert rules.handle({"event_seq": 1, "event_timestamp": T0})["actions"] == []
