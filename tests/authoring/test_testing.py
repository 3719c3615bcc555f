"""`ppdsl test` (AUTHORING.md section 2, ppdsl/authoring/testing.py): the test
file format, the matchers, the visitor carried from event to event, error
expectations, PASS/FAIL output with the explanation, -k, --json,
--junit-xml, --coverage and the exit statuses."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import ppdsl
from conftest import EXAMPLES
from ppdsl.authoring import testing as t
from ppdsl.codegen.linemap import line_map

LEAD = """\
event 1 click
event 2 view_pricing
event 3 signup
agent agent_a
agent agent_b
flow lead {
  on event click, view_pricing ->
    if count(view_pricing) > 8 and count(signup) > 8
      reply agent_a "Hi {{ user_fullname }}, shall we book a demo?"
    else
      reply agent_b "Hello!"
  on event signup -> end
}
"""

# AUTHORING.md section 2's example, for this flow
SPEC_EXAMPLE = {
    "flow": "lead_routing.ppflow",
    "cases": [
        {
            "name": "a hot lead gets Alice",
            "at": "2026-11-25T08:00:00Z",
            "visitor": {"user_fullname": "Li Lei", "event_count_2": 8, "event_count_3": 9},
            "events": [
                {
                    "event": "view_pricing",
                    "expect": {"actions": [{"type": "reply", "agent": "agent_a", "text": {"contains": "demo"}}]},
                },
                {"event": {"event_name": "click"}, "fail": ["agent_a"], "expect": {"failed": [{"agent": "agent_a"}]}},
                {"event": {"event_name": "nope"}, "expect": {"error": "unknown"}},
            ],
            "expect_visitor": {"event_count_2": 9},
        }
    ],
}

COVERED = """\
agent a
agent b
flow f {
  on event 1 ->
    if count(1) > 1
      reply a "again" on failure -> reply b
    else
      reply b "first"
  on event 2 -> switch data.x {
    case 1 -> ticket "one"
    default -> assign any
  }
  on event 3 -> end
}
"""
COVERED_CASES = {
    "cases": [
        {
            "name": "first, again with a offline, then a ticket",
            "at": "2026-11-25T08:00:00Z",
            "events": [
                {"event": 1, "expect": {"actions": [{"agent": "b", "text": "first"}]}},
                {"event": 1, "fail": ["a"], "expect": {"actions": [{"agent": "b"}], "failed": [{"agent": "a"}]}},
                {"event": {"event_seq": 2, "event_data": {"x": 1}}, "expect": {"actions": [{"type": "ticket"}]}},
            ],
        }
    ]
}


def write(folder: Path, name: str, flow: str, tests: object) -> Path:
    (folder / f"{name}.ppflow").write_text(flow, encoding="utf-8")
    path = folder / f"{name}.test.json"
    path.write_text(tests if isinstance(tests, str) else json.dumps(tests, ensure_ascii=False), encoding="utf-8")
    return path


def case(name: str, *events: dict, **more: object) -> dict:
    return {"name": name, "at": "2026-11-25T08:00:00Z", "events": list(events), **more}


@pytest.fixture
def lead(tmp_path: Path):
    """A folder with lead.ppflow, and a function that writes lead.test.json from cases."""

    def tests(*cases: dict) -> Path:
        return write(tmp_path, "lead", LEAD, {"flow": "lead.ppflow", "cases": list(cases)})

    return tests


def lines(done) -> list[str]:
    return done.stdout.splitlines()


# ----------------------------------------------------------------- the format of section 2


def test_the_example_of_the_spec_passes(cli, tmp_path: Path):
    (tmp_path / "lead_routing.ppflow").write_text(LEAD, encoding="utf-8")
    (tmp_path / "lead_routing.test.json").write_text(json.dumps(SPEC_EXAMPLE), encoding="utf-8")
    done = cli("test", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines(done)[1:] == ["PASS a hot lead gets Alice", "1 passed, 0 failed"]


def test_events_run_on_the_visitor_the_one_before_left(cli, lead):
    path = lead(
        case(
            "three views in a row",
            {"event": "view_pricing", "expect": {"visitor": {"event_count_2": 1}}},
            {"event": 2, "expect": {"visitor": {"event_count_2": 2}}},
            {"event": "nope", "expect": {"error": "unknown event_name"}},  # rejected: changes nothing
            {"event": '{"event_name": "view_pricing"}', "expect": {"event": {"seq": 2, "count": 3}}},
            expect_visitor={"event_count_2": 3, "event_count_1": {"absent": True}},
        )
    )
    done = cli("test", path)
    assert done.returncode == 0, done.stdout


def test_a_case_starts_from_its_visitor_and_fail_is_per_event(cli, lead):
    hot = {"user_fullname": "Li Lei", "event_count_2": 9, "event_count_3": 9}
    path = lead(
        case(
            "alice fails, then answers",
            {"event": "click", "fail": ["agent_a"], "expect": {"actions": [], "failed": [{"agent": "agent_a"}]}},
            {"event": "click", "expect": {"actions": [{"agent": "agent_a"}], "failed": []}},
            visitor=hot,
        )
    )
    assert cli("test", path).returncode == 0


def test_a_flow_beside_the_test_file_is_the_default_and_a_ppflow_path_finds_its_tests(cli, tmp_path: Path):
    write(tmp_path, "lead", LEAD, {"cases": [case("bob", {"event": 1, "expect": {"actions": [{"agent": "agent_b"}]}})]})
    done = cli("test", tmp_path / "lead.ppflow")
    assert done.returncode == 0 and lines(done)[-1] == "1 passed, 0 failed", done.stdout + done.stderr


def test_visitor_files_and_event_files_are_read_beside_the_test_file(cli, tmp_path: Path):
    (tmp_path / "v.json").write_text('{"event_count_2": 9, "event_count_3": 9}', encoding="utf-8")
    (tmp_path / "e.json").write_text('{"track_event": {"event_name": "click"}}', encoding="utf-8")
    write(
        tmp_path,
        "lead",
        LEAD,
        {
            "cases": [
                case("files", {"event": "@e.json", "expect": {"actions": [{"agent": "agent_a"}]}}, visitor="v.json")
            ]
        },
    )
    assert cli("test", tmp_path / "lead.test.json", cwd=EXAMPLES).returncode == 0


# ----------------------------------------------------------------- matchers


@pytest.mark.parametrize(
    "expected, present, actual, matches",
    [
        ("agent_a", True, "agent_a", True),
        ("agent_a", True, "agent_a ", False),
        (13, True, 13.0, True),
        (1, True, True, False),
        (True, True, 1, False),
        (None, True, None, True),
        (None, False, None, False),
        ({"x": [1, 2]}, True, {"x": [1, 2]}, True),
        ({"x": [1, 2]}, True, {"x": [2, 1]}, False),
        ({"contains": "demo"}, True, "book a demo?", True),
        ({"contains": "Demo"}, True, "book a demo?", False),
        ({"contains": "b"}, True, ["a", "b"], True),
        ({"contains": "demo"}, True, None, False),
        ({"matches": "^Hi .+\\?$"}, True, "Hi Li Lei, shall we book a demo?", True),
        ({"matches": "demo$"}, True, "a demo?", False),
        ({"matches": "x"}, True, 5, False),
        ({"absent": True}, False, None, True),
        ({"absent": True}, True, None, False),
        ({"absent": False}, True, None, True),
        ({"absent": False}, False, None, False),
        ({"equals": {"contains": "x"}}, True, {"contains": "x"}, True),
        ({"contains": "x", "other": 1}, True, {"contains": "x", "other": 1}, True),  # two keys: a plain object
    ],
)
def test_matchers(expected, present, actual, matches):
    assert t.match(expected, present, actual) is matches


def test_actions_match_in_order_one_expected_object_per_action():
    got = [
        {"flow": "f", "line": 3, "type": "reply", "agent": "a"},
        {"flow": "f", "line": 4, "type": "assign", "any": True},
    ]
    assert t.list_problems("actions", [{"agent": "a"}, {"any": True}], got) == []
    assert t.list_problems("actions", [{"any": True}, {"agent": "a"}], got) == [
        "actions[0].any: expected true, got nothing (the key is absent)",
        'actions[1].agent: expected "a", got nothing (the key is absent)',
    ]
    assert t.list_problems("actions", [{"agent": "a"}], got) == ["actions: expected 1 action, got 2"]
    assert t.list_problems("failed", [], got) == ["failed: expected 0 failed actions, got 2"]
    assert t.list_problems("actions", [{"line": 3, "flow": "f"}, {}], got) == []


# ----------------------------------------------------------------- PASS, FAIL and the explanation


def test_a_failure_shows_expected_got_and_the_explanation(cli, lead):
    path = lead(
        case(
            "bob answers",
            {"event": "click", "expect": {"actions": [{"agent": "agent_b", "text": {"contains": "Hello"}}]}},
        ),
        case("alice answers", {"event": "click", "expect": {"actions": [{"agent": "agent_a"}]}}),
    )
    done = cli("test", path)
    assert done.returncode == 1
    assert lines(done)[1:] == [
        "PASS bob answers",
        "FAIL alice answers",
        "  event 1 (click):",
        '    actions[0].agent: expected "agent_a", got "agent_b"',
        '    expected: {"actions": [{"agent": "agent_a"}]}',
        '    got: {"actions": [{"flow": "lead", "line": 11, "type": "reply", "agent": "agent_b", "text": "Hello!"}], '
        '"failed": []}',
        "    explanation:",
        "      flow lead (line 6), 1st to run:",
        "        line 7: rule `on event click, view_pricing` takes click",
        "        line 8: if count(view_pricing) > 8 and count(signup) > 8: false",
        "            count(view_pricing) > 8: false (0 > 8)",
        "            count(signup) > 8: not evaluated",
        "        line 11: else",
        "        line 11: reply agent_b: succeeded",
        "        ended after line 11: the rule's statement completed",
        "1 passed, 1 failed",
    ]
    assert lines(done)[0] == f"{path} (flow {path.with_name('lead.ppflow')})"


def test_error_expectations(cli, lead):
    path = lead(
        case("refused", {"event": "nope", "expect": {"error": 'unknown event_name "nope"'}}),
        case("another message", {"event": "nope", "expect": {"error": "milliseconds"}}),
        case("not refused", {"event": "click", "expect": {"error": "unknown"}}),
        case("refused unexpectedly", {"event": "nope"}),
    )
    done = cli("test", path)
    assert done.returncode == 1
    out = done.stdout
    assert "PASS refused\n" in out
    assert (
        'FAIL another message\n  event 1 (nope):\n    error: expected a message containing "milliseconds", got '
        '"unknown event_name' in out
    )
    assert "    got: rejected: unknown event_name" in out
    assert (
        'FAIL not refused\n  event 1 (click):\n    error: expected the event to be rejected ("unknown"), but it ran\n'
        in out
    )
    assert 'FAIL refused unexpectedly\n  event 1 (nope):\n    the event was rejected: unknown event_name "nope"' in out
    assert lines(done)[-1] == "1 passed, 3 failed"


def test_expect_visitor_failures_show_the_keys(cli, lead):
    path = lead(case("counts", {"event": 2}, expect_visitor={"event_count_2": 2, "user_fullname": {"absent": False}}))
    done = cli("test", path)
    assert done.returncode == 1
    assert (
        "  after the last event:\n"
        "    visitor.event_count_2: expected 2, got 1\n"
        '    visitor.user_fullname: expected {"absent": false}, got nothing (the key is absent)\n'
        '    expected visitor: {"event_count_2": 2, "user_fullname": {"absent": false}}\n'
        '    got visitor: {"event_count_2": 1}\n'
    ) in done.stdout


def test_k_runs_the_cases_whose_name_contains_the_pattern(cli, lead):
    path = lead(case("Bob says hello", {"event": 1}), case("alice", {"event": 1, "expect": {"actions": []}}))
    done = cli("test", path, "-k", "bob")
    assert done.returncode == 0
    assert lines(done)[1:] == ["PASS Bob says hello", "1 passed, 0 failed"]
    done = cli("test", path, "-k", "nobody")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "error: no case matches -k nobody\n"


def test_a_flow_with_errors_fails_its_cases(cli, tmp_path: Path):
    path = write(tmp_path, "broken", "on event 1 -> reply a {{", {"cases": [case("x", {"event": 1})]})
    done = cli("test", path)
    assert done.returncode == 1
    assert "FAIL x\n" in done.stdout and "has errors" in done.stdout
    assert "error[E001]" in done.stderr


# ----------------------------------------------------------------- exit 2: malformed files, no cases


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"cases": [1 2]}', "lead.test.json is not valid JSON: Expecting ',' delimiter: line 1 column 14 (char 13)"),
        ("[]", "lead.test.json must be a JSON object"),
        ('{"cases": []}', "lead.test.json: $.cases: has no cases"),
        ('{"cases": {}}', "lead.test.json: $.cases: must be a list of cases, got an object"),
        ('{"case": []}', "lead.test.json: $.case: unknown key; a test file takes flow, cases, description"),
        ('{"flow": "x.ppflow", "cases": [{}]}', "lead.test.json: $.flow: x.ppflow doesn't exist"),
        (
            '{"cases": [{"name": "x", "evnts": []}]}',
            "lead.test.json: $.cases[0].evnts: unknown key; a case takes name, at, visitor, events, expect_visitor, "
            "description",
        ),
        (
            '{"cases": [{"name": "x", "events": []}]}',
            "lead.test.json: $.cases[0].events: must be a non-empty list of events, got a list",
        ),
        (
            '{"cases": [{"events": [{"expect": {}}]}]}',
            'lead.test.json: $.cases[0].events[0]: an event needs "event": a name, a SEQ or a payload object',
        ),
        (
            '{"cases": [{"events": [{"event": true}]}]}',
            "lead.test.json: $.cases[0].events[0].event: must be an event name, a SEQ or a payload object, got a "
            "boolean",
        ),
        (
            '{"cases": [{"events": [{"event": 1, "fail": "a"}]}]}',
            "lead.test.json: $.cases[0].events[0].fail: must be a list of agent or group names (or ticket, any)",
        ),
        (
            '{"cases": [{"events": [{"event": 1, "expect": {"actions": {}}}]}]}',
            "lead.test.json: $.cases[0].events[0].expect.actions: must be a list of action objects, got an object",
        ),
        (
            '{"cases": [{"events": [{"event": 1, "expect": {"actions": [{"text": {"matches": "("}}]}}]}]}',
            'lead.test.json: $.cases[0].events[0].expect.actions[0].text: "matches" needs a valid regular '
            "expression: missing ), unterminated subpattern at position 0",
        ),
        (
            '{"cases": [{"events": [{"event": 1, "expect": {"failed": [{"x": {"absent": 1}}]}}]}]}',
            'lead.test.json: $.cases[0].events[0].expect.failed[0].x: "absent" takes true or false, got a number',
        ),
        (
            '{"cases": [{"events": [{"event": 1, "expect": {"error": 1}}]}]}',
            "lead.test.json: $.cases[0].events[0].expect.error: must be a string: a part of the rejection message",
        ),
        (
            '{"cases": [{"events": [{"event": 1, "expect": {"error": "x", "actions": []}}]}]}',
            "lead.test.json: $.cases[0].events[0].expect.actions: a rejected event has no actions, event or visitor "
            "to expect",
        ),
        (
            '{"cases": [{"events": [{"event": 1, "expect": {"action": []}}]}]}',
            "lead.test.json: $.cases[0].events[0].expect.action: unknown key; expect takes actions, failed, error, "
            "event, visitor",
        ),
        (
            '{"cases": [{"at": "yesterday", "events": [{"event": 1}]}]}',
            "lead.test.json: $.cases[0].at: the event time must be seconds since the epoch or an ISO-8601 time, got "
            '"yesterday"',
        ),
        (
            '{"cases": [{"visitor": [], "events": [{"event": 1}]}]}',
            "lead.test.json: $.cases[0].visitor: must be a JSON object of PPMessage variables (or a file name), got "
            "a list",
        ),
        (
            '{"cases": [{"events": [{"event": 1}], "expect_visitor": []}]}',
            "lead.test.json: $.cases[0].expect_visitor: expect_visitor must be a JSON object, got a list",
        ),
        (
            '{"cases": [{"events": [{"event": 1, "x": 2}]}]}',
            "lead.test.json: $.cases[0].events[0].x: unknown key; an event takes event, fail, at, expect",
        ),
    ],
)
def test_a_malformed_test_file_exits_2_naming_the_file_and_the_json_path(cli, tmp_path: Path, content, message):
    write(tmp_path, "lead", LEAD, content)
    done = cli("test", "lead.test.json", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"error: {message}\n"


def test_every_malformed_file_is_reported_and_nothing_runs(cli, tmp_path: Path):
    write(tmp_path, "a", LEAD, '{"cases": []}')
    write(tmp_path, "b", LEAD, '{"cases": [{"events": [{"event": 1}]}]}')
    write(tmp_path, "c", LEAD, "{")
    done = cli("test", ".", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: a.test.json: $.cases: has no cases",
        "error: c.test.json is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 "
        "(char 1)",
    ]


def test_no_test_files_or_a_missing_path_exit_2(cli, tmp_path: Path):
    done = cli("test", tmp_path)
    assert done.returncode == 2 and done.stderr == f"error: no .test.json files in {tmp_path}\n"
    done = cli("test", "nowhere", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr == "error: nowhere: no such file or folder\n"
    (tmp_path / "lonely.ppflow").write_text(LEAD, encoding="utf-8")
    done = cli("test", "lonely.ppflow", cwd=tmp_path)
    assert (
        done.returncode == 2 and done.stderr == "error: lonely.ppflow: no test file for it: expected lonely.test.json\n"
    )


def test_a_folder_is_searched_below_but_not_in_hidden_folders(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for folder in (tmp_path, tmp_path / "sub", tmp_path / ".hidden"):
        (folder / "a.test.json").write_text("{}", encoding="utf-8")
    assert t.find_test_files([str(tmp_path)]) == [tmp_path / "a.test.json", tmp_path / "sub" / "a.test.json"]


# ----------------------------------------------------------------- --json and --junit-xml


def test_json_output(cli, lead):
    path = lead(case("bob", {"event": 1}), case("alice", {"event": 1, "expect": {"actions": [{"agent": "agent_a"}]}}))
    done = cli("test", path, "--json")
    assert done.returncode == 1
    out = json.loads(done.stdout)
    assert (out["passed"], out["failed"]) == (1, 1) and "coverage" not in out
    (f,) = out["files"]
    assert f["file"].endswith("lead.test.json") and f["flow"].endswith("lead.ppflow") and f["errors"] == []
    bob, alice = f["cases"]
    assert bob["name"] == "bob" and bob["passed"] is True and bob["problems"] == []
    assert alice["problems"] == ['event 1: actions[0].agent: expected "agent_a", got "agent_b"']
    (event,) = alice["events"]
    assert event["event"] == 1 and event["passed"] is False and event["rejected"] is None
    assert event["result"]["actions"][0]["agent"] == "agent_b"
    assert event["explain"][0]["rule"]["trigger"] == "on event click, view_pricing"
    assert alice["visitor"]["event_count_1"] == 1
    assert json.loads(cli("test", path, "--json", "--coverage").stdout)["coverage"][0]["total"] == 8


def test_junit_xml(cli, lead, tmp_path: Path):
    path = lead(
        case("bob", {"event": 1}),
        case("alice <&>", {"event": 1, "expect": {"actions": [{"agent": "agent_a"}]}}),
    )
    report = tmp_path / "out" / "junit.xml"
    report.parent.mkdir()
    done = cli("test", path, "--junit-xml", report)
    assert done.returncode == 1 and lines(done)[-1] == "1 passed, 1 failed"
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites" and (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "0")
    (suite,) = root
    assert suite.tag == "testsuite" and suite.get("name", "").endswith("lead.test.json")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "1", "0")
    bob, alice = suite
    assert bob.get("name") == "bob" and len(bob) == 0 and float(bob.get("time", "x")) >= 0
    assert alice.get("name") == "alice <&>" and alice.get("classname", "").endswith("lead")
    (failure,) = alice
    assert failure.tag == "failure" and failure.get("type") == "AssertionError"
    assert failure.get("message") == 'event 1: actions[0].agent: expected "agent_a", got "agent_b"'
    assert "explanation:" in (failure.text or "") and "line 11: reply agent_b: succeeded" in (failure.text or "")


def test_junit_xml_reports_a_flow_with_errors_as_an_error(cli, tmp_path: Path):
    path = write(tmp_path, "broken", "on event 1 -> reply a {{", {"cases": [case("x", {"event": 1})]})
    cli("test", path, "--junit-xml", tmp_path / "j.xml")
    root = ET.parse(tmp_path / "j.xml").getroot()
    assert (root.get("failures"), root.get("errors")) == ("0", "1")
    (error,) = root[0][0]
    assert error.tag == "error" and error.get("type") == "CompileError" and "E001" in (error.text or "")


# ----------------------------------------------------------------- --coverage


def test_coverage_counts_and_lists_every_untaken_branch(cli, tmp_path: Path):
    path = write(tmp_path, "cov", COVERED, COVERED_CASES)
    done = cli("test", path, "--coverage")
    assert done.returncode == 0, done.stdout
    text = done.stdout.split("PASS first, again with a offline, then a ticket\n")[1]
    assert text == (
        f"coverage of {path.with_name('cov.ppflow')}: 9 of 17 branches taken\n"
        "  rules: 2 of 3\n"
        "  if/elif/else arms and switch cases: 3 of 4\n"
        "  reply/assign/ticket outcomes (success and failure): 4 of 10\n"
        "  not taken:\n"
        "    line 6:7  reply a: success\n"
        "    line 6:37  reply b: failure\n"
        "    line 8:7  reply b: failure\n"
        '    line 10:15  ticket "one": failure\n'
        "    line 11:16  default\n"
        "    line 11:16  assign any: success\n"
        "    line 11:16  assign any: failure\n"
        "    line 13:3  rule `on event 3`\n"
        "1 passed, 0 failed\n"
    )


def test_coverage_json_counts_each_branch(cli, tmp_path: Path):
    path = write(tmp_path, "cov", COVERED, COVERED_CASES)
    (cov,) = json.loads(cli("test", path, "--coverage", "--json").stdout)["coverage"]
    assert (cov["taken"], cov["total"]) == (9, 17)
    assert cov["rules"] == {"taken": 2, "total": 3}
    assert cov["arms"] == {"taken": 3, "total": 4}
    assert cov["outcomes"] == {"taken": 4, "total": 10}
    counts = {(b["line"], b["column"], b["kind"], b["outcome"]): b["count"] for b in cov["branches"]}
    assert counts[(4, 3, "rule", "taken")] == 2  # both events 1
    assert counts[(5, 8, "if", "taken")] == 1 and counts[(8, 7, "else", "taken")] == 1
    assert counts[(10, 5, "case", "taken")] == 1 and counts[(11, 16, "default", "taken")] == 0
    assert counts[(6, 7, "action", "failed")] == 1 and counts[(6, 37, "action", "success")] == 1
    assert counts[(8, 7, "action", "success")] == 1 and counts[(10, 15, "action", "success")] == 1
    assert [(b["line"], b["text"]) for b in cov["untaken"]][-1] == (13, "rule `on event 3`")


def test_coverage_branches_are_the_line_maps(tmp_path: Path):
    """Every rule, arm and case origin of the compiled module is a branch, and
    every reply/assign/ticket origin two; nothing else is."""
    flow = tmp_path / "cov.ppflow"
    flow.write_text(COVERED, encoding="utf-8")
    rules = ppdsl.load(flow)
    arms = {
        (o.source_line, o.source_col, o.kind)
        for o in line_map(rules)
        if o.kind in ("rule", "if", "elif", "else", "case", "default")
    }
    failing = {(o.source_line, o.source_col) for o in line_map(rules) if o.kind == "failed"}
    test = t.read_test_file(write(tmp_path, "cov", COVERED, COVERED_CASES))
    (cov,) = t.run_tests([test]).coverage
    assert {(i.line, i.col, i.kind) for i in cov.items if i.kind != "action"} == arms
    outcomes = {(i.line, i.col) for i in cov.items if i.kind == "action"}
    assert failing <= outcomes and len(outcomes) == 5  # the reply with `on failure` has no `failed` line


def test_inactive_flows_and_unreachable_rules_have_no_branches(tmp_path: Path):
    source = (
        "agent a\nflow on1 { on event 1 -> reply a\n on event 1 -> end }\nflow off inactive { on event 1 -> reply a }\n"
    )
    test = t.read_test_file(write(tmp_path, "x", source, {"cases": [case("x", {"event": 1})]}))
    (cov,) = t.run_tests([test]).coverage
    assert [(i.line, i.kind, i.outcome) for i in cov.items] == [
        (2, "rule", "taken"),
        (2, "action", "success"),
        (2, "action", "failed"),
    ]


def test_the_examples_pass(cli):
    done = cli("test", EXAMPLES, "--coverage")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout and " passed, 0 failed" in lines(done)[-1]
    assert "coverage of " in done.stdout
