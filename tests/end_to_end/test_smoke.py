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
