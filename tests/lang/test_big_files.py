"""ppdsl lowers Arpeggio's parse tree one top-level item at a time (it used
to build textX's object model of the whole file first). The IR and the
diagnostics must be what they were: tests/cases/lowering.json holds, for
every case file and example, a hash of the IR dump with every span and the
diagnostics, as the textX-model lowering gave them. `pytest --update`
rewrites it, for a change that means to alter the IR.

Speed and memory are measured by benchmarks/bigfile.py, not here."""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest

from ppdsl.build import cache
from ppdsl.build.loader import module_from_code, read_source
from ppdsl.build.pipeline import compile_source
from ppdsl.lang import ir
from ppdsl.lang.diagnostics import CompileError, Diagnostic, SyntaxProblem
from ppdsl.lang.lower import parse
from ppdsl.lang.span import Source, Span

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "cases" / "lowering.json"
FOLDERS = ("tests/cases/diagnostics", "tests/cases/ir", "tests/cases/scenarios", "examples")
CASES = sorted(p.relative_to(ROOT).as_posix() for folder in FOLDERS for p in (ROOT / folder).glob("*.ppflow"))


def _spans(node: Any, out: list[str]) -> list[str]:
    if isinstance(node, Span):
        out.append(f"{node.start}-{node.end}")
    elif is_dataclass(node) and not isinstance(node, type):
        for f in fields(node):
            _spans(getattr(node, f.name), out)
    elif isinstance(node, (list, tuple)):
        for item in node:
            _spans(item, out)
    return out


def _diagnostics(diags: list[Diagnostic]) -> list[list[Any]]:
    return [
        [d.code, d.span.start, d.span.end, d.message, d.help, [[x.span.start, x.span.end, x.text] for x in d.labels]]
        for d in diags
    ]


def fingerprint(path: Path) -> dict[str, Any]:
    """A hash of the file's IR dump and all its spans (None on a syntax error), and its diagnostics."""
    try:
        text = read_source(path)
    except CompileError as exc:  # not UTF-8
        return {"ir": None, "diagnostics": _diagnostics(exc.diagnostics)}
    return fingerprint_text(text, path.name)


def fingerprint_text(text: str, name: str = "big.ppflow") -> dict[str, Any]:
    try:
        program, _ = parse(Source(name, text))
        dump = ir.dump(program) + "\n" + " ".join(_spans(program, []))
        ir_hash = hashlib.sha256(dump.encode("utf-8", "surrogatepass")).hexdigest()
    except SyntaxProblem:
        ir_hash = None
    return {"ir": ir_hash, "diagnostics": _diagnostics(compile_source(text, name, emit=False).diagnostics)}


@pytest.fixture(scope="module")
def reference(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.config.getoption("--update"):
        data = {case: fingerprint(ROOT / case) for case in CASES}
        REFERENCE.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return json.loads(REFERENCE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_the_reference_covers_every_case(reference: dict[str, Any]):
    assert sorted(reference) == CASES


@pytest.mark.parametrize("case", CASES)
def test_ir_and_diagnostics_are_unchanged(case: str, reference: dict[str, Any]):
    assert fingerprint(ROOT / case) == reference[case]


# ----------------------------------------------------------------- a big file


def big_file(n: int) -> str:
    """n flows in four shapes, with declarations, comments and loose rules between them."""
    out = ['event 1 signup uuid "u-1" "Signed up"', "event 2 pricing alias 'prices'", "agent alice", "group sales"]
    for f in range(n):
        e = f % 2 + 1
        if f % 500 == 250:
            out.append(f"field f{f} int  # a field between flows\nsegment s{f} = count({e}) > {f % 7}")
        if f % 400 == 399:
            out.append(f'on event {e} -> reply alice "loose rule {f}"')
        body = (
            f"if count({e}) > {f % 9} and user_city == 'Beijing'  # a comment\n"
            f"    reply alice \"Hi {{{{ user_fullname or 'there' }}}}\"\n"
            f"  elif now - last_time({e}) < {f % 5 + 1}0m assign group sales\n  else end",
            f'switch count(2) {{ case 1, -2 -> end default -> ticket "n={{{{ count(2) + {f % 4} }}}}" }}',
            "{ let n = count(2) * 2  set f250 = n }" if f > 250 else "assign any on failure -> end",
            f'reply alice "{f}"',
        )[f % 4]
        out.append(f"flow f{f} priority {f % 3} {{\n  on event {e}, pricing -> {body}\n  on any event -> end\n}}")
    return "\n".join(out) + "\n"


def test_a_file_of_2000_flows():
    text = big_file(2000)
    result = compile_source(text, "big.ppflow", emit=False)
    assert [d for d in result.diagnostics if d.is_error] == [] and result.checked is not None
    assert result.flows == 2001  # and the loose rules' main flow
    program = result.checked.program
    flows = [f for f in program.flows if not f.implicit]
    assert [f.name for f in flows] == [f"f{i}" for i in range(2000)]
    assert [len(r.rules) for r in program.flows if r.implicit] == [5]
    for flow in flows[::97]:
        assert text[flow.span.start : flow.span.end].startswith(f"flow {flow.name} priority")
        assert text[flow.span.end - 1] == "}"
        assert text[flow.name_span.start : flow.name_span.end] == flow.name
    templates = [n for n in ir.walk(program) if isinstance(n, ir.Template)]
    assert len(templates) == 1505
    assert sum(not isinstance(part, str) for t in templates for part in t.parts) == 1000  # every {{ }} parsed


def test_a_syntax_error_deep_in_a_big_file_is_reported_as_alone():
    broken = "flow broken { on any event -> reply }\n"
    alone = compile_source(broken, "f.ppflow", emit=False).diagnostics
    text = big_file(300)
    big = compile_source(text + broken, "f.ppflow", emit=False).diagnostics
    line = text.count("\n")
    assert [(d.code, d.line - line, d.col, d.message) for d in big] == [
        (d.code, d.line, d.col, d.message) for d in alone
    ]


def test_the_item_before_a_syntax_error_adds_what_it_expected():
    # the agent's optional display name could start where `bogus` stands
    (diag,) = compile_source("agent a\nagent b\nbogus\n", "f.ppflow", emit=False).diagnostics
    assert (diag.line, diag.col) == (3, 1)
    assert diag.message.startswith("syntax error: expected a string, 'event', 'agent'")


def test_a_syntax_error_later_in_the_file_comes_before_a_lowering_error():
    text = 'on event 1 -> switch 1 { case -"a" -> end }\n' + big_file(3)
    (diag,) = compile_source(text, "f.ppflow", emit=False).diagnostics
    assert (diag.line, diag.message) == (1, "syntax error: '-' goes with a number only")
    (diag,) = compile_source(text + "flow late { on any event -> reply }\n", "f.ppflow", emit=False).diagnostics
    assert diag.line == text.count("\n") + 1 and diag.message.startswith("syntax error: expected a name")


def test_a_big_module_compiles_each_flow_when_an_event_first_needs_it(monkeypatch: pytest.MonkeyPatch):
    code = compile_source(big_file(300), "big.ppflow").code
    assert code is not None
    monkeypatch.setattr(cache, "LAZY_LINES", 500)
    pieces = cache.compile_module(code, "big.py")
    deferred = [p for p in pieces if not inspect.iscode(p)]
    assert sorted(name for name, _, _ in deferred) == sorted([f"_flow_{i}" for i in range(1, 301)] + ["_seg_1"])
    whole: dict[str, Any] = {}
    exec(compile(code, "big.py", "exec"), whole)
    split = vars(module_from_code(pieces, "big.ppflow"))
    assert {n for n in whole if not n.startswith("__")} == {n for n in split if not n.startswith("__")}
    first = _compiled(split)
    payload = {"track_event": {"event_seq": 1, "event_timestamp": 1795593600}}
    assert split["handle"](payload, {}) == whole["handle"](payload, {})
    ran = {f.__name__ for f in split["_FLOWS_BY_EVENT"][1]}
    assert _compiled(split) - first == ran  # event 1's flows only: event 2's and the unused segment wait
    assert 0 < len(ran) < 160
    for seq, visitor in ((1, {}), (2, {"event_count_2": 5, "user_city": "Beijing"}), (2, {"event_count_1": 3})):
        payload = {"track_event": {"event_seq": seq, "event_timestamp": 1795593600}}
        assert split["handle"](payload, dict(visitor)) == whole["handle"](payload, dict(visitor))
    for name, f in whole.items():  # each compiled alone, with the line numbers of the whole
        if inspect.isfunction(f) and split[name].__code__.co_name == name:
            assert (split[name].__code__.co_firstlineno, _lines(split[name].__code__)) == (
                f.__code__.co_firstlineno,
                _lines(f.__code__),
            )
    assert [p.co_firstlineno for p in pieces if inspect.iscode(p)] == [1, 1]  # the runtime and the tables


def _compiled(namespace: dict[str, Any]) -> set[str]:
    return {name for name, f in namespace.items() if inspect.isfunction(f) and f.__code__.co_name == name}


def _lines(code: Any) -> list[int]:
    # (not co_code: a piece without the imports calls `_json.loads` the generic way)
    return sorted({line for *_, line in code.co_lines()} - {None})


@pytest.mark.parametrize("nested", ["if true ", "reply a on failure -> ", "if true end else "])
def test_statements_nested_700_deep_are_lowered_as_before(nested: str):
    # The recursion takes as many frames per level as the textX-model lowering did
    # (about 985 levels fit in Python's default limit); Arpeggio's position_end
    # recursed three times deeper and failed at 329.
    program, _ = parse(Source("deep.ppflow", "on event 1 -> " + nested * 700 + "end\n"))
    assert len(program.flows[0].rules) == 1
