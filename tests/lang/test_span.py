"""Spans: offsets into one Source, with lines and columns from one line index
in characters, UTF-16 code units (the LSP) and terminal cells (carets)."""

from __future__ import annotations

from ppdsl.build.pipeline import compile_source
from ppdsl.lang.diagnostics import render, to_json, to_lsp
from ppdsl.lang.span import Source, display_width

TEXT = 'agent a "小王"\non event 1 -> reply a "😀 {{ nmae }}"\n'


def test_line_and_column_in_characters():
    source = Source("f.ppflow", TEXT)
    at = TEXT.index("nmae")
    span = source.span(at, at + 4)
    assert (span.line, span.col, span.length) == (2, 29, 4)
    assert span.end_line_col == (2, 33)


def test_utf16_columns_count_astral_characters_twice():
    source = Source("f.ppflow", TEXT)
    at = TEXT.index("nmae")
    assert source.index.utf16(at) == (1, 29)  # the emoji before it is two UTF-16 units


def test_display_width_of_wide_text():
    assert display_width("小王") == 4
    assert display_width("abc") == 3
    assert display_width("e\u0301") == 1  # a combining accent takes no cell


def test_the_caret_lines_up_under_wide_characters():
    result = compile_source(TEXT, "f.ppflow")
    (diag,) = [d for d in result.diagnostics if d.code == "E101"]
    source_line, caret_line = render(diag).split("\n")[2:4]
    text = source_line.split(" | ", 1)[1]
    caret = caret_line.split(" | ", 1)[1]
    before = text[: text.index("nmae")]
    assert caret == " " * display_width(before) + "^^^^"


def test_the_same_diagnostic_renders_as_json_and_for_the_lsp():
    result = compile_source(TEXT, "f.ppflow")
    (diag,) = [d for d in result.diagnostics if d.code == "E101"]
    as_json = to_json(diag)
    assert {k: as_json[k] for k in ("file", "line", "column", "end_line", "end_column", "severity", "code")} == {
        "file": "f.ppflow",
        "line": 2,
        "column": 29,
        "end_line": 2,
        "end_column": 33,
        "severity": "error",
        "code": "E101",
    }
    assert as_json["message"] == "unknown name 'nmae'" and as_json["help"]
    lsp = to_lsp(diag, "file:///f.ppflow")
    assert lsp["range"] == {"start": {"line": 1, "character": 29}, "end": {"line": 1, "character": 33}}
    assert lsp["severity"] == 1 and lsp["code"] == "E101"


def test_secondary_labels_point_at_the_first_declaration():
    result = compile_source("agent a\nagent a\non event 1 -> reply a\n", "f.ppflow")
    (diag,) = result.diagnostics
    (label,) = diag.labels
    assert (diag.line, label.span.line, label.text) == (2, 1, "first declared here")
    assert to_json(diag)["labels"] == [{"line": 1, "column": 7, "message": "first declared here"}]
