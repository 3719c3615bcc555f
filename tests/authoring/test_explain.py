"""`ppdsl run --explain` (AUTHORING.md section 3) and the evaluator behind it
(ppdsl/authoring/explain.py): per flow in run order, inactive or not, the rule
chosen or that none names the event, each condition with its operands' values
and its result, and the action or reason that ended the flow; the evaluator
agrees with the compiled module on every example's events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ppdsl
from conftest import EXAMPLES
from ppdsl.authoring import explain as x
from ppdsl.build.pipeline import compile_source
from ppdsl.cli.fast_run import parse

GREET = """\
event 1 click
event 2 view_pricing
agent alice
agent bob
group sales
field score int
segment hot = count(view_pricing) > 2

flow greet priority 5 {
  on event click -> {
    let n = count(click)
    if n > 3 and hot reply alice "many {{ n }}"
    elif n == 2 or user_fullname == "Li" {
      set score = 7
      assign group sales
      reply bob "never"
    } else end
  }
}
flow quiet {
  on event view_pricing -> switch data.plan {
    case "pro", "team" -> reply alice
    default -> end
  }
}
flow draft inactive { on event click -> reply alice "draft" }
"""
VISITOR = {"event_count_1": 1, "user_fullname": "Li", "event_count_2": 5}
AT = "2026-11-25T08:00:00Z"

CLICK_TRACE = """\
explain:
  flow greet (line 9, priority 5), 1st to run:
    line 10: rule `on event click` takes click
    line 11: let n = count(click): 2
    line 12: if n > 3 and hot: false
        n > 3: false (2 > 3)
        hot: not evaluated
    line 13: elif n == 2 or user_fullname == "Li": true
        n == 2: true (2 == 2)
        user_fullname == "Li": not evaluated
    line 14: set score = 7: 7
    line 15: assign group sales: failed
    ended at line 15: the action failed, and it has no `on failure`
  flow quiet (line 20), 2nd to run:
    no rule names click: the flow does nothing
  flow draft (line 26): inactive, never runs
"""


@pytest.fixture
def greet(tmp_path: Path) -> tuple[Path, Path]:
    flow = tmp_path / "greet.ppflow"
    flow.write_text(GREET, encoding="utf-8")
    visitor = tmp_path / "v.json"
    visitor.write_text(json.dumps(VISITOR), encoding="utf-8")
    return flow, visitor


def explainer(source: str, name: str = "t.ppflow") -> x.Explainer:
    result = compile_source(source, name)
    assert result.checked is not None and result.code is not None, result.diagnostics
    from ppdsl.build.loader import module_from_code

    return x.Explainer(result.checked, module_from_code(result.code, name))


# ----------------------------------------------------------------- the text trace


def test_the_text_trace_follows_the_summary(cli, greet):
    flow, visitor = greet
    done = cli("run", flow, "--event", "click", "--visitor", visitor, "--at", AT, "--fail", "sales", "--explain")
    assert done.returncode == 0, done.stderr
    summary, trace = done.stdout.split("explain:\n")
    assert summary.endswith("failed:\n  [greet:15] assign group sales\n")
    assert "explain:\n" + trace == CLICK_TRACE


def test_a_switch_its_cases_and_a_rule_chosen_in_a_later_flow(cli, greet):
    flow, visitor = greet
    event = '{"event_name": "view_pricing", "event_data": {"plan": "team"}}'
    done = cli("run", flow, "--event", event, "--visitor", visitor, "--at", AT, "--explain")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("explain:\n")[1] == (
        "  flow greet (line 9, priority 5), 1st to run:\n"
        "    no rule names view_pricing: the flow does nothing\n"
        "  flow quiet (line 20), 2nd to run:\n"
        "    line 21: rule `on event view_pricing` takes view_pricing\n"
        '    line 21: switch data.plan: "team"\n'
        '    line 22: case "pro", "team": true\n'
        "    line 22: reply alice: succeeded\n"
        "    ended after line 22: the rule's statement completed\n"
        "  flow draft (line 26): inactive, never runs\n"
    )
    other = '{"event_name": "view_pricing", "event_data": {"plan": "free"}}'
    done = cli("run", flow, "--event", other, "--at", AT, "--explain")
    assert '    line 22: case "pro", "team": false\n    line 23: default\n    line 23: end\n' in done.stdout
    assert "    ended at line 23: end\n" in done.stdout


def test_segments_show_their_expression_and_and_or_show_the_operand_they_give(greet):
    flow, _ = greet
    source = GREET.replace(
        'if n > 3 and hot reply alice "many {{ n }}"', 'if hot and (user_fullname or "x") reply alice'
    )
    trace = explainer(source).explain({"event_seq": 1}, {**VISITOR, "event_count_2": 3}, at=AT)
    text = x.to_text(trace.flows)
    assert (
        '    line 12: if hot and (user_fullname or "x"): true (the value is "Li")\n'
        "        hot: true\n"
        "          count(view_pricing) > 2: true (3 > 2)\n"
        '        user_fullname or "x": "Li"\n'
        '          user_fullname: "Li"\n'
        '          "x": not evaluated\n'
        "    line 12: reply alice: succeeded\n"
    ) in text


def test_values_are_shown_as_the_language_spells_them():
    from datetime import datetime, timedelta, timezone

    assert x.show(None) == "null" and x.show(True) == "true" and x.show(2.5) == "2.5"
    assert x.show('a"b') == '"a\\"b"' and x.show([1, "二"]) == '[1,"二"]'
    assert x.show(timedelta(minutes=10)) == "600s"
    assert x.show(datetime(2026, 11, 25, 8, tzinfo=timezone.utc)) == "2026-11-25T08:00:00Z"
    assert x.show("x" * 200) == '"' + "x" * 76 + "..."


def test_control_characters_in_values_never_reach_the_terminal():
    source = 'on event 1 -> if data.x == "a" reply a'
    trace = explainer(source).explain({"event_seq": 1, "event_data": {"x": "\x1b[31mred"}}, at=AT)
    text = x.to_text(trace.flows)
    assert "\x1b" not in text and "\\u001b[31mred" in text


# ----------------------------------------------------------------- --json


def test_json_has_an_explain_list_with_every_flow(cli, greet):
    flow, visitor = greet
    done = cli("run", flow, "--event", "1", "--visitor", visitor, "--at", AT, "--explain", "--json", "--fail", "sales")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert list(out) == ["event", "actions", "failed", "visitor", "explain"]
    greet_flow, quiet, draft = out["explain"]
    assert (greet_flow["flow"], greet_flow["order"], greet_flow["inactive"], greet_flow["priority"]) == (
        "greet",
        1,
        False,
        5,
    )
    assert greet_flow["rule"] == {"line": 10, "column": 3, "trigger": "on event click"}
    let, first, second, set_, assign = greet_flow["steps"]
    assert let == {"step": "let", "line": 11, "column": 5, "text": "let n = count(click)", "value": 2}
    assert first["step"] == "if" and first["result"] is False and (first["line"], first["column"]) == (12, 8)
    assert first["condition"] == {
        "expr": "n > 3 and hot",
        "value": False,
        "kind": "and",
        "operands": [
            {
                "expr": "n > 3",
                "value": False,
                "kind": "compare",
                "ops": [">"],
                "operands": [{"expr": "n", "value": 2, "kind": "value"}, {"expr": "3", "value": 3, "kind": "value"}],
            },
            {"expr": "hot", "evaluated": False},
        ],
    }
    assert second["step"] == "elif" and second["result"] is True
    assert second["condition"]["operands"][0]["operands"][0] == {"expr": "n", "value": 2, "kind": "value"}
    assert set_["action"] == {"flow": "greet", "line": 14, "type": "set", "field": "score", "value": 7}
    assert assign["outcome"] == "failed" and assign["action"] == out["failed"][0]
    assert greet_flow["end"] == {"reason": "failed", "line": 15, "action": out["failed"][0]}
    assert quiet == {
        "flow": "quiet",
        "line": 20,
        "priority": 0,
        "inactive": False,
        "order": 2,
        "event": "click",
        "rule": None,
        "steps": [],
        "end": {"reason": "no rule", "line": None},
    }
    assert draft["inactive"] is True and draft["order"] is None and draft["end"]["reason"] == "inactive"


def test_json_endings_end_and_completed(cli, greet):
    flow, _ = greet
    done = cli("run", flow, "--event", "1", "--at", AT, "--explain", "--json")  # a new visitor: n is 1, so `end`
    (greet_flow, *_) = json.loads(done.stdout)["explain"]
    assert [s["step"] for s in greet_flow["steps"]] == ["let", "if", "elif", "else", "end"]
    assert greet_flow["end"] == {"reason": "end", "line": 17}
    done = cli(
        "run", flow, "--event", '{"event_name": "view_pricing", "event_data": {"plan": "pro"}}', "--explain", "--json"
    )
    quiet = json.loads(done.stdout)["explain"][1]
    assert quiet["end"]["reason"] == "completed" and quiet["end"]["action"]["agent"] == "alice"
    assert quiet["steps"][0] == {"step": "switch", "line": 21, "column": 28, "text": "switch data.plan", "value": "pro"}
    assert quiet["steps"][1]["result"] is True


def test_times_and_durations_in_json_are_iso_text_and_seconds():
    source = "field seen datetime\non event 1 -> { let away = now - seen  if away > 1d reply a }"
    trace = explainer(source).explain({"event_seq": 1}, {"seen": "2026-11-20T08:00:00Z"}, at=AT)
    (flow,) = x.to_json(trace.flows)
    let, cond, _ = flow["steps"]
    assert let["value"] == 5 * 86400
    assert cond["condition"]["operands"][0]["value"] == 432000


# ----------------------------------------------------------------- the command around it


def test_a_rejected_event_explains_nothing(cli, greet):
    flow, _ = greet
    done = cli("run", flow, "--event", "nope", "--explain")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith('error: unknown event_name "nope"')


def test_explain_is_left_to_click_so_the_fast_path_stays_light(greet):
    flow, _ = greet
    assert parse([str(flow), "--event", "1", "--explain"]) is None
    assert parse([str(flow), "--event", "1"]) is not None


def test_without_at_both_runs_see_one_time(cli, greet):
    flow, _ = greet
    done = cli("run", flow, "--event", "1", "--explain", "--json")
    assert done.returncode == 0, done.stderr


def test_save_with_explain_saves_the_module_result(cli, greet):
    flow, visitor = greet
    done = cli("run", flow, "--event", "1", "--visitor", visitor, "--at", AT, "--save", "--explain", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(visitor.read_text(encoding="utf-8")) == json.loads(done.stdout)["visitor"]


# ----------------------------------------------------------------- the evaluator agrees with the module


def _example_events():
    for path in sorted(EXAMPLES.glob("*.test.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for case in data["cases"]:
            yield pytest.param(path.parent / data["flow"], case, id=f"{path.name[:-10]}: {case['name'][:30]}")


def _payload(event):
    if isinstance(event, dict):
        return event
    return {"event_seq": event} if isinstance(event, int) or event.isdigit() else {"event_name": event}


@pytest.mark.parametrize("flow, case", list(_example_events()))
def test_every_example_event_runs_both_ways_with_the_same_actions_and_visitor(flow, case):
    """Each event of each example case through the compiled module and through
    the evaluator separately: the same actions, failures and visitor."""
    rules = ppdsl.load(flow)
    ex = x.Explainer.for_file(str(flow), rules)
    visitor = case.get("visitor", {})
    for step in case["events"]:
        payload, fail = _payload(step["event"]), step.get("fail", [])
        at = case.get("at") or "2026-11-25T08:00:00Z"
        try:
            data = rules.handle(payload, visitor, x.failing(frozenset(fail)), at=at)
        except ValueError as exc:
            assert ex.explain(payload, visitor, at=at, fail=fail).rejected == str(exc)
            continue
        run = x._Run(ex, x.failing(frozenset(fail)) or (lambda action: None))
        mine = run.event(payload, visitor, at)
        assert mine["actions"] == data["actions"] and mine["failed"] == data["failed"]
        assert mine["visitor"] == data["visitor"] and mine["event"] == data["event"]
        # the trace's actions are the result's, in order
        steps = [s for t in run.flows for s in t.steps if s.action is not None]
        assert [s.action for s in steps if s.outcome == "success"] == data["actions"]
        assert [s.action for s in steps if s.outcome == "failed"] == data["failed"]
        explained = ex.explain(payload, visitor, at=at, fail=fail)  # compares itself, raising on a difference
        assert explained.result is not None and explained.result.data == data
        visitor = data["visitor"]


def test_a_module_that_does_something_else_is_caught():
    ex = explainer('agent a\non event 1 -> reply a "hi"')

    real = ex.module

    class Other:
        _FLOWS = real._FLOWS

        @staticmethod
        def handle(payload, visitor=None, effects=None, *, at=None):
            result = real.handle(payload, visitor, effects, at=at)
            result["actions"][0]["text"] = "bye"
            return result

    ex.module = Other()
    with pytest.raises(x.Disagreement, match="disagree"):
        ex.explain({"event_seq": 1}, at=AT)


def test_a_module_of_another_program_is_refused():
    one = explainer("on event 1 -> end")
    with pytest.raises(x.Disagreement):
        x.Explainer(one.checked, explainer("flow a { on event 1 -> end }\nflow b { on event 2 -> end }").module)


def test_effects_run_once_and_their_errors_are_kept():
    ex = explainer('agent a\nagent b\non event 1 -> { reply a "hi" on failure -> reply b "x" }')
    calls = []

    def boom(action):
        calls.append(action["agent"])
        if action["agent"] == "a":
            raise RuntimeError("offline")

    saved_failing = x.failing
    try:
        x.failing = lambda names: boom  # type: ignore[assignment]
        explained = ex.explain({"event_seq": 1}, at=AT)
    finally:
        x.failing = saved_failing
    assert calls == ["a", "b"]
    assert explained.result is not None and explained.result.failed[0]["error"] == "RuntimeError: offline"
    assert "line 3: reply a: failed (RuntimeError: offline)" in x.to_text(explained.flows)
