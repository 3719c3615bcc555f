"""AUTHORING.md section 5, `ppdsl graph`: the graph of each flow (kinds,
labels, edges), the flows in run order with inactive ones grey, every
output format, hostile labels, coverage colours and the command itself."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import EXAMPLES, ppdsl_command
from ppdsl.authoring import graph as g
from ppdsl.build.pipeline import compile_source

FORMATS = ("dot", "mermaid", "svg", "png", "json")
SVG = "{http://www.w3.org/2000/svg}"


def need_dot() -> None:
    """Graphviz is installed by .ci/run: only a local run without it may skip."""
    if shutil.which("dot") is None:
        if os.environ.get("CI"):
            pytest.fail("Graphviz's dot is missing in CI (.ci/run installs it)")
        pytest.skip("Graphviz's dot is not installed")


def graph_of(source: str, name: str = "t.ppflow") -> g.Graph:
    result = compile_source(source, name, emit=False)
    assert result.checked is not None, [d.message for d in result.diagnostics]
    return g.build(result.checked)


def example(name: str) -> g.Graph:
    path = EXAMPLES / f"{name}.ppflow"
    return graph_of(path.read_text(encoding="utf-8"), f"examples/{path.name}")


def flow_json(graph: g.Graph, index: int = 0, taken=None) -> dict:
    return json.loads(g.to_json(graph, taken))["flows"][index]


def svg_texts(svg: bytes) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


# ----------------------------------------------------------------- the graph


def test_lead_routing_is_drawn_as_the_flow_editor_shows_it():
    flow = flow_json(example("lead_routing"))
    assert (flow["name"], flow["run"], flow["inactive"], flow["line"]) == ("lead_routing", 1, False, 10)
    assert [(n["id"], n["kind"], n["label"], n["line"]) for n in flow["nodes"]] == [
        ("f1_n1", "start", "start", 10),
        ("f1_n2", "branch", "on event", 10),
        ("f1_n3", "logic", "count(view_pricing) > 8 and count(signup) > 8", 12),
        ("f1_n4", "reply", 'reply agent_a: "Hi {{ user_fullname }}, shall…"', 13),
        ("f1_n5", "end", "end", 13),
        ("f1_n6", "reply", 'reply agent_b: "Hello! Anything I can help you…"', 15),
        ("f1_n7", "end", "end", 15),
        ("f1_n8", "end", "end", 15),
        ("f1_n9", "end", "end", 16),
    ]
    assert [(e["from"], e["to"], e["label"], e["branch"]) for e in flow["edges"]] == [
        ("f1_n1", "f1_n2", "", None),
        ("f1_n2", "f1_n3", "click, view_pricing", [11, 3, "rule"]),
        ("f1_n2", "f1_n9", "signup", [16, 3, "rule"]),
        ("f1_n3", "f1_n4", "TRUE", [12, 8, "true"]),
        ("f1_n3", "f1_n6", "FALSE", [12, 8, "false"]),
        ("f1_n4", "f1_n8", "SUCCESS", [13, 7, "success"]),
        ("f1_n4", "f1_n5", "FAILED", [13, 7, "failed"]),
        ("f1_n6", "f1_n8", "SUCCESS", [15, 7, "success"]),
        ("f1_n6", "f1_n7", "FAILED", [15, 7, "failed"]),
    ]


def test_pictures_wrap_labels_between_words_and_never_inside_a_short_template_part():
    node = example("lead_routing").flows[0].nodes[3]
    assert g._lines(node) == ['reply agent_a: "Hi', '{{ user_fullname }}, shall…"', "line 13"]


def edges_by_label(flow: dict) -> list[tuple[str, str, str]]:
    label = {n["id"]: n["label"] for n in flow["nodes"]}
    return [(label[e["from"]], e["label"], label[e["to"]]) for e in flow["edges"]]


def test_switch_cases_handlers_set_let_and_convert():
    edges = edges_by_label(flow_json(example("vip_conversion")))
    currency = 'upper(data.currency or "usd")'
    for edge in [
        ("on event", "purchase", "let amount = float(data.amount)"),
        ("let amount = float(data.amount)", "", "set lifetime_value = (lifetime_value or 0) + (amount or 0)"),
        ("is_vip", "TRUE", "end"),
        ("big_spender", "TRUE", 'convert "vip"'),
        ('convert "vip"', "FAILED", "end"),
        ('convert "vip"', "SUCCESS", f'{currency} in ["CNY", "RMB"]'),
        (f'{currency} in ["CNY", "RMB"]', "TRUE", 'set vip_tier = "gold-cn"'),
        (f'{currency} in ["CNY", "RMB"]', "FALSE", f'{currency} in ["USD", "EUR", "GBP"]'),
        (f'{currency} in ["USD", "EUR", "GBP"]', "FALSE", 'set vip_tier = "gold-intl"'),
        ('set vip_tier = "gold-intl"', "", "assign dave"),
        ("assign dave", "FAILED", "assign group vip_desk"),
        ("assign group vip_desk", "SUCCESS", "reply dave: \"Thank you, {{ user_fullname or 'dear customer' }}…\""),
        ("assign dave", "SUCCESS", "reply dave: \"Thank you, {{ user_fullname or 'dear customer' }}…\""),
        ("big_spender", "FALSE", "end"),
        ("is_vip and float(data.amount) > 0", "TRUE", 'ticket "VIP refund: {{ user_email }}…"'),
    ]:
        assert edge in edges


def test_rule_labels_name_the_events_each_rule_gets():
    source = """\
event 1 a
event 2 b
event 3 c
flow f {
  on event a, b -> end
  on event b -> end
  on any event -> end
}
flow g { on event * -> end }
"""
    graph = graph_of(source)
    assert [e["label"] for e in flow_json(graph, 0)["edges"] if e["branch"]] == [
        "a, b",
        "no event (taken earlier)",
        "any other event",
    ]
    assert [e["label"] for e in flow_json(graph, 1)["edges"] if e["branch"]] == ["any event"]
    undeclared = graph_of("on event 2, 1 -> end\n")
    assert [e["label"] for e in flow_json(undeclared)["edges"] if e["branch"]] == ["2, 1"]


def test_a_handler_runs_and_the_flow_goes_on_after_the_action():
    flow = flow_json(graph_of('field x int\non event 1 -> { reply a on failure -> set x = 1  ticket "t" }\n'))
    assert edges_by_label(flow) == [
        ("start", "", "on event"),
        ("on event", "1", "reply a"),
        ("reply a", "SUCCESS", 'ticket "t"'),
        ("reply a", "FAILED", "set x = 1"),
        ("set x = 1", "", 'ticket "t"'),
        ('ticket "t"', "SUCCESS", "end"),
        ('ticket "t"', "FAILED", "end"),
    ]


ORDER = """\
flow a { on event 1 -> end }
on event 2 -> end
flow b priority 5 { on event 1 -> end }
flow d priority 9 inactive { on event 1 -> reply x }
flow c priority 5 { on event 1 -> end }
"""


def test_flows_come_in_run_order_and_inactive_ones_last():
    flows = json.loads(g.to_json(graph_of(ORDER)))["flows"]
    assert [(f["id"], f["name"], f["run"], f["inactive"]) for f in flows] == [
        ("f1", "b", 1, False),
        ("f2", "c", 2, False),
        ("f3", "a", 3, False),
        ("f4", "main", 4, False),
        ("f5", "d", None, True),
    ]


def test_inactive_flows_are_grey():
    graph = graph_of(ORDER)
    dot = g.to_dot(graph)
    inactive = dot.split("subgraph cluster_f5 {", 1)[1]
    assert 'graph [label="d priority 9 (inactive)"' in inactive and "dashed" in inactive
    nodes = [line for line in inactive.splitlines() if line.strip().startswith("f5_n") and "->" not in line]
    assert nodes and all('fillcolor="#f3f4f6"' in line and 'fontcolor="#9ca3af"' in line for line in nodes)
    assert 'fillcolor="#f3f4f6"' not in dot.split("subgraph cluster_f5 {", 1)[0]
    mermaid = g.to_mermaid(graph)
    assert "  style f5 fill:#fafafa" in mermaid
    assert re.search(r"^  class f5_n1,f5_n2,f5_n3,f5_n4,f5_n5 off$", mermaid, re.M), mermaid
    assert 'subgraph f1["1. b priority 5"]' in mermaid


# ----------------------------------------------------------------- formats

MERMAID_NODE = re.compile(r'^    (f\d+_n\d+)(\(\["|\{\{"|\["|\(")([^"]*)("\]\)|"\}\}|"\]|"\))$')
MERMAID_EDGE = re.compile(r'^  (f\d+_n\d+) (-->|-\.->)(\|"[^"]*"\|)? (f\d+_n\d+)$')
MERMAID_OTHER = re.compile(
    r'^(flowchart TD|  subgraph f\d+\["[^"]*"\]|  end|  style f\d+ \S+|  classDef \w+ \S+'
    r"|  class (f\d+_n\d+,)*f\d+_n\d+ \w+|  linkStyle (\d+,)*\d+ \S+)$"
)
ENTITIES = {"quot": '"', "amp": "&", "lt": "<", "gt": ">"}


def mermaid_labels(text: str) -> dict[str, str]:
    """Every node's label, decoded, after checking each line against what ppdsl may write."""
    labels = {}
    for line in text.splitlines():
        node = MERMAID_NODE.match(line)
        if node:
            raw = node.group(3)
            assert not re.search(r"[<>&`]", raw.replace("<br>", "")), raw
            decoded = re.sub(r"#(\w+);", lambda m: ENTITIES.get(m[1]) or chr(int(m[1])), raw.replace("<br>", "\n"))
            labels[node.group(1)] = decoded
        else:
            assert MERMAID_EDGE.match(line) or MERMAID_OTHER.match(line), line
    return labels


def mermaid_class_names(text: str) -> set[str]:
    return set(re.findall(r"^  (?:classDef|class \S+) (\w+)", text, re.M))


def check_output(fmt: str, data: bytes, graph: g.Graph) -> None:
    nodes = [n for flow in graph.flows for n in flow.nodes]
    if fmt == "dot":
        assert data.startswith(b"digraph ppflow {")
    elif fmt == "mermaid":
        text = data.decode("utf-8")
        assert mermaid_labels(text) == {n.id: "\n".join(g._lines(n)) for n in nodes}
        assert "end" not in mermaid_class_names(text)
        assert text.count("\n  end\n") == len(graph.flows)
    elif fmt == "svg":
        texts = svg_texts(data)
        for node in nodes:
            assert all(line in texts for line in g._lines(node)), (node, texts)
    elif fmt == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        assert json.loads(data)["flows"][0]["nodes"][0]["kind"] == "start"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.ppflow")))
def test_every_example_renders_in_every_format(name: str, fmt: str):
    if fmt in ("svg", "png"):
        need_dot()
    graph = example(name)
    check_output(fmt, g.render(graph, fmt), graph)


HOSTILE = r"""agent wang "王 \"小\" <script>alert(1)</script>"
agent end_
field note string
flow welcome priority 3 {
  on event 1 -> {
    reply wang "您好 {{ user_fullname or '朋友' }}！"
    set note = "a \"quoted\" \\ back\nslash <b>&amp; #quot; #35; `x` end } { | ] \u0007"
  }
  on event 2 -> if page_url == "</script><script>alert('x')</script>" reply end_ "end\"\n" on failure -> end
}
flow end_x { on any event -> ticket "<i>{{ '\"' }} \\N \\l" }
"""


def test_hostile_labels_are_kept_as_written():
    graph = graph_of(HOSTILE, 'we"ird\\ <name>\n.ppflow')
    labels = [n.label for flow in graph.flows for n in flow.nodes if n.kind not in ("start", "branch", "end")]
    assert labels == [
        "reply wang: \"您好 {{ user_fullname or '朋友' }}！\"",
        r'set note = "a \"quoted\" \\ back\nslash <b>&amp; #quot; #35; `x` end } { | ] \u0007"',
        "page_url == \"</script><script>alert('x')</script>\"",
        r'reply end_: "end\"\n"',
        'ticket "<i>{{ \'\\"\' }} \\\\N \\\\l"',
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_labels_survive_every_format(fmt: str):
    if fmt in ("svg", "png"):
        need_dot()
    graph = graph_of(HOSTILE, 'we"ird\\ <name>\n.ppflow')
    data = g.render(graph, fmt)
    check_output(fmt, data, graph)
    if fmt == "svg":
        assert b"<script" not in data
        assert 'we"ird\\ <name>\ufffd.ppflow' in svg_texts(data)
    if fmt == "json":
        assert json.loads(data)["file"] == 'we"ird\\ <name>\n.ppflow'
    if fmt == "dot":
        need_dot()
        done = subprocess.run(["dot", "-Tsvg"], input=data, capture_output=True)
        assert done.returncode == 0 and not done.stderr, done.stderr


def test_chinese_labels_ask_for_a_cjk_font():
    dot = g.to_dot(graph_of(HOSTILE))
    assert re.search(r'node \[fontname="Noto Sans CJK SC,', dot)
    assert "您好" in dot


# ----------------------------------------------------------------- coverage

TAKEN = {(11, 3, "rule"), (12, 8, "true"), (13, 7, "success")}


def test_coverage_marks_what_the_tests_took():
    flow = flow_json(example("lead_routing"), taken=TAKEN)
    assert [n["id"] for n in flow["nodes"] if n["taken"]] == ["f1_n1", "f1_n2", "f1_n3", "f1_n4", "f1_n8"]
    assert [(e["from"], e["to"]) for e in flow["edges"] if e["taken"]] == [
        ("f1_n1", "f1_n2"),
        ("f1_n2", "f1_n3"),
        ("f1_n3", "f1_n4"),
        ("f1_n4", "f1_n8"),
    ]
    nothing = flow_json(example("lead_routing"), taken=set())
    assert not any(n["taken"] for n in nothing["nodes"]) and not any(e["taken"] for e in nothing["edges"])
    assert "taken" not in flow_json(example("lead_routing"))["nodes"][0]


def test_coverage_paints_taken_green_and_the_rest_grey():
    dot = g.to_dot(example("lead_routing"), TAKEN)
    assert re.search(r'f1_n4 \[[^\n]*color="#16a34a"', dot)
    assert re.search(r'f1_n6 \[[^\n]*color="#d1d5db"', dot)
    assert re.search(r'f1_n4 -> f1_n8 \[[^\n]*color="#16a34a"', dot)
    assert re.search(r'f1_n3 -> f1_n6 \[[^\n]*color="#d1d5db"', dot)
    mermaid = g.to_mermaid(example("lead_routing"), TAKEN)
    assert "  class f1_n1,f1_n2,f1_n3,f1_n4,f1_n8 taken" in mermaid
    assert "  linkStyle 0,1,3,5 stroke:#16a34a,stroke-width:2px" in mermaid
    assert "_node" not in mermaid


# ----------------------------------------------------------------- the command

LEAD = EXAMPLES / "lead_routing.ppflow"


def test_dot_is_the_default_on_stdout(cli):
    proc = cli("graph", LEAD)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == g.to_dot(graph_of(LEAD.read_text(encoding="utf-8"), str(LEAD)))


@pytest.mark.parametrize("suffix, start", [(".dot", b"digraph"), (".mmd", b"flowchart TD"), (".json", b"{")])
def test_the_output_suffix_picks_the_format(cli, tmp_path: Path, suffix: str, start: bytes):
    out = tmp_path / f"lead{suffix}"
    proc = cli("graph", LEAD, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(start) and proc.stdout == ""


def test_svg_and_png_files(cli, tmp_path: Path):
    need_dot()
    assert cli("graph", LEAD, "-o", tmp_path / "lead.svg").returncode == 0
    ET.fromstring((tmp_path / "lead.svg").read_bytes())
    assert cli("graph", LEAD, "--format", "png", "-o", tmp_path / "lead.out").returncode == 0
    assert (tmp_path / "lead.out").read_bytes().startswith(b"\x89PNG")


def test_an_unknown_suffix_without_format_is_a_usage_error(cli, tmp_path: Path):
    proc = cli("graph", LEAD, "-o", tmp_path / "lead.txt")
    assert proc.returncode == 2 and "--format" in proc.stderr
    assert cli("graph", LEAD, "--format", "mermaid", "-o", tmp_path / "lead.txt").returncode == 0


def test_coverage_from_tests_that_dont_exist_is_exit_2(cli, tmp_path: Path):
    proc = cli("graph", LEAD, "--coverage", "lead_routing.test.json", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "error: lead_routing.test.json: no such file or folder\n"


def test_coverage_colours_what_the_example_tests_took(cli):
    proc = cli("graph", LEAD, "--coverage", EXAMPLES, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    (flow,) = json.loads(proc.stdout)["flows"]
    taken = {tuple(e["branch"]) for e in flow["edges"] if e["taken"] and e["branch"]}
    assert taken == {(11, 3, "rule"), (16, 3, "rule"), (12, 8, "true"), (12, 8, "false")} | {
        (13, 7, "success"),
        (15, 7, "success"),
    }


def test_without_graphviz_svg_and_png_say_so(tmp_path: Path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no `dot` on it
    for fmt in ("svg", "png"):
        proc = subprocess.run(
            [*ppdsl_command(), "graph", str(LEAD), "--format", fmt, "-o", str(tmp_path / "x")],
            capture_output=True,
            text=True,
            env=env,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "Graphviz" in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "x").exists()


def test_a_file_with_errors_prints_its_diagnostics(cli, tmp_path: Path):
    bad = tmp_path / "bad.ppflow"
    bad.write_text("on event 1 -> reply\n", encoding="utf-8")
    proc = cli("graph", bad)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "error[E001]" in proc.stderr and "nothing drawn" in proc.stderr
