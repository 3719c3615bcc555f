"""ppdsl.authoring.unparse: IR back to ppflow text. Printing and reading back
gives the same IR; parentheses appear only where precedence needs them."""

from __future__ import annotations

import re

import pytest

from conftest import EXAMPLES
from ppdsl.authoring import unparse
from ppdsl.lang import ir
from ppdsl.lang.lower import parse
from ppdsl.lang.span import Source


def expression(text: str) -> ir.Expr:
    program, diags = parse(Source("t.ppflow", f"segment s = {text}\n"))
    assert diags == []
    return program.segments[0].expr


def reply_text(literal: str) -> ir.Template:
    program, diags = parse(Source("t.ppflow", f"on event 1 -> reply a {literal}\n"))
    assert diags == [], [d.message for d in diags]
    action = program.flows[0].rules[0].body.action  # type: ignore[attr-defined]
    return action.text


def shape(node: object) -> str:
    """The IR without positions."""
    return re.sub(r" \d+:\d+", "", ir.dump(node))


@pytest.mark.parametrize(
    "source, printed",
    [
        ("count(view_pricing) > 8 and count(signup) > 8", None),
        ("a || b && !c", "a or b and not c"),
        ("(a or b) and c", None),
        ("a and (b and c)", None),
        ("not (a == b)", "not a == b"),
        ("(not a) == b", None),
        ("-(a + b) * c", None),
        ("a - (b - c) - d", None),
        ("(a - b) - c", "a - b - c"),
        ("1 + 2 * 3", None),
        ("(1 + 2) * 3 % 4", None),
        ("a < b <= c", None),
        ("(a < b) == c", None),
        ("x not in [1, 2.5, -3]", None),
        ("-x.y", None),
        ("(-1).x", None),
        ("3 - -5", None),
        ("- -x", "--x"),
        ('data["page url"].items[0]', None),
        ("(a + b).c", None),
        ("now - last_time(2) < 10m and x > 1w and y < 90s and z == 2h", None),
        ("x == 3600s", "x == 1h"),
        ("x == 0s and y == -2d", None),
        ("x == 0.00001 and y == 100000000000000000000.0", None),
        ("x == TRUE or y == None", "x == true or y == null"),
        ("matches(url, '/pricing([?#]|$)')", 'matches(url, "/pricing([?#]|$)")'),
        ('s == "a\\"b\\\\c\\nd\\te"', None),
        ("s == '中文 \\u00e9 \\ud83d\\ude00'", 's == "中文 é 😀"'),
        ('s == "\\u0007\\u2028"', None),
        ("[]", None),
        ("f()", None),
    ],
)
def test_expressions_print_with_minimal_parentheses_and_read_back(source: str, printed: str | None):
    e = expression(source)
    text = unparse.expr(e)
    assert text == (printed or source)
    assert shape(expression(text)) == shape(e)


def test_strings_can_use_single_quotes():
    assert unparse.expr(expression('a or "it\'s"'), "'") == "a or 'it\\'s'"
    assert shape(expression(unparse.expr(expression('a or "it\'s"'), "'"))) == shape(expression('a or "it\'s"'))


@pytest.mark.parametrize(
    "literal, text",
    [
        ('"Hi {{ user_fullname or \\"there\\" }}!"', "Hi {{ user_fullname or 'there' }}!"),
        ('"{{ \\"{{\\" }} is a literal brace pair"', "{{ '{{' }} is a literal brace pair"),
        ("\"a {{ '{' }}{{ x }} b\"", "a {{ '{' }}{{ x }} b"),
        ('"line\\nbreak \\"q\\" \\\\ {{ data[\\"k\\"] }}"', "line\nbreak \"q\" \\ {{ data['k'] }}"),
        ('"lone }} and { brace"', "lone }} and { brace"),
        ('"您好 {{ user_fullname }}！"', "您好 {{ user_fullname }}！"),
    ],
)
def test_templates_print_and_read_back(literal: str, text: str):
    t = reply_text(literal)
    assert unparse.template_text(t) == text
    again = reply_text(unparse.template(t))
    assert [shape(p) if not isinstance(p, str) else p for p in again.parts] == [
        shape(p) if not isinstance(p, str) else p for p in t.parts
    ]


def test_braces_in_text_stay_text():
    span = reply_text('"x"').span
    t = ir.Template(span, ["a {{b {", ir.Lit(span, "int", 1), " {"])
    again = reply_text(unparse.template(t))
    shown = [p if isinstance(p, str) else p.value if p.kind == "str" else f"<{p.value}>" for p in again.parts]
    assert "".join(shown) == "a {{b {<1> {"


def test_every_expression_of_the_examples_reads_back():
    for path in sorted(EXAMPLES.glob("*.ppflow")):
        program, _ = parse(Source(path.name, path.read_text(encoding="utf-8")))
        exprs = [n for n in ir.walk(program) if isinstance(n, ir.Expr)]
        assert exprs
        for e in exprs:
            assert shape(expression(unparse.expr(e))) == shape(e), unparse.expr(e)
