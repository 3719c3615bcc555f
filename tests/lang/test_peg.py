"""peg.py runs the grammar's parsing expressions as generated Python. For
every top-level item of every case file, example and big file, its tree must
be Arpeggio's, node for node (expression, rule name, offset, text), and it
must fail where Arpeggio fails."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from arpeggio import NoMatch

from ppdsl.lang.diagnostics import SyntaxProblem
from ppdsl.lang.peg import compile_rule
from ppdsl.lang.source import prescan
from ppdsl.lang.span import Source
from ppdsl.lang.syntax import _NOT_SPACE, metamodel, with_depth

from test_big_files import CASES, ROOT, big_file


def _shape(node: Any) -> tuple:
    children = tuple(_shape(c) for c in node) if isinstance(node, list) else node.value
    return (id(node.rule), node.rule_name, node.position, children)


def _items_compared(text: str) -> int:
    """Parse `text` item by item with both, asserting they agree; the number of items."""
    mm = metamodel()
    rule = mm["TopItem"]._tx_peg_rule
    fast = compile_rule(rule, mm._parser_blueprint.ws)
    parser = mm._parser_blueprint.clone()
    parser.input, parser.file_name, parser.line_ends = text, None, []
    pos = count = 0
    while (found := _NOT_SPACE.search(text, pos)) is not None:
        out: list[Any] = []
        end = with_depth(partial(fast, text, found.start(), out))
        parser.position, parser.nm, parser.comment_positions = found.start(), None, {}
        try:
            expected = with_depth(lambda: rule.parse(parser))
        except NoMatch:
            assert end == -1 and out == []
            return count
        assert (end, _shape(out[0])) == (parser.position, _shape(expected))
        pos, count = end, count + 1
    return count


@pytest.mark.parametrize("case", CASES)
def test_each_case_parses_as_with_arpeggio(case: str):
    try:
        text = prescan(Source(case, (ROOT / case).read_text(encoding="utf-8"))).text
    except (UnicodeDecodeError, SyntaxProblem):
        pytest.skip("not UTF-8, or refused before parsing")
    _items_compared(text)


def test_a_big_file_parses_as_with_arpeggio():
    assert _items_compared(prescan(Source("big.ppflow", big_file(300))).text) > 300


@pytest.mark.parametrize(
    "text",
    [
        "on event 1 -> let x = [1, 2,]",  # the separator Arpeggio keeps although the item after it fails
        "on event 1 -> if not a in b and -c[0].d(1, 'x') >= 2 end",
        "flow f priority -3 inactive { on any event -> assign group g on failure -> end }",
        "event 1 a alias 'b' alias 'c' uuid 'u' 'd'\nsegment s = a or b\nflow f { on event 1 -> }",
        "on event 1 -> switch x { case -1, 'a', true -> end default -> { } }",
    ],
)
def test_tricky_items_parse_as_with_arpeggio(text: str):
    _items_compared(text)


def test_only_the_expressions_it_knows():
    from arpeggio import Not, StrMatch

    with pytest.raises(TypeError, match="no support for Not"):
        compile_rule(Not(StrMatch("x"), rule_name="X", root=True), " ")
