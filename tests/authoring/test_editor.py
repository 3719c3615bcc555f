"""ppdsl.authoring.editor, the answers behind the language server, on plain
text and offsets (the server's own tests speak LSP: tests/lsp)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ppdsl.authoring import editor, testing

ROOT = Path(__file__).resolve().parents[2]
FLOW = """\
event 1 click "A click"
event 2 signup
agent alice "Alice"
group sales
field tier int
flow f {
  on event click -> reply alice
}
"""


def labels(text: str, program_text: str = FLOW) -> set[str]:
    program = editor.analyze(program_text, "t.ppflow").program
    return {c.label for c in editor.completions(text, len(text), program)}


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("on event 1 -> reply al", {"alice"}),
        ("on event 1 -> assign ", {"alice", "group", "any"}),
        ("on event 1 -> assign group s", {"sales"}),
        ("on event 1 -> if count(", {"click", "signup"}),
        ("on event click, ", {"click", "signup"}),
        ("on ", {"event", "any", "failure"}),
        ("field score ", {"int", "float", "string", "bool", "datetime"}),
        ("agent ", set()),
        ("on event 1 -> let ", set()),
        ("# reply ", set()),
        ('on event 1 -> reply alice "Hi ', set()),
    ],
)
def test_completion_in_context(typed: str, expected: set[str]):
    assert labels(typed) == expected


def test_completion_inside_a_template_and_after_set():
    inside = labels('on event 1 -> reply alice "Hi {{ user_')
    assert {"user_fullname", "tier", "count", "if"} <= inside
    after_set = labels("on event 1 -> set ")
    assert "tier" in after_set and "user_city" in after_set and "now" not in after_set


def test_completion_without_any_program():
    assert labels("on event 1 -> reply ", program_text="flow {") == set()
    assert "flow" in labels("", program_text="flow {")


def test_outline_of_declarations_flows_and_rules():
    program = editor.analyze(FLOW, "t.ppflow").program
    assert program is not None
    shown = [(o.name, o.kind, [c.name for c in o.children]) for o in editor.outline(program)]
    assert shown[-1] == ("f", "flow", ["on event click"])
    assert [o.kind for o in editor.outline(program)][:5] == ["event", "event", "agent", "group", "field"]


def test_run_target_prefers_the_test_file(tmp_path: Path):
    flow = tmp_path / "lead.ppflow"
    assert editor.run_target(flow) is None
    (tmp_path / "lead.events.json").write_text("[]")
    assert editor.run_target(flow) == tmp_path / "lead.events.json"
    (tmp_path / "lead.test.json").write_text("{}")
    assert editor.run_target(flow) == tmp_path / "lead.test.json"


@pytest.mark.parametrize(
    "content, message",
    [("{}", "must be a non-empty JSON list of events"), ("[", "not JSON"), ("[]", "must be a non-empty")],
)
def test_a_malformed_events_file(tmp_path: Path, content: str, message: str):
    shutil.copy(ROOT / "examples" / "lead_routing.ppflow", tmp_path / "lead.ppflow")
    (tmp_path / "lead.events.json").write_text(content)
    with pytest.raises(testing.Malformed, match=message):
        testing.read_events_file(tmp_path / "lead.events.json")
    outcome = editor.run(tmp_path / "lead.events.json")
    assert not outcome.ok and message in outcome.summary


def test_replaying_events_on_a_flow_with_errors(tmp_path: Path):
    (tmp_path / "lead.ppflow").write_text("on event 1 -> reply nobody\nagent alice\n")
    (tmp_path / "lead.events.json").write_text(json.dumps([{"event_seq": 1}]))
    outcome = editor.run(tmp_path / "lead.events.json")
    assert not outcome.ok and "E104" in outcome.details


def test_lsp_without_the_extra_says_which_extra_to_install():
    blocked = "import sys; sys.modules['pygls'] = None; sys.argv = ['ppdsl', 'lsp']; "
    blocked += "from ppdsl.cli.main import main; main()"
    proc = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == "error: ppdsl lsp needs the lsp extra: pip install 'ppdsl[lsp]'\n"
