"""LANGUAGE.md section 4 (rules, statements, flow order, failures) and the
`effects` / `EVENTS` interface of section 9, in-process."""

from __future__ import annotations

import textwrap

import pytest

import ppdsl

T0 = 1795593600  # 2026-11-25T08:00:00Z


def load_text(tmp_path, text: str, name: str = "rules.ppflow"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return ppdsl.load(path, cache=False)


def event(seq: int, data=None, ts: float = T0) -> dict:
    inner = {"event_seq": seq, "event_timestamp": ts}
    if data is not None:
        inner["event_data"] = data
    return {"track_event": inner}


def failing(*names: str):
    """An effects callable that fails every action aimed at one of `names`."""

    def effects(action):
        return action.get("agent") not in names and action.get("group") not in names

    return effects


def texts(actions) -> list:
    return [a.get("text") for a in actions]


def flows(actions) -> list:
    return [a["flow"] for a in actions]


# ----------------------------------------------------------------- flow order


def test_flows_run_in_descending_priority_ties_in_file_order(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        flow low priority 1 { on any event -> reply a "low" }
        flow high priority 5 { on any event -> reply a "high" }
        flow plain { on any event -> reply a "plain" }
        flow high_too priority 5 { on any event -> reply a "high_too" }
        flow off priority 10 inactive { on any event -> reply a "off" }
        flow top priority 7 { on event 2 -> reply a "top" }
        flow plain_too priority 0 { on any event -> reply a "plain_too" }
        """,
    )
    result = rules.handle(event(1))
    assert texts(result["actions"]) == ["high", "high_too", "low", "plain", "plain_too"]
    assert flows(result["actions"]) == ["high", "high_too", "low", "plain", "plain_too"]
    result = rules.handle(event(2))
    assert texts(result["actions"]) == ["top", "high", "high_too", "low", "plain", "plain_too"]


def test_an_inactive_flow_never_runs(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        flow off inactive { on any event -> { set user_city = "off"  reply a "off" } }
        flow off_too priority 3 inactive { on event 1 -> reply a "off_too" }
        """,
    )
    for seq in range(1, 9):
        result = rules.handle(event(seq), {"user_city": "home"})
        assert result["actions"] == [] and result["failed"] == []
        assert result["visitor"]["user_city"] == "home"


def test_each_flow_runs_once_per_event(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        flow f {
          on event 1 -> reply a "one"
          on event 1, 2 -> reply a "one-or-two"
          on any event -> reply a "any"
        }
        """,
    )
    assert texts(rules.handle(event(1))["actions"]) == ["one"]
    assert texts(rules.handle(event(2))["actions"]) == ["one-or-two"]
    assert texts(rules.handle(event(3))["actions"]) == ["any"]


def test_first_rule_naming_the_event_wins_by_name_too(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        event 1 click
        event 2 view_pricing
        agent a
        flow f {
          on event view_pricing, 1 -> reply a "first"
          on event click -> reply a "second"
          on event * -> reply a "star"
        }
        flow g {
          on any event -> reply a "g-any"
          on event click -> reply a "g-click"
        }
        """,
    )
    one = rules.handle({"track_event": {"event_name": "click", "event_timestamp": T0}})
    assert texts(one["actions"]) == ["first", "g-any"]
    two = rules.handle({"track_event": {"event_name": "view_pricing", "event_timestamp": T0}})
    assert texts(two["actions"]) == ["first", "g-any"]


def test_a_flow_with_no_rule_for_the_event_does_nothing(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        flow f { on event 3 -> reply a "three" }
        flow g { on event 1 -> reply a "g" }
        """,
    )
    assert texts(rules.handle(event(1))["actions"]) == ["g"]
    assert rules.handle(event(2))["actions"] == []


def test_an_event_calls_only_the_flows_that_have_something_to_do_for_it(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        flow one { on event 1 -> reply a "one"  on any event -> end }
        flow two { on event 2 -> { }  on event 3 -> { end  reply a "never" }  on any event -> reply a "two" }
        flow three priority 5 { on any event -> reply a "three" }
        """,
    )
    called = {seq: [f.__name__ for f in flows] for seq, flows in rules._FLOWS_BY_EVENT.items()}
    assert called == {1: ["_flow_1", "_flow_2", "_flow_3"], 2: ["_flow_1"], 3: ["_flow_1"]} | {
        seq: ["_flow_1", "_flow_3"] for seq in range(4, 9)
    }
    assert texts(rules.handle(event(1))["actions"]) == ["three", "one", "two"]
    assert texts(rules.handle(event(2))["actions"]) == ["three"]
    assert texts(rules.handle(event(3))["actions"]) == ["three"]
    assert texts(rules.handle(event(4))["actions"]) == ["three", "two"]


def test_implicit_main_flow_takes_the_place_of_its_first_rule(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        flow first { on any event -> reply a "first" }
        on event 1 -> reply a "main-1"
        flow second { on any event -> reply a "second" }
        on event 2 -> reply a "main-2"
        on event 1, 2, 3 -> reply a "main-123"
        flow third { on any event -> reply a "third" }
        """,
    )
    result = rules.handle(event(1))
    assert texts(result["actions"]) == ["first", "main-1", "second", "third"]
    assert flows(result["actions"]) == ["first", "main", "second", "third"]
    assert texts(rules.handle(event(2))["actions"]) == ["first", "main-2", "second", "third"]
    assert texts(rules.handle(event(3))["actions"]) == ["first", "main-123", "second", "third"]
    assert texts(rules.handle(event(4))["actions"]) == ["first", "second", "third"]


def test_implicit_main_flow_first_in_file(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        on event 1 -> reply a "main"
        flow later { on any event -> reply a "later" }
        flow urgent priority 2 { on any event -> reply a "urgent" }
        """,
    )
    result = rules.handle(event(1))
    assert flows(result["actions"]) == ["urgent", "main", "later"]


def test_seed_one_liner(tmp_path):
    rules = load_text(tmp_path, "on event 1,2 -> if count(2)>8 and count(3)>8 reply agent_a else reply agent_b\n")
    hot = rules.handle(event(2), {"event_count_2": 8, "event_count_3": 9})
    assert hot["actions"] == [{"flow": "main", "line": 1, "type": "reply", "agent": "agent_a", "text": None}]
    cold = rules.handle(event(1), {"event_count_2": 8, "event_count_3": 9})
    assert cold["actions"] == [{"flow": "main", "line": 1, "type": "reply", "agent": "agent_b", "text": None}]
    assert rules.handle(event(3), {"event_count_2": 20, "event_count_3": 20})["actions"] == []


# ----------------------------------------------------------------- statements


def test_end_ends_only_its_flow(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        flow f {
          on any event -> {
            reply a "before"
            if track_event_count > 1 end
            reply a "after"
          }
        }
        flow g { on any event -> reply a "g" }
        """,
    )
    assert texts(rules.handle(event(1))["actions"]) == ["before", "after", "g"]
    assert texts(rules.handle(event(1), {"event_count_1": 1})["actions"]) == ["before", "g"]


def test_end_as_a_whole_rule(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        flow f {
          on event 3 -> end
          on any event -> reply a "f"
        }
        flow g { on any event -> reply a "g" }
        """,
    )
    assert texts(rules.handle(event(3))["actions"]) == ["g"]
    assert texts(rules.handle(event(1))["actions"]) == ["f", "g"]


def test_if_elif_else(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        on any event ->
          if track_event_seq == 1 reply a "one"
          elif track_event_seq == 2 reply a "two"
          elif track_event_seq < 5 reply a "small"
          else reply a "big"
        """,
    )
    got = [texts(rules.handle(event(s))["actions"]) for s in (1, 2, 3, 4, 5, 8)]
    assert got == [["one"], ["two"], ["small"], ["small"], ["big"], ["big"]]


def test_else_binds_to_the_nearest_if(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        on any event -> if track_event_seq < 5 if track_event_seq == 1 reply a "one" else reply a "2-4"
        """,
    )
    assert texts(rules.handle(event(1))["actions"]) == ["one"]
    assert texts(rules.handle(event(3))["actions"]) == ["2-4"]
    assert rules.handle(event(6))["actions"] == []


def test_switch_with_cases_and_default(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        on any event -> switch data.plan {
          case "pro", "enterprise" -> reply a "big"
          case "free" -> reply a "small"
          case 3 -> reply a "three"
          default -> reply a "other"
        }
        flow no_default { on any event -> switch track_event_seq { case 1 -> reply a "seq-1" } }
        """,
    )
    assert texts(rules.handle(event(1, {"plan": "pro"}))["actions"]) == ["big", "seq-1"]
    assert texts(rules.handle(event(2, {"plan": "enterprise"}))["actions"]) == ["big"]
    assert texts(rules.handle(event(2, {"plan": "free"}))["actions"]) == ["small"]
    assert texts(rules.handle(event(2, {"plan": 3}))["actions"]) == ["three"]
    assert texts(rules.handle(event(2, {"plan": "Pro"}))["actions"]) == ["other"]
    assert texts(rules.handle(event(2))["actions"]) == ["other"]


def test_set_and_let_are_visible_to_the_rest_of_the_flow_and_set_to_later_flows(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        field score int
        flow one priority 1 {
          on any event -> {
            let base = track_event_seq * 10
            set score = base + 1
            set user_city = "Paris"
            set extra_field_plan = data.plan
            reply a "{{ base }} {{ score }} {{ user_city }} {{ extra_field_plan }}"
          }
        }
        flow two { on any event -> reply a "{{ score }} {{ user_city }} {{ extra_field_plan }}" }
        """,
    )
    result = rules.handle(event(2, {"plan": "pro"}), {"user_city": "Berlin", "score": 3})
    assert result["actions"] == [
        {"flow": "one", "line": 6, "type": "set", "field": "score", "value": 21},
        {"flow": "one", "line": 7, "type": "set", "field": "user_city", "value": "Paris"},
        {"flow": "one", "line": 8, "type": "set", "field": "extra_field_plan", "value": "pro"},
        {"flow": "one", "line": 9, "type": "reply", "agent": "a", "text": "20 21 Paris pro"},
        {"flow": "two", "line": 12, "type": "reply", "agent": "a", "text": "21 Paris pro"},
    ]
    assert result["visitor"]["score"] == 21
    assert result["visitor"]["user_city"] == "Paris"
    assert result["visitor"]["extra_field_plan"] == "pro"


def test_let_is_visible_in_nested_statements(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        on any event -> {
          let n = count(1) + count(2)
          if n > 2 {
            let label = "many"
            reply a "{{ n }} {{ label }}"
          } else reply a "{{ n }}"
        }
        """,
    )
    assert texts(rules.handle(event(1), {"event_count_2": 5})["actions"]) == ["6 many"]
    assert texts(rules.handle(event(1))["actions"]) == ["1"]


def test_set_a_value_and_read_it_in_a_later_rule_of_a_later_event(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        field stage string
        on event 1 -> set stage = "warm"
        on event 2 -> reply a "stage={{ stage }}"
        """,
    )
    first = rules.handle(event(1))
    assert first["actions"] == [{"flow": "main", "line": 3, "type": "set", "field": "stage", "value": "warm"}]
    second = rules.handle(event(2), first["visitor"])
    assert texts(second["actions"]) == ["stage=warm"]


def test_convert_sets_customer_user_type(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        flow f { on any event -> convert "customer" }
        flow g { on any event -> reply a "{{ customer_user_type }}" }
        """,
    )
    result = rules.handle(event(1), {"customer_user_type": "lead"})
    assert result["actions"] == [
        {"flow": "f", "line": 2, "type": "convert", "customer_user_type": "customer"},
        {"flow": "g", "line": 3, "type": "reply", "agent": "a", "text": "customer"},
    ]
    assert result["visitor"]["customer_user_type"] == "customer"


def test_every_action_shape_and_line(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        group sales "Sales team"
        on any event -> {
          reply a
          reply a "hi"
          assign a
          assign group sales
          assign any
          ticket "follow up {{ track_event_seq }}"
          convert "vip"
          set user_city = "Oslo"
        }
        """,
    )
    result = rules.handle(event(4))
    assert result["actions"] == [
        {"flow": "main", "line": 4, "type": "reply", "agent": "a", "text": None},
        {"flow": "main", "line": 5, "type": "reply", "agent": "a", "text": "hi"},
        {"flow": "main", "line": 6, "type": "assign", "agent": "a"},
        {"flow": "main", "line": 7, "type": "assign", "group": "sales"},
        {"flow": "main", "line": 8, "type": "assign", "any": True},
        {"flow": "main", "line": 9, "type": "ticket", "text": "follow up 4"},
        {"flow": "main", "line": 10, "type": "convert", "customer_user_type": "vip"},
        {"flow": "main", "line": 11, "type": "set", "field": "user_city", "value": "Oslo"},
    ]
    assert result["failed"] == []


def test_line_is_the_line_of_the_action_keyword(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        agent b

        flow f {
          on event 1 ->
            if count(1) > 1
              reply a "again"
            else
              reply b
                "first time"
                on failure ->
                  assign any
        }
        """,
    )
    assert rules.handle(event(1), {"event_count_1": 1})["actions"][0]["line"] == 7
    first = rules.handle(event(1), None, failing("b"))
    assert first["failed"][0]["line"] == 9
    assert first["actions"] == [{"flow": "f", "line": 12, "type": "assign", "any": True}]


# ----------------------------------------------------------------- failures


FAILURES = """\
agent a
agent b
agent c
group sales
flow f priority 1 {
  on event 1 -> {
    reply a "x" on failure -> reply b "fallback"
    reply c "after"
  }
  on event 2 -> {
    reply a "x"
    reply c "after"
  }
  on event 3 -> {
    reply a "x" on failure -> { reply b "fallback" reply c "in handler" }
    reply c "after"
  }
  on event 4 -> {
    assign group sales on failure -> end
    reply c "after"
  }
  on event 5 -> {
    set user_city = "Rome"
    convert "lead"
    ticket "t" on failure -> assign any
    reply c "after"
  }
}
flow later { on any event -> reply c "later" }
"""


@pytest.fixture(scope="module")
def failures(tmp_path_factory):
    return load_text(tmp_path_factory.mktemp("failures"), FAILURES)


def test_without_failures_every_action_succeeds(failures):
    result = failures.handle(event(1))
    assert texts(result["actions"]) == ["x", "after", "later"]
    assert result["failed"] == []


def test_on_failure_runs_then_execution_goes_on_after_the_action(failures):
    result = failures.handle(event(1), None, failing("a"))
    assert result["failed"] == [{"flow": "f", "line": 7, "type": "reply", "agent": "a", "text": "x"}]
    assert texts(result["actions"]) == ["fallback", "after", "later"]
    assert [a["line"] for a in result["actions"]] == [7, 8, 29]


def test_a_block_handler_runs_whole_then_execution_goes_on(failures):
    result = failures.handle(event(3), None, failing("a"))
    assert texts(result["failed"]) == ["x"]
    assert texts(result["actions"]) == ["fallback", "in handler", "after", "later"]


def test_without_a_handler_a_failure_ends_the_flow_but_later_flows_run(failures):
    result = failures.handle(event(2), None, failing("a"))
    assert texts(result["failed"]) == ["x"]
    assert texts(result["actions"]) == ["later"]
    assert flows(result["actions"]) == ["later"]


def test_a_failing_handler_action_without_its_own_handler_ends_the_flow(failures):
    result = failures.handle(event(1), None, failing("a", "b"))
    assert texts(result["failed"]) == ["x", "fallback"]
    assert texts(result["actions"]) == ["later"]


def test_failures_in_several_flows_are_listed_in_order(failures):
    result = failures.handle(event(2), None, failing("a", "c"))
    assert [(a["flow"], a["text"]) for a in result["failed"]] == [("f", "x"), ("later", "later")]
    assert result["actions"] == []


def test_end_in_a_failure_handler_ends_the_flow(failures):
    result = failures.handle(event(4), None, failing("sales"))
    assert result["failed"] == [{"flow": "f", "line": 19, "type": "assign", "group": "sales"}]
    assert texts(result["actions"]) == ["later"]
    result = failures.handle(event(4))
    assert [a["type"] for a in result["actions"]] == ["assign", "reply", "reply"]


def test_set_and_convert_never_fail_and_never_reach_effects(failures):
    seen = []

    def effects(action):
        seen.append(action["type"])
        return False

    result = failures.handle(event(5), None, effects)
    assert [a["type"] for a in result["actions"]] == [
        "set",
        "convert",
    ]
    assert [a["type"] for a in result["failed"]] == ["ticket", "assign", "reply"]
    assert seen == ["ticket", "assign", "reply"]
    assert result["visitor"]["user_city"] == "Rome"
    assert result["visitor"]["customer_user_type"] == "lead"


def test_effects_receives_each_action_dict(failures):
    seen = []

    def effects(action):
        seen.append(dict(action))
        return True

    result = failures.handle(event(1), None, effects)
    assert seen == [
        {"flow": "f", "line": 7, "type": "reply", "agent": "a", "text": "x"},
        {"flow": "f", "line": 8, "type": "reply", "agent": "c", "text": "after"},
        {"flow": "later", "line": 29, "type": "reply", "agent": "c", "text": "later"},
    ]
    assert result["actions"] == seen


def test_effects_returning_none_is_success(failures):
    result = failures.handle(event(1), None, lambda action: None)
    assert texts(result["actions"]) == ["x", "after", "later"]
    assert result["failed"] == []


def test_effects_raising_counts_as_failure_recorded_as_error(failures):
    def effects(action):
        if action.get("agent") == "a":
            raise RuntimeError("agent a is offline")
        return True

    result = failures.handle(event(1), None, effects)
    assert len(result["failed"]) == 1
    failed = result["failed"][0]
    assert {k: failed[k] for k in ("flow", "line", "type", "agent", "text")} == {
        "flow": "f",
        "line": 7,
        "type": "reply",
        "agent": "a",
        "text": "x",
    }
    assert "error" in failed
    assert "offline" in str(failed["error"])
    assert texts(result["actions"]) == ["fallback", "after", "later"]
    assert all("error" not in a for a in result["actions"])


def test_effects_raising_without_handler_ends_the_flow_only(failures):
    def effects(action):
        raise ValueError("boom")  # even a ValueError is the host's failure, not a rejected event

    result = failures.handle(event(2), None, effects)
    assert texts(result["failed"]) == ["x", "later"]
    assert all("error" in a for a in result["failed"])
    assert result["actions"] == []
    assert result["visitor"]["event_count_2"] == 1


def test_on_failure_binds_to_the_nearest_action(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        agent b
        on any event ->
          if track_event_seq == 1
            reply a "one" on failure -> reply b "handled"
          else
            reply a "other"
        """,
    )
    assert texts(rules.handle(event(1), None, failing("a"))["actions"]) == ["handled"]
    result = rules.handle(event(2), None, failing("a"))
    assert texts(result["failed"]) == ["other"]
    assert result["actions"] == []


# ----------------------------------------------------------------- EVENTS


def test_events_dict_shape(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        event 3 signup uuid "9d8c" "Signed up"
        event 1 click uuid "6f1c" "Any click on the page"
        event 2 view_pricing
        on any event -> end
        """,
    )
    assert set(rules.EVENTS) == {1, 2, 3}
    assert rules.EVENTS[1] == {"name": "click", "uuid": "6f1c", "description": "Any click on the page"}
    assert rules.EVENTS[3] == {"name": "signup", "uuid": "9d8c", "description": "Signed up"}
    assert set(rules.EVENTS[2]) == {"name", "uuid", "description"}
    assert rules.EVENTS[2]["name"] == "view_pricing"


def test_events_is_empty_without_declarations(tmp_path):
    rules = load_text(tmp_path, "on event 1 -> end\n")
    assert rules.EVENTS == {}


def test_a_segment_is_evaluated_where_it_is_used(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        field score int
        segment high = score > 5
        flow f {
          on any event -> {
            if high reply a "high before"
            set score = 10
            if high reply a "high after"
          }
        }
        flow g { on any event -> if high reply a "high in g" }
        """,
    )
    result = rules.handle(event(1), {"score": 1})
    assert texts(result["actions"]) == [None, "high after", "high in g"]


def test_load_of_a_file_with_errors_raises_compile_error_listing_them(tmp_path):
    path = tmp_path / "bad.ppflow"
    path.write_text(
        'event 1 click\non event clik -> reply a\non event 1 -> reply a "{{ nosuchname }}"\n', encoding="utf-8"
    )
    with pytest.raises(ppdsl.CompileError) as info:
        ppdsl.load(path, cache=False)
    assert len(info.value.diagnostics) >= 2


def test_else_after_an_on_failure_handler_binds_to_the_if(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        agent b
        agent c
        on any event ->
          if track_event_seq < 5
            if track_event_seq == 1 reply a "one" on failure -> reply b "handled" else reply c "2-4"
        """,
    )
    assert texts(rules.handle(event(1))["actions"]) == ["one"]
    assert texts(rules.handle(event(1), None, failing("a"))["actions"]) == ["handled"]
    assert texts(rules.handle(event(3))["actions"]) == ["2-4"]
    assert rules.handle(event(7))["actions"] == []


def test_set_of_a_datetime_writes_iso_utc_text(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        field joined datetime
        on any event -> {
          set joined = now
          set extra_field_next = now + 90m
        }
        """,
    )
    result = rules.handle(event(1, ts=T0 + 0.5))
    assert [a["value"] for a in result["actions"]] == ["2026-11-25T08:00:00.500000Z", "2026-11-25T09:30:00.500000Z"]
    assert result["visitor"]["joined"] == "2026-11-25T08:00:00.500000Z"
    assert result["visitor"]["extra_field_next"] == "2026-11-25T09:30:00.500000Z"


ANY_TYPE = [None, True, False, "9", 9, 9.5, 8, 8.0, -1, 2**60, float("nan"), [9], {"n": 9}]


@pytest.mark.parametrize("value", ANY_TYPE, ids=repr)
def test_number_comparisons_with_values_of_any_type(tmp_path, value):
    """A visitor number against a literal takes a fast path when the value has its
    declared type; every other value compares as the null-safe helpers say: only
    numbers are ordered, and a bool is no number."""
    rules = load_text(
        tmp_path,
        """
        event 1 a
        field score int
        field ratio float
        flow f {
          on event a ->
            reply bob "{{ score >= 9 }} {{ 9.5 > ratio }} {{ count(a) > 1 }} {{ 1 < count(a) }}"
          }
        """,
    )
    ordered = type(value) in (int, float)
    result = rules.handle(event(1), {"score": value, "ratio": value})
    want = [ordered and value >= 9, ordered and 9.5 > value, False, False]
    assert result["actions"][0]["text"] == " ".join(str(w).lower() for w in want)
    result = rules.handle(event(1), result["visitor"])
    assert result["actions"][0]["text"].split()[2:] == ["true", "true"]
