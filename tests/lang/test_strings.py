"""Strings and templates: escapes, typographic quotes and braces (LANGUAGE.md
sections 2 and 4). Each test quotes the sentence it holds the code to."""

from __future__ import annotations

import textwrap

import pytest

import ppdsl

T0 = 1795593600  # 2026-11-25T08:00:00Z


def load_text(tmp_path, text: str, name: str = "review.ppflow"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return ppdsl.load(path, cache=False)


def texts(rules, payload=None, visitor=None):
    payload = payload or {"event_seq": 1, "event_timestamp": T0}
    return [a.get("text") for a in rules.handle(payload, visitor)["actions"]]


def test_typographic_quotes_inside_a_template_expression_get_the_fix(tmp_path):
    """LANGUAGE.md §2: "Typographic quotes (‘’“”) are not string delimiters: they
    get an error that names the fix."  §4 shows quotes inside `{{ }}`:
    "Hi {{ user_fullname or 'there' }}". Writing that with ‘there’ gives a bare
    "expected an expression" syntax error with no help, not the E002 fix."""
    with pytest.raises(ppdsl.CompileError) as info:
        load_text(tmp_path, 'on event 1 -> reply a "Hi {{ user_fullname or ‘there’ }}"\n')
    wording = " ".join(f"{d.message} {d.help or ''}" for d in info.value.diagnostics)
    assert "quote" in wording.lower(), wording


def test_only_a_literal_opening_brace_pair_needs_escaping(tmp_path):
    """LANGUAGE.md §4: "`TEMPLATE` is a string in which `{{ EXPR }}` is replaced by
    the value of EXPR ... a literal `{{` is written `{{ "{{" }}`."  The natural way
    to show a placeholder literally, `{{ "{{" }} name }}`, is rejected (E123
    "'}}' has no matching '{{'"): a lone `}}` is not an expression and should stay
    text. (README documents the rejection as a choice; the spec names only `{{`.)"""
    rules = load_text(tmp_path, """on event 1 -> ticket 'Write {{ "{{" }} name }} for the name'\n""")
    assert texts(rules) == ["Write {{ name }} for the name"]


def test_unicode_escapes_for_a_surrogate_pair_give_one_character(tmp_path):
    """LANGUAGE.md §2: strings take "the escapes `\\\\ \\" \\' \\n \\t \\uXXXX`" and the
    source is UTF-8.  `\\ud83d\\ude00` (how JSON/JavaScript spell U+1F600) yields two
    lone surrogates, a string that can't be encoded as UTF-8, instead of '😀'."""
    rules = load_text(tmp_path, 'on event 1 -> ticket "\\ud83d\\ude00"\n')
    (text,) = texts(rules)
    assert text == "\U0001f600"
    text.encode("utf-8")
