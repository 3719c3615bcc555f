"""Hostile source. Bad source of any kind must end in diagnostics or valid,
warning-free Python, never in a traceback: deep nesting, huge files and lines,
binary junk, empty files, line endings, huge numbers and durations, and
operators that must not silently drop an operand."""

from __future__ import annotations

import tokenize
import warnings

import pytest

import ppdsl
from conftest import EXAMPLES
from hostile import BINARY, T0, assert_handles, build, compiled, errors, ev, lit, module, paren_bomb, tokens


# ----------------------------------------------------------------- generated code


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


# ----------------------------------------------------------------- deep nesting


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


@pytest.mark.parametrize("levels,terms", [(30, 60), (45, 40), (54, 40), (60, 20), (60, 40), (63, 60)])
def test_deepest_accepted_expression_still_compiles(levels, terms):
    """Whatever the checker accepts must stay within CPython's 200 nested brackets."""
    expr = paren_bomb(levels, terms)
    compiled(f"on event 1 -> if {expr} reply a\n")
    compiled(f"on event 1 -> reply a {lit('{{ ' + expr + ' }}')}\n")


# ----------------------------------------------------------------- size, junk, empty files, line endings


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


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_junk_in_process(name, tmp_path):
    path = tmp_path / "junk.ppflow"
    path.write_bytes(BINARY[name])
    with pytest.raises(ppdsl.CompileError) as info:
        ppdsl.load(path, cache=False)
    assert info.value.diagnostics and all(d.line >= 1 and d.col >= 1 for d in info.value.diagnostics)


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


# ----------------------------------------------------------------- huge numbers, durations, long chains


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
