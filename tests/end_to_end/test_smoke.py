"""The seed scenario end to end, in-process."""

from pathlib import Path

import ppdsl

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_seed_flow_routes_to_agent_a_when_both_counts_exceed_8():
    rules = ppdsl.load(EXAMPLES / "lead_routing.ppflow", cache=False)
    visitor = {"user_fullname": "Li Lei", "event_count_2": 8, "event_count_3": 9}
    result = rules.handle({"track_event": {"event_name": "view_pricing", "event_timestamp": 1795593600}}, visitor)
    assert result["actions"] == [
        {
            "flow": "lead_routing",
            "line": 13,
            "type": "reply",
            "agent": "agent_a",
            "text": "Hi Li Lei, shall we book a demo?",
        }
    ]
    assert result["visitor"]["event_count_2"] == 9
    assert visitor["event_count_2"] == 8  # the caller's dict is not modified


def test_an_installed_ppdsl_carries_its_grammar():
    package = Path(ppdsl.__file__).resolve().parent
    if package.parent == EXAMPLES.parent:
        import pytest

        pytest.skip("running from the checkout; .ci/run tests the installed wheel")
    assert (package / "grammar" / "ppflow.tx").is_file()


def test_the_public_api_is_listed_and_typed():
    assert {"CompileError", "Diagnostic", "Ruleset", "check_file", "compile_condition", "load"} <= set(dir(ppdsl))
    assert issubclass(ppdsl.CompileError, Exception)


def test_check_file_returns_every_diagnostic(tmp_path):
    flow = tmp_path / "f.ppflow"
    flow.write_text("agent a\nagent b\non event 1 -> reply c\n", encoding="utf-8")
    diags = ppdsl.check_file(flow)
    assert [(d.code, d.line, d.severity) for d in diags] == [
        ("W202", 1, "warning"),
        ("W202", 2, "warning"),
        ("E104", 3, "error"),
    ]
    assert all(isinstance(d, ppdsl.Diagnostic) for d in diags)
