"""The message registry (ppdsl/lang/messages.py): every message can be
produced, every code is documented in the README, and the guard for code
generation that the checker's limits make unreachable still works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ppdsl
from ppdsl.build.loader import read_source
from ppdsl.build.pipeline import compile_source
from ppdsl.codegen.python import TooDeep, check_nesting
from ppdsl.lang import messages as m

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "cases" / "diagnostics"
# messages only compile_condition can give: it has no current event and takes event names as an argument
CONDITIONS = ["track_event_seq > 1", "count(signup) > 1"]
# a guard behind the checker's limits: no program that passes them reaches it (tested directly below)
GUARDS = {m.TOO_DEEP_GENERATED}


def produced() -> list[m.Message]:
    found: list[m.Message] = []
    for case in sorted(CORPUS.glob("*.ppflow")):
        try:
            found += [d.msg for d in compile_source(read_source(case), case.name).diagnostics]
        except ppdsl.CompileError as exc:  # not UTF-8
            found += [d.msg for d in exc.diagnostics]
    for text in CONDITIONS:
        with pytest.raises(ppdsl.CompileError) as info:
            ppdsl.compile_condition(text)
        found += [d.msg for d in info.value.diagnostics]
    return found


def test_every_code_in_the_registry_is_produced_by_the_corpus():
    assert {msg.code for msg in produced()} == set(m.CODES)


def test_every_message_is_produced_or_is_a_tested_guard():
    seen = {id(msg) for msg in produced()}
    missing = [msg for msg in m.ALL if id(msg) not in seen and msg not in GUARDS]
    assert missing == []


def test_the_readme_lists_every_code():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"\b[EW][0-9]{3}\b", readme))
    assert set(m.CODES) <= listed, sorted(set(m.CODES) - listed)


def test_messages_and_helps_format_with_their_arguments():
    for msg in m.ALL:
        args = {name: "x" for name in re.findall(r"\{(\w+)\}", msg.text + (msg.help or ""))}
        assert msg.format(args) and (msg.help is None or msg.format_help(args))


def test_the_generated_code_guard_reports_the_ppflow_line():
    deep = "x = " + "(" * m.PYTHON_MAX_NESTING + ")" * m.PYTHON_MAX_NESTING + "  # flow.ppflow:7\n"
    with pytest.raises(TooDeep) as info:
        check_nesting("pass\n" + deep)
    assert info.value.line == 7


def test_limits_live_in_the_registry():
    assert (m.MAX_BRACKETS, m.MAX_STATEMENT_DEPTH, m.MAX_EXPRESSION_DEPTH, m.MAX_EVENTS) == (64, 50, 100, 8)
