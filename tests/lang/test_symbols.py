"""What editors read from the language layer: LSP positions back to offsets,
the machine-readable replacement that fixes a diagnostic, and the index of
where each name is declared and used (ppdsl.lang.symbols)."""

from __future__ import annotations

import pytest

from ppdsl.build.pipeline import compile_source
from ppdsl.lang.diagnostics import to_lsp
from ppdsl.lang.span import LineIndex
from ppdsl.lang.symbols import Symbols


def test_from_utf16_is_the_inverse_of_utf16():
    text = "ab\n点🎉x\n\nlast"
    index = LineIndex(text)
    for offset in range(len(text) + 1):
        assert index.from_utf16(*index.utf16(offset)) == offset
    assert index.utf16(text.index("x")) == (1, 3)  # the emoji is two UTF-16 units


def test_from_utf16_clamps_positions_past_a_line_or_the_file():
    index = LineIndex("ab\ncd")
    assert index.from_utf16(0, 99) == 2  # the end of line 0, not into line 1
    assert index.from_utf16(7, 0) == 5
    assert index.from_utf16(-1, 0) == 0


@pytest.mark.parametrize(
    "text, code, replacement",
    [
        ("agent alice\non event 1 -> reply alic\n", "E104", "alice"),
        ("group sales\non event 1 -> assign group sale\n", "E105", "sales"),
        ("event 1 click\non event clik -> end\n", "E103", "click"),
        ("field tier int\non event 1 -> if tierr > 1 end\n", "E101", "tier"),
        ("field tier int\non event 1 -> set tiers = 2\n", "E101", "tier"),
        ("field tier strin\n", "E114", "string"),
        ("on event 1 -> if lenn(page_url) > 1 end\n", "E102", "len"),
        ("on event 1 -> repyl alice\n", "E001", "reply"),
        ("on event 1 -> reply alice ‘hi’\n", "E002", "'"),
        ("on event 1 -> reply alice “hi”\n", "E002", '"'),
        ("on event 1 -> if count（1) > 1 end\n", "E001", "("),
    ],
)
def test_a_fixable_diagnostic_carries_its_replacement(text: str, code: str, replacement: str):
    (diag,) = [d for d in compile_source(text, "t.ppflow", emit=False).diagnostics if d.is_error]
    assert (diag.code, diag.replacement) == (code, replacement)
    assert to_lsp(diag, "file:///t.ppflow")["data"] == {"replacement": replacement}


def test_a_diagnostic_without_a_fix_has_no_replacement():
    result = compile_source("agent alice\non event 1 -> reply bob\n", "t.ppflow", emit=False)
    (diag,) = [d for d in result.diagnostics if d.is_error]
    assert diag.code == "E104" and diag.replacement is None  # nothing close: the help lists the agents
    assert "data" not in to_lsp(diag, "file:///t.ppflow")


FLOW = """\
event 1 click
agent alice
field tier int
segment vip = tier > 2
flow f {
  on event click -> {
    let n = count(click) + tier
    if vip and n > 3 reply alice "{{ n }} {{ user_fullname }}" else set tier = 1
  }
}
"""


def refs(symbols: Symbols, symbol: tuple) -> list[tuple[int, int, bool]]:
    return [(r.span.line, r.span.col, r.is_definition) for r in symbols.refs if r.symbol == symbol]


def test_symbols_index_declarations_and_uses():
    program = compile_source(FLOW, "t.ppflow", emit=False).program
    assert program is not None
    symbols = Symbols(program)
    assert refs(symbols, ("event", 1)) == [(1, 9, True), (6, 12, False), (7, 19, False)]
    assert refs(symbols, ("field", "tier")) == [(3, 7, True), (4, 15, False), (7, 28, False), (8, 73, False)]
    assert refs(symbols, ("segment", "vip")) == [(4, 9, True), (8, 8, False)]
    assert refs(symbols, ("let", (0, 1))) == [(7, 9, True), (8, 16, False), (8, 38, False)]
    assert refs(symbols, ("agent", "alice")) == [(2, 7, True), (8, 28, False)]
    assert refs(symbols, ("flow", "f")) == [(5, 6, True)]
    assert refs(symbols, ("variable", "user_fullname")) == [(8, 46, False)]
    assert refs(symbols, ("function", "count")) == [(7, 13, False)]


def test_symbols_at_an_offset_and_a_program_with_errors():
    text = FLOW.replace("reply alice", "reply alicia")
    result = compile_source(text, "t.ppflow", emit=False)
    assert result.checked is None and result.program is not None
    symbols = Symbols(result.program)
    unknown = symbols.at(text.index("alicia"))
    assert unknown is not None and unknown.symbol == ("agent", "alicia")  # a use of a name nothing declares
    assert symbols.definition(("agent", "alicia")) is None
    ref = symbols.at(text.index("+ tier") + 6)  # just after the name counts
    assert ref is not None and ref.symbol == ("field", "tier")
    definition = symbols.definition(("field", "tier"))
    assert definition is not None and (definition.line, definition.col) == (3, 7)
    assert len(symbols.references(("field", "tier"), include_definition=False)) == 3


def test_a_syntax_error_leaves_no_program():
    result = compile_source("flow f {", "t.ppflow", emit=False)
    assert result.program is None and result.diagnostics[0].code == "E001"
