"""ppdsl.compile_condition: one expression as a callable over a visitor dict,
with the language's types and null semantics."""

from __future__ import annotations

import pytest

import ppdsl

SEED = "count(2)>8 and count(3)>8"


@pytest.mark.parametrize(
    "visitor, expected",
    [
        ({"event_count_2": 9, "event_count_3": 12}, True),
        ({"event_count_2": 9, "event_count_3": 8}, False),
        ({"event_count_2": 9}, False),  # a missing count is 0
        ({}, False),
        # values of the wrong type make comparisons false, never raise
        ({"event_count_2": "9", "event_count_3": 12}, False),
        ({"event_count_2": True, "event_count_3": 12}, False),
        ({"event_count_2": None, "event_count_3": 12}, False),
        ({"event_count_2": [9], "event_count_3": 12}, False),
    ],
)
def test_the_seed_condition(visitor, expected):
    assert ppdsl.compile_condition(SEED)(visitor) is expected


def test_and_or_return_operands_as_in_python():
    greet = ppdsl.compile_condition("user_fullname or 'there'")
    assert greet({"user_fullname": "Li Lei"}) == "Li Lei"
    assert greet({}) == "there"
    assert greet({"user_fullname": ""}) == "there"


@pytest.mark.parametrize(
    "text, visitor, expected",
    [
        ("user_web_sessions + 1", {"user_web_sessions": 2}, 3),
        ("user_web_sessions + 1", {"user_web_sessions": "2"}, None),  # wrong type: arithmetic is null
        ("user_web_sessions + 1", {}, None),  # null
        ("user_web_sessions / 0", {"user_web_sessions": 2}, None),
        ("user_web_sessions == null", {}, True),
        ("user_web_sessions > 1", {}, False),
        ("extra_field_plan.tier == 'gold'", {"extra_field_plan": {"tier": "gold"}}, True),
        ("extra_field_plan.tier", {"extra_field_plan": "flat"}, None),
        ("1 < count(2) <= 8", {"event_count_2": 8}, True),
        ("1 < count(2) <= 8", {"event_count_2": 9}, False),
        ("'vip' in lower(customer_user_type)", {"customer_user_type": "VIP customer"}, True),
        ("matches(page_url, '/pricing$')", {"page_url": "https://a.b/pricing"}, True),
        ("matches(page_url, '/pricing$')", {"page_url": 5}, False),
        ("int(user_city)", {"user_city": "12"}, 12),
        ("int(user_city)", {"user_city": "x"}, None),
    ],
)
def test_types_and_null_semantics(text, visitor, expected):
    assert ppdsl.compile_condition(text)(visitor) == expected


def test_the_fast_and_the_null_safe_paths_agree():
    cond = ppdsl.compile_condition("count(2) * 2 - count(3) == 1 or user_web_sessions >= 10")
    for c2, c3, s in [(1, 1, 0), (5, 9, 3), (0, 0, 10), ("5", 9, 3), (5, True, 3), (5, 9, 10.5), (None, None, None)]:
        visitor = {"event_count_2": c2, "event_count_3": c3, "user_web_sessions": s}
        numbers_ok = all(type(x) is int for x in (c2, c3))
        expected = (numbers_ok and c2 * 2 - c3 == 1) or (type(s) in (int, float) and s >= 10)
        assert cond(visitor) is expected, visitor


def test_time_conditions_use_the_time_of_the_call():
    cond = ppdsl.compile_condition("now - last_time(2) < 10m")
    assert cond({"event_last_time_2": "2000-01-01T00:00:00Z"}) is False
    assert cond({}) is False  # null last time: the comparison is false


def test_event_names_can_be_given():
    cond = ppdsl.compile_condition("count(signup) > 0", events={"signup": 3})
    assert cond({"event_count_3": 1}) is True


def test_the_visitor_is_not_modified():
    visitor = {"event_count_2": 9, "event_count_3": 12}
    ppdsl.compile_condition(SEED)(visitor)
    assert visitor == {"event_count_2": 9, "event_count_3": 12}


@pytest.mark.parametrize(
    "text, code",
    [
        ("count(2) > '8'", "E124"),
        ("track_event_seq == 1", "E101"),
        ("count(9) > 1", "E109"),
        ("__import__('os')", "E102"),
        ("count(2) >", "E001"),
        ("matches(page_url, user_city)", "E121"),
    ],
)
def test_errors_raise_compile_error_with_diagnostics(text, code):
    with pytest.raises(ppdsl.CompileError) as info:
        ppdsl.compile_condition(text)
    assert code in [d.code for d in info.value.diagnostics]


def test_datetimes_from_python_callers_may_be_naive_or_in_any_zone():
    from datetime import datetime, timedelta, timezone

    cond = ppdsl.compile_condition("now > ent_user_createtime")
    assert cond({"ent_user_createtime": datetime(2020, 1, 1)}) is True  # naive: taken as UTC
    assert cond({"ent_user_createtime": datetime(2020, 1, 1, tzinfo=timezone(timedelta(hours=8)))}) is True


def test_an_event_name_typo_gets_a_suggestion_from_the_events_given():
    with pytest.raises(ppdsl.CompileError) as info:
        ppdsl.compile_condition("count(sigup) > 2", events={"signup": 3})
    assert info.value.diagnostics[0].help == "did you mean 'signup'?"
