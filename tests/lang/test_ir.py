"""The IR as each stage leaves it, printed with ir.dump() (the mypy style of
stage tests): tests/cases/ir/NAME.ppflow is paired with NAME.parsed (after
lowering) and NAME.checked (with types and bindings). `pytest --update`
rewrites them when a change is meant to alter the IR."""

from __future__ import annotations

from pathlib import Path

import pytest

from ppdsl.lang import ir
from ppdsl.lang.check import check
from ppdsl.lang.lower import parse
from ppdsl.lang.span import Source

CASES = sorted((Path(__file__).resolve().parents[1] / "cases" / "ir").glob("*.ppflow"))


def compare(path: Path, text: str, update: bool) -> None:
    if update:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_parsed_and_checked_dumps(case: Path, update: bool):
    program, diags = parse(Source(case.name, case.read_text(encoding="utf-8")))
    assert diags == []
    compare(case.with_suffix(".parsed"), ir.dump(program), update)
    checked, diags = check(program)
    assert checked is not None, [d.message for d in diags]
    assert checked.program is program
    compare(case.with_suffix(".checked"), ir.dump(program, checked=True), update)


def test_walk_visits_every_node_once_in_source_order():
    program, _ = parse(Source("w.ppflow", 'agent a\non event 1 -> if count(1) > 2 reply a "{{ 1 + 2 }}"\n'))
    kinds = [type(node).__name__ for node in ir.walk(program)]
    assert kinds == [
        "Program", "AgentDecl", "Flow", "Rule", "EventRef", "If", "Compare", "Call", "Lit", "Lit",
        "ActionStmt", "Reply", "Template", "BinOp", "Lit", "Lit",
    ]  # fmt: skip
    calls = [node for node in ir.walk(program) if isinstance(node, ir.Call)]
    assert [(c.func, c.span.line, c.span.col) for c in calls] == [("count", 2, 18)]


def test_only_a_checked_program_reaches_the_code_generator():
    program, _ = parse(Source("e.ppflow", "agent a\non event 1 -> reply b\n"))
    checked, diags = check(program)
    assert checked is None and [d.code for d in diags] == ["W202", "E104"]  # in source order
