"""Conformance review against LANGUAGE.md: each test is one problem found by
reading the normative sections and writing the obvious acceptance check.
Every test quotes the sentence it holds the implementation to."""

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
    assert text == "\U0001F600"
    text.encode("utf-8")


def test_visitor_times_given_as_epoch_seconds_come_back_as_iso(tmp_path):
    """LANGUAGE.md §7: "Datetimes are ISO-8601 UTC with `Z` (`2026-11-25T08:00:00Z`
    ...); input datetimes may be ISO-8601 or epoch seconds."  The current event's
    `event_first_time_N`, read and compared during the update, is echoed in the
    output visitor as the input number when it didn't move."""
    rules = load_text(tmp_path, "on event 1 -> end\n")
    visitor = {"event_count_1": 2, "event_first_time_1": T0 - 3600, "event_last_time_1": T0 - 60}
    out = rules.handle({"event_seq": 1, "event_timestamp": T0}, visitor)["visitor"]
    assert out["event_last_time_1"] == "2026-11-25T08:00:00Z"
    assert out["event_first_time_1"] == "2026-11-25T07:00:00Z"
