"""Hostile events and visitors through `handle`: any payload, visitor or `at`
is either processed or rejected with a ValueError that has a message, never
a traceback; the caller's visitor is not modified; effects that misbehave
do not break it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

import ppdsl
from hostile import T0, assert_handles, ev, short_id


RULES = """\
event 1 click uuid "u-click"
event 2 view uuid "u-view"
agent a
field score int
field when datetime
on any event -> {
  reply a "{{ data }}|{{ data.x }}|{{ user_fullname }}|{{ len(data) }}|{{ last_data(1) }}"
  if data.x * data.x * data.x * data.x > 0 ticket "{{ data.x * data.x * data.x * data.x }}"
  if ent_user_createtime < now and first_time(1) <= now and is_anonymous_user reply a "old"
  if user_web_sessions > 3 or score > 2 or when < now reply a "busy"
  set score = data.x
  set when = data.t
  set extra_field_copy = data
}
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "rules.ppflow"
    path.write_text(RULES, encoding="utf-8")
    return ppdsl.load(path, cache=False)


def nested(depth: int, leaf=1):
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"x": value}
    return value


@pytest.mark.parametrize(
    "payload",
    [
        None,
        42,
        4.5,
        True,
        "not json",
        "",
        "[]",
        "[1, 2]",
        "null",
        b"\xff\xfe",
        b"{}",
        bytearray(b"{"),
        [1],
        [],
        {},
        {"track_event": None},
        {"track_event": 5},
        {"track_event": [1]},
        {"track_event": "click"},
        {"track_event": {}},
        {"event_seq": True},
        {"event_seq": 1.0},
        {"event_seq": "1"},
        {"event_seq": 2**80},
        {"event_seq": -1},
        {"event_seq": 0},
        {"event_seq": [1]},
        {"event_name": 5},
        {"event_name": ["click"]},
        {"event_name": {"x": 1}},
        {"event_name": "\ud800"},
        {"event_name": "click\x00"},
        {"event_uuid": ""},
        {"event_uuid": {"u": 1}},
        {"event_uuid": "u-view", "event_name": "click"},
        {"event_seq": 1, "event_timestamp": True},
        {"event_seq": 1, "event_timestamp": "1000"},
        {"event_seq": 1, "event_timestamp": [1]},
        {"event_seq": 1, "event_timestamp": float("nan")},
        {"event_seq": 1, "event_timestamp": float("inf")},
        {"event_seq": 1, "event_timestamp": -float("inf")},
        {"event_seq": 1, "event_timestamp": 10**400},
        {"event_seq": 1, "event_timestamp": 1e300},
        {"event_seq": 1, "event_timestamp": -1},
        {"event_seq": 1, "event_timestamp": 2**63},
        {"event_seq": 1, "event_timestamp": T0, "event_data": float("nan")},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"x": float("inf")}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {1: 2}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {(1, 2): 2}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {1, 2}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": object()},
        {"event_seq": 1, "event_timestamp": T0, "event_data": b"bytes"},
        {"event_seq": 1, "event_timestamp": T0, "event_data": "\ud800"},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"\udfff": "\ud800" * 20000}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"x": 10**1100}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"x": 10**5000}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"x": "9" * 70000}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"x": 1e308, "t": "0001-01-01T00:00:00+01:00"}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"t": "9999-12-31T23:59:59-23:59"}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": {"t": 1e20}},
        {"event_seq": 1, "event_timestamp": T0, "event_data": nested(400)},
        {"event_seq": 1, "event_timestamp": T0, "event_data": nested(900)},
        {"event_seq": 1, "event_timestamp": T0, "event_data": nested(5000)},
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": ' + "[" * 600 + "]" * 600 + "}",
        '{"event_seq": 1, "event_timestamp": NaN}',
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": [NaN, Infinity, -Infinity]}',
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": "\\ud800"}',
        '{"event_seq": 1, "event_timestamp": 1e400}',
    ],
    ids=short_id,
)
def test_hostile_payloads_are_processed_or_rejected(rules, payload):
    assert_handles(rules, payload)


@pytest.mark.parametrize(
    "visitor",
    [
        [],
        "visitor",
        5,
        ["event_count_1"],
        {"event_count_1": "3"},
        {"event_count_1": 1.5},
        {"event_count_1": True},
        {"event_count_1": -1},
        {"event_count_1": None},
        {"event_count_1": [1]},
        {"event_count_1": {"n": 1}},
        {"event_count_1": 10**30},
        {"event_count_1": 10**1100},
        {"event_count_1": float("nan")},
        {"event_first_time_1": "garbage"},
        {"event_first_time_1": [1]},
        {"event_first_time_1": True},
        {"event_first_time_1": 1e20},
        {"event_first_time_1": -1e20},
        {"event_first_time_1": float("nan")},
        {"event_first_time_1": "nan"},
        {"event_first_time_1": "inf"},
        {"event_first_time_1": ""},
        {"event_first_time_1": "0001-01-01T00:00:00+01:00"},
        {"event_last_time_1": "9999-12-31T23:59:59-01:00"},
        {"event_last_time_1": "2026-13-45T99:00:00Z"},
        {"event_last_time_1": "\ud800"},
        {"event_last_time_1": 10**400},
        {"event_last_time_1": {"$date": 1}},
        {"event_last_data_1": {"not": "text"}},
        {"event_last_data_1": 5},
        {"user_fullname": ["x"]},
        {"user_fullname": {"a": nested(300)}},
        {"user_fullname": 10**1200},
        {"user_fullname": "\ud800"},
        {"user_fullname": None},
        {"user_fullname": float("nan")},
        {"ent_user_createtime": "0001-01-01T00:00:00+01:00"},
        {"ent_user_createtime": "9999-12-31T23:59:59-01:00"},
        {"ent_user_createtime": 1e20},
        {"ent_user_createtime": "x"},
        {"ent_user_createtime": [1]},
        {"is_anonymous_user": "yes"},
        {"user_web_sessions": "5"},
        {"user_web_sessions": 10**1200},
        {"score": "high"},
        {"score": 10**1200},
        {"when": "0001-01-01T00:00:00+05:00"},
        {"when": 1e20},
        {"event_count_2": "x", "event_count_9": "y", "event_count_": 1, "event_count_01": "z"},
        {"": 1, "\x00": 2, "\ud800": 3},
        # not JSON at all: the in-process API gets whatever the host passes
        {"user_fullname": {1, 2}},
        {"user_fullname": object()},
        {"user_fullname": b"bytes"},
        {"user_fullname": ("t", "u")},
        {"score": 1 + 2j},
        {"when": object()},
    ],
    ids=short_id,
)
def test_hostile_visitors_are_processed_or_rejected(rules, visitor):
    before = repr(visitor)
    assert_handles(rules, ev(1, {"x": 2, "t": "2026-01-01T00:00:00Z"}), visitor)
    assert repr(visitor) == before, "handle must not modify the caller's visitor"


def test_big_integer_arithmetic_never_raises(rules):
    """LANGUAGE.md section 5: evaluation never raises. A 1,100-digit number is a
    valid event; its fourth power has more digits than int -> str allows."""
    result = rules.handle(ev(1, {"x": 10**1100}))
    assert result["actions"]
    json.dumps(result)


@pytest.mark.parametrize(
    "at",
    [
        True,
        None,
        float("nan"),
        float("inf"),
        -1,
        10**400,
        "",
        "x",
        "\ud800",
        [1],
        datetime.max,
        datetime.min,
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1))),
    ],
    ids=short_id,
)
def test_hostile_at_in_process(rules, at):
    try:
        result = rules.handle({"event_seq": 1}, None, None, at=at)
    except ValueError as exc:
        assert str(exc)
    else:
        assert result["event"]["time"].endswith("Z")


def test_visitor_event_count_of_the_wrong_type_is_named(rules):
    for bad in ("3", 1.5, True, -1, [1]):
        with pytest.raises(ValueError, match="event_count_1"):
            rules.handle(ev(1), {"event_count_1": bad})


def test_effects_that_misbehave(rules):
    def boom(action):
        raise RecursionError("deep")

    class Weird:
        def __bool__(self):
            raise RuntimeError("no truth")

        def __eq__(self, other):
            raise RuntimeError("no equality")

    for effects in (boom, lambda a: Weird(), lambda a: a.clear(), lambda a: 0, lambda a: None):
        try:
            result = rules.handle(ev(1, {"x": 1}), None, effects)
        except ValueError:
            continue
        json.dumps(result)
