"""The line map of a compiled module (ppdsl/codegen/linemap.py): each generated
line of a rule, arm, case or action points at its `.ppflow` line and column,
and agrees with the line's `# file:LINE` comment."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

import ppdsl
from ppdsl.build.pipeline import compile_source
from ppdsl.codegen.linemap import KINDS, LineMap, Origin, dumps, line_map, loads

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.ppflow"))
T0 = 1795593600
LOC = re.compile(r"  # ([A-Za-z0-9._-]+):([0-9]+)$")

SAMPLE = """\
event 1 signup
event 2 view_pricing
agent a
field score int
segment hot = count(view_pricing) > 2

flow greet priority 2 {
  on event signup -> {
    let n = count(signup)
    if n > 3 and hot reply a "many {{ n }}"
    elif n == 2 {
      set score = 1
    } else end
  }
  on event view_pricing -> switch data.plan {
    case "pro", "team" -> assign a on failure -> ticket "no {{ data.plan }}"
    case "free" -> {}
    default -> convert "lead"
  }
}
on any event -> reply a
"""

# (generated line counted from `def _seg_1`, kind, .ppflow line, column, how the generated line starts)
SAMPLE_MAP = [
    (0, "segment", 5, 1, "def _seg_1(V, E):"),
    (1, "expr", 5, 15, "    return (_n1 > 2 if type(_n1 := "),
    (4, "flow", 7, 1, "def _flow_1(R, V, E):"),
    (6, "rule", 8, 3, "    if seq == 1:"),
    (7, "let", 9, 5, "        _l1 = "),
    (8, "if", 10, 8, "        if (_gt(_l1, 3) and _seg_1(V, E)):"),
    (9, "action", 10, 22, "            if not _do(R, {'flow': 'greet', 'line': 10, 'type': 'reply'"),
    (10, "failed", 10, 22, "                return"),
    (11, "elif", 11, 10, "        elif _eq(_l1, 2):"),
    (12, "action", 12, 7, "            _set(R, V, 'greet', 12, 'score', 1)"),
    (13, "else", 13, 12, "        else:"),
    (14, "end", 13, 12, "            return"),
    (15, "rule", 15, 3, "    elif seq == 2:"),
    (16, "switch", 15, 28, "        _s1 = _get(E.data, 'plan')"),
    (17, "case", 16, 5, "        if (_s1 == 'pro') or (_s1 == 'team'):"),
    (18, "action", 16, 27, "            if not _do(R, {'flow': 'greet', 'line': 16, 'type': 'assign'"),
    (19, "action", 16, 50, "                if not _do(R, {'flow': 'greet', 'line': 16, 'type': 'ticket'"),
    (20, "failed", 16, 50, "                    return"),
    (21, "case", 17, 5, "        elif (_s1 == 'free'):"),
    (22, "pass", 17, 20, "            pass"),
    (23, "default", 18, 16, "        else:"),
    (24, "action", 18, 16, "            _convert(R, V, 'greet', 18, 'lead')"),
    (27, "flow", 21, 1, "def _flow_2(R, V, E):"),
    (29, "rule", 21, 1, "    if seq in (1, 2):"),
    (30, "action", 21, 17, "        if not _do(R, {'flow': 'main', 'line': 21, 'type': 'reply'"),
    (31, "failed", 21, 17, "            return"),
]


def compiled(source: str, filename: str = "sample.ppflow") -> str:
    result = compile_source(source, filename)
    assert result.code is not None, [d.message for d in result.diagnostics]
    return result.code


def module(code: str) -> types.ModuleType:
    mod = types.ModuleType("ppdsl_line_map")
    exec(compile(code, "<line map>", "exec"), mod.__dict__)
    return mod


def test_sample_program_maps_each_line_to_its_node():
    code = compiled(SAMPLE)
    lines = code.splitlines()
    start = lines.index("def _seg_1(V, E):  # sample.ppflow:5") + 1
    got = [(o.line - start, o.kind, o.source_line, o.source_col) for o in line_map(code)]
    assert got == [row[:4] for row in SAMPLE_MAP]
    for offset, kind, line, _col, text in SAMPLE_MAP:
        assert lines[start + offset - 1].startswith(text), (kind, line)
        assert lines[start + offset - 1].endswith(f"  # sample.ppflow:{line}")


def test_sample_map_agrees_with_the_ir():
    """Rules, arms, cases and actions are found again from their IR nodes' spans."""
    from ppdsl.lang import ir
    from ppdsl.lang.check import check
    from ppdsl.lang.lower import parse
    from ppdsl.lang.span import Source

    program, _ = parse(Source("sample.ppflow", SAMPLE))
    check(program)
    lines = line_map(compiled(SAMPLE))
    for node in ir.walk(program):
        if isinstance(node, ir.Rule):
            assert len(lines.find(node.span.line, node.span.col, "rule")) == 1
        elif isinstance(node, ir.If):
            assert lines.find(node.branches[0][0].span.line, node.branches[0][0].span.col, "if")
            for cond, _ in node.branches[1:]:
                assert lines.find(cond.span.line, cond.span.col, "elif")
        elif isinstance(node, ir.Case):
            assert len(lines.find(node.span.line, node.span.col, "case")) == 1
        elif isinstance(node, ir.ActionStmt):
            assert len(lines.find(node.span.line, node.span.col, "action")) == 1


def test_module_object_and_source_text_give_the_same_map():
    code = compiled(SAMPLE)
    from_text = line_map(code)
    assert from_text.origins == line_map(module(code)).origins
    assert {o.kind for o in from_text} <= set(KINDS)
    first = from_text.origins[0]
    assert from_text.at(first.line) == first
    assert from_text.at(1) is None  # the docstring: no .ppflow node


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_location_comment_agrees_with_the_map(path):
    code = compiled(path.read_text(encoding="utf-8"), path.name)
    comments = {}
    for number, text in enumerate(code.splitlines(), 1):
        found = LOC.search(text)
        if found:
            assert found.group(1) == path.name
            comments[number] = int(found.group(2))
    lines = line_map(code)
    assert comments == {o.line: o.source_line for o in lines}
    assert len(lines) > 5
    assert any(o.kind == "rule" for o in lines) and any(o.kind == "action" for o in lines)


def test_map_is_in_modules_from_ppdsl_compile(cli, tmp_path):
    out = tmp_path / "lead_rules.py"
    proc = cli("compile", ROOT / "examples" / "lead_routing.ppflow", "-o", out)
    assert proc.returncode == 0, proc.stderr
    code = out.read_text(encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        import lead_rules  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("lead_rules", None)
    assert isinstance(lead_rules._LINE_MAP, str)
    assert line_map(lead_rules).origins == line_map(code).origins
    assert [o.kind for o in line_map(code)][:2] == ["flow", "rule"]


def test_loaded_rulesets_carry_the_map(tmp_path):
    path = tmp_path / "rules.ppflow"
    path.write_text(SAMPLE, encoding="utf-8")
    assert len(line_map(ppdsl.load(path, cache=False))) == len(SAMPLE_MAP)


def test_tracing_handle_through_the_map_gives_what_ran():
    """What coverage and --explain will do: trace the module's lines, read them through the map."""
    code = compiled(SAMPLE)
    rules = module(code)
    lines = line_map(code)
    ran: list[Origin] = []

    def tracer(frame, event, arg):
        if frame.f_code.co_filename != "<line map>":
            return None
        if event == "line" and lines.at(frame.f_lineno):
            ran.append(lines.at(frame.f_lineno))
        return tracer

    sys.settrace(tracer)
    try:
        rules.handle({"event_seq": 2, "event_timestamp": T0, "event_data": {"plan": "free"}})
    finally:
        sys.settrace(None)
    assert [(o.kind, o.source_line) for o in ran] == [
        ("rule", 8),  # greet: `on event signup`, tested and not taken
        ("rule", 15),  # `on event view_pricing`
        ("switch", 15),
        ("case", 16),  # "pro", "team": not taken
        ("case", 17),  # "free"
        ("pass", 17),  # taken: the line after it ran
        ("rule", 21),  # main
        ("action", 21),
    ]


def test_no_flows_gives_an_empty_map():
    code = compiled("event 1 signup\n")
    assert "_LINE_MAP = ''" in code
    assert len(line_map(code)) == 0 and len(line_map(module(code))) == 0


def test_dumps_and_loads_round_trip():
    rows = [(i, i // 2 + 1, i % 7 + 1, "action") for i in range(1, 20)]
    text = dumps(rows, offset=100)
    value = eval(text.split("=", 1)[1])  # noqa: S307 - our own literal
    assert [(o.line, o.source_line, o.source_col, o.kind) for o in loads(value)] == [
        (100 + g, line, col, kind) for g, line, col, kind in rows
    ]
    assert text.count("\n") == 2 + (len(rows) - 1) // 6  # wrapped by count, never by width


def test_not_a_ppdsl_module():
    with pytest.raises(ValueError, match="_LINE_MAP"):
        line_map("x = 1\n")
    with pytest.raises(ValueError, match="_LINE_MAP"):
        line_map(types.ModuleType("plain"))
    assert isinstance(loads(""), LineMap)
