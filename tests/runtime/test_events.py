"""LANGUAGE.md section 6: how one tracked event is resolved, validated and
counted. Expected values come from the spec, not from the implementation."""

from __future__ import annotations

import copy
import json
import textwrap
import time
from datetime import datetime, timezone

import pytest

import ppdsl

T0 = 1795593600  # 2026-11-25T08:00:00Z
T0_ISO = "2026-11-25T08:00:00Z"
LIMIT = 64 * 1024

DECLARED = """\
event 1 click        uuid "u-click" "Any click on the page"
event 2 view_pricing uuid "u-pricing"
event 3 signup       uuid "u-signup"
agent a
flow f {
  on any event -> reply a "{{ track_event_seq }}|{{ track_event_uuid }}|{{ track_event_count }}|\
{{ exists(track_event_data) }}|{{ track_event_data }}"
}
"""

UNDECLARED = """\
on any event -> reply a "{{ track_event_seq }}|{{ track_event_count }}"
"""


def load_text(tmp_path, text: str, name: str = "rules.ppflow"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return ppdsl.load(path, cache=False)


@pytest.fixture(scope="module")
def declared(tmp_path_factory):
    return load_text(tmp_path_factory.mktemp("declared"), DECLARED)


@pytest.fixture(scope="module")
def undeclared(tmp_path_factory):
    return load_text(tmp_path_factory.mktemp("undeclared"), UNDECLARED)


def iso(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, timezone.utc).replace(tzinfo=None)
    return dt.isoformat() + "Z"


def wrap(**fields):
    return {"track_event": fields}


# ----------------------------------------------------------------- resolution


@pytest.mark.parametrize("wrapped", [True, False], ids=["track_event", "bare"])
@pytest.mark.parametrize(
    "ident,seq,name,uuid",
    [
        ({"event_uuid": "u-pricing"}, 2, "view_pricing", "u-pricing"),
        ({"event_name": "signup"}, 3, "signup", "u-signup"),
        ({"event_seq": 1}, 1, "click", "u-click"),
        ({"event_uuid": "u-click", "event_name": "click"}, 1, "click", "u-click"),
        ({"event_uuid": "u-click", "event_name": "click", "event_seq": 1}, 1, "click", "u-click"),
        ({"event_name": "view_pricing", "event_seq": 2}, 2, "view_pricing", "u-pricing"),
    ],
)
def test_event_is_resolved_by_uuid_name_or_seq(declared, wrapped, ident, seq, name, uuid):
    inner = {**ident, "event_timestamp": T0}
    result = declared.handle(wrap(**inner) if wrapped else inner)
    assert result["event"] == {"seq": seq, "name": name, "uuid": uuid, "count": 1, "time": T0_ISO}
    assert result["actions"][0]["text"].startswith(f"{seq}|{uuid}|1|")


@pytest.mark.parametrize(
    "ident",
    [
        {"event_uuid": "u-click", "event_name": "signup"},
        {"event_uuid": "u-click", "event_seq": 2},
        {"event_name": "click", "event_seq": 3},
        {"event_uuid": "u-click", "event_name": "click", "event_seq": 2},
    ],
    ids=["uuid-name", "uuid-seq", "name-seq", "uuid-name-seq"],
)
@pytest.mark.parametrize("wrapped", [True, False], ids=["track_event", "bare"])
def test_identifiers_of_different_events_are_rejected(declared, ident, wrapped):
    inner = {**ident, "event_timestamp": T0}
    with pytest.raises(ValueError):
        declared.handle(wrap(**inner) if wrapped else inner)


@pytest.mark.parametrize(
    "ident",
    [
        {"event_uuid": "no-such-uuid"},
        {"event_name": "no_such_event"},
        {"event_name": "Click"},
        {"event_seq": 4},
        {"event_seq": 0},
        {"event_seq": 9},
        {"event_seq": "1"},
        {"event_seq": True},
        {},
    ],
    ids=["uuid", "name", "name-case", "seq-undeclared", "seq-0", "seq-9", "seq-string", "seq-bool", "nothing"],
)
def test_unknown_events_are_rejected(declared, ident):
    with pytest.raises(ValueError):
        declared.handle(wrap(**ident, event_timestamp=T0))


@pytest.mark.parametrize("seq", range(1, 9))
def test_file_without_declarations_accepts_seq_1_to_8(undeclared, seq):
    result = undeclared.handle(wrap(event_seq=seq, event_timestamp=T0))
    assert result["event"]["seq"] == seq
    assert result["event"]["count"] == 1
    assert result["actions"][0]["text"] == f"{seq}|1"
    assert result["visitor"][f"event_count_{seq}"] == 1


@pytest.mark.parametrize(
    "ident",
    [
        {"event_seq": 0},
        {"event_seq": 9},
        {"event_seq": -1},
        {"event_seq": "2"},
        {"event_name": "click"},
        {"event_uuid": "u-click"},
        {},
    ],
    ids=["seq-0", "seq-9", "seq-neg", "seq-string", "name", "uuid", "nothing"],
)
def test_file_without_declarations_rejects_everything_but_seq(undeclared, ident):
    with pytest.raises(ValueError):
        undeclared.handle(wrap(**ident, event_timestamp=T0))


# ----------------------------------------------------------------- event_data


def compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize(
    "data",
    [
        {"plan": "pro", "seats": [1, 2.5, None, True]},
        [1, "two", {"three": 3}],
        "just text",
        "Grüße, 你好",
        42,
        -1.5,
        True,
        False,
        {},
        [],
        "",
    ],
    ids=lambda d: type(d).__name__ + ":" + json.dumps(d)[:12],
)
def test_event_data_may_be_any_json_value(declared, data):
    result = declared.handle(wrap(event_name="click", event_data=data, event_timestamp=T0))
    text = compact(data)
    assert result["actions"][0]["text"] == f"1|u-click|1|true|{text}"
    assert result["visitor"]["event_last_data_1"] == text


@pytest.mark.parametrize("explicit_null", [False, True], ids=["absent", "null"])
def test_absent_event_data_is_null_not_the_text_null(declared, explicit_null):
    inner = {"event_name": "click", "event_timestamp": T0 + 60}
    if explicit_null:
        inner["event_data"] = None
    visitor = {
        "event_count_1": 1,
        "event_first_time_1": T0_ISO,
        "event_last_time_1": T0_ISO,
        "event_last_data_1": '{"old":1}',
    }
    result = declared.handle(wrap(**inner), visitor)
    # exists(track_event_data) is false and the template prints null as nothing
    assert result["actions"][0]["text"] == "1|u-click|2|false|"
    assert "event_last_data_1" in result["visitor"]
    assert result["visitor"]["event_last_data_1"] is None


def test_absent_event_data_on_a_fresh_visitor_gives_null_last_data(declared):
    result = declared.handle(wrap(event_name="click", event_timestamp=T0))
    assert result["visitor"].get("event_last_data_1") is None
    assert result["visitor"].get("event_last_data_1") != "null"


def string_of_bytes(total: int, unit: str = "a") -> str:
    """A JSON string value whose compact JSON text is `total` UTF-8 bytes."""
    body = total - 2  # the two quotes
    width = len(unit.encode("utf-8"))
    n, rest = divmod(body, width)
    return unit * n + "a" * rest


@pytest.mark.parametrize("unit", ["a", "é", "你", "😀"], ids=["ascii", "2-byte", "3-byte", "4-byte"])
def test_event_data_limit_is_64_kib_of_utf8(declared, unit):
    ok = string_of_bytes(LIMIT, unit)
    assert len(compact(ok).encode("utf-8")) == LIMIT
    result = declared.handle(wrap(event_name="click", event_data=ok, event_timestamp=T0))
    assert result["visitor"]["event_last_data_1"] == compact(ok)

    too_big = ok + "a"
    assert len(compact(too_big).encode("utf-8")) == LIMIT + 1
    with pytest.raises(ValueError):
        declared.handle(wrap(event_name="click", event_data=too_big, event_timestamp=T0))


def test_multibyte_characters_count_as_bytes_not_characters(declared):
    # 30000 characters, 90002 bytes: under the limit in characters, over it in bytes
    data = "你" * 30000
    assert len(compact(data)) < LIMIT < len(compact(data).encode("utf-8"))
    with pytest.raises(ValueError):
        declared.handle(wrap(event_name="click", event_data=data, event_timestamp=T0))


def test_event_data_limit_is_measured_on_the_compact_text(declared):
    # {"k":"aaa..."} is exactly 65536 bytes compact; json.dumps with its default
    # separators would add a space and make it 65537
    value = {"k": "a" * (LIMIT - 8)}
    assert len(compact(value).encode("utf-8")) == LIMIT
    assert len(json.dumps(value).encode("utf-8")) == LIMIT + 1
    result = declared.handle(wrap(event_name="click", event_data=value, event_timestamp=T0))
    assert result["visitor"]["event_last_data_1"] == compact(value)

    nested = [{"k": "a" * (LIMIT - 10)}]  # [{"k":"..."}] = n + 10 bytes
    assert len(compact(nested).encode("utf-8")) == LIMIT
    declared.handle(wrap(event_name="click", event_data=nested, event_timestamp=T0))
    nested[0]["k"] += "a"
    with pytest.raises(ValueError):
        declared.handle(wrap(event_name="click", event_data=nested, event_timestamp=T0))


# ----------------------------------------------------------------- event_timestamp


@pytest.mark.parametrize(
    "ts,expected",
    [
        (T0, T0_ISO),
        (0, "1970-01-01T00:00:00Z"),
        (T0 + 0.25, "2026-11-25T08:00:00.250000Z"),
        (float(T0), T0_ISO),
        (10**11 - 1, iso(10**11 - 1)),
    ],
)
def test_event_timestamp_int_or_float(declared, ts, expected):
    result = declared.handle(wrap(event_name="click", event_timestamp=ts))
    assert result["event"]["time"] == expected
    assert result["visitor"]["event_first_time_1"] == expected
    assert result["visitor"]["event_last_time_1"] == expected


def test_absent_event_timestamp_is_the_time_of_processing(declared):
    before = time.time()
    result = declared.handle(wrap(event_name="click"))
    after = time.time()
    text = result["event"]["time"]
    assert text.endswith("Z")
    when = datetime.fromisoformat(text[:-1]).replace(tzinfo=timezone.utc).timestamp()
    assert before - 1 <= when <= after + 1


@pytest.mark.parametrize(
    "ts,words",
    [
        (-1, ["negative"]),
        (-0.5, ["negative"]),
        ("1795593600", ["number"]),
        ("2026-11-25T08:00:00Z", ["number"]),
        (True, ["number"]),
        ([T0], ["number"]),
        ({"seconds": T0}, ["number"]),
        (10**11, ["millisecond"]),
        (1e11, ["millisecond"]),
        (T0 * 1000, ["millisecond"]),
    ],
)
def test_bad_event_timestamp_is_rejected_with_a_message_that_says_which(declared, ts, words):
    with pytest.raises(ValueError) as info:
        declared.handle(wrap(event_name="click", event_timestamp=ts))
    message = str(info.value).lower()
    assert "event_timestamp" in message
    for word in words:
        assert word in message, message


# ----------------------------------------------------------------- statistics


def test_first_event_of_a_fresh_visitor(declared):
    result = declared.handle(wrap(event_name="view_pricing", event_data={"plan": "pro"}, event_timestamp=T0))
    assert result["visitor"] == {
        "event_count_2": 1,
        "event_first_time_2": T0_ISO,
        "event_last_time_2": T0_ISO,
        "event_last_data_2": '{"plan":"pro"}',
    }
    assert result["event"]["count"] == 1


OLD = {
    "user_fullname": "Li Lei",
    "event_count_2": 8,
    "event_first_time_2": "2026-11-20T08:00:00Z",
    "event_last_time_2": "2026-11-24T17:30:00Z",
    "event_last_data_2": '{"plan":"free"}',
    "event_count_3": 9,
    "event_first_time_3": "2026-11-21T09:00:00Z",
    "event_last_time_3": "2026-11-24T18:00:00Z",
}


def test_a_later_event_moves_last_time_and_last_data(declared):
    result = declared.handle(wrap(event_name="view_pricing", event_data={"plan": "pro"}, event_timestamp=T0), OLD)
    assert result["visitor"] == {
        **OLD,
        "event_count_2": 9,
        "event_last_time_2": T0_ISO,
        "event_last_data_2": '{"plan":"pro"}',
    }
    assert result["event"]["count"] == 9
    assert result["actions"][0]["text"] == '2|u-pricing|9|true|{"plan":"pro"}'


def test_an_event_earlier_than_the_first_moves_only_first_time_and_count(declared):
    early = datetime(2026, 11, 1, 12, 30, tzinfo=timezone.utc).timestamp()
    result = declared.handle(wrap(event_name="view_pricing", event_data={"plan": "old"}, event_timestamp=early), OLD)
    assert result["visitor"] == {**OLD, "event_count_2": 9, "event_first_time_2": "2026-11-01T12:30:00Z"}
    assert result["event"]["count"] == 9
    assert result["event"]["time"] == "2026-11-01T12:30:00Z"


def test_an_event_between_first_and_last_changes_only_the_count(declared):
    middle = datetime(2026, 11, 22, tzinfo=timezone.utc).timestamp()
    result = declared.handle(wrap(event_name="view_pricing", event_data={"plan": "mid"}, event_timestamp=middle), OLD)
    assert result["visitor"] == {**OLD, "event_count_2": 9}


def test_an_event_at_the_same_time_as_the_last_replaces_last_data(declared):
    same = datetime(2026, 11, 24, 17, 30, tzinfo=timezone.utc).timestamp()
    result = declared.handle(wrap(event_name="view_pricing", event_data={"plan": "same"}, event_timestamp=same), OLD)
    assert result["visitor"]["event_count_2"] == 9
    assert result["visitor"]["event_first_time_2"] == OLD["event_first_time_2"]
    assert result["visitor"]["event_last_data_2"] == '{"plan":"same"}'
    last = result["visitor"]["event_last_time_2"]
    assert last == "2026-11-24T17:30:00Z"


def test_stored_times_may_be_epoch_seconds(declared):
    visitor = {
        "event_count_1": 2,
        "event_first_time_1": T0 - 100,
        "event_last_time_1": T0 - 50,
        "event_last_data_1": '"x"',
    }
    later = declared.handle(wrap(event_name="click", event_data="y", event_timestamp=T0), visitor)
    assert later["visitor"]["event_count_1"] == 3
    assert later["visitor"]["event_last_time_1"] == T0_ISO
    assert later["visitor"]["event_last_data_1"] == '"y"'
    earlier = declared.handle(wrap(event_name="click", event_data="z", event_timestamp=T0 - 200), visitor)
    assert earlier["visitor"]["event_first_time_1"] == iso(T0 - 200)
    assert earlier["visitor"]["event_last_data_1"] == '"x"'


def test_other_events_statistics_are_left_alone_and_not_zero_filled(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        on event 1 -> reply a "{{ count(2) }} {{ count(5) }} {{ event_count_7 }}"
        """,
    )
    result = rules.handle(wrap(event_seq=1, event_timestamp=T0), {"event_count_2": 4})
    assert result["actions"][0]["text"] == "4 0 0"
    keys = set(result["visitor"])
    assert {"event_count_2", "event_count_1", "event_first_time_1", "event_last_time_1"} <= keys
    assert keys <= {"event_count_2", "event_count_1", "event_first_time_1", "event_last_time_1", "event_last_data_1"}
    assert result["visitor"]["event_count_2"] == 4


def test_statistics_are_updated_before_the_flows_run(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        event 1 click
        agent a
        on event click ->
          reply a "{{ count(click) }} {{ track_event_count }} {{ last_time(click) }} {{ last_data(click) }}"
        """,
    )
    result = rules.handle(wrap(event_name="click", event_data=[1], event_timestamp=T0), {"event_count_1": 2})
    assert result["actions"][0]["text"] == f"3 3 {T0_ISO} [1]"


# ----------------------------------------------------------------- rejection and the caller's dict


BAD_EVENTS = [
    wrap(event_name="nope", event_timestamp=T0),
    wrap(event_uuid="u-click", event_name="signup", event_timestamp=T0),
    wrap(event_name="click", event_timestamp=-5),
    wrap(event_name="click", event_timestamp=T0 * 1000),
    wrap(event_name="click", event_timestamp="soon"),
    wrap(event_name="click", event_data="x" * LIMIT, event_timestamp=T0),
    wrap(event_seq=12, event_timestamp=T0),
]


@pytest.mark.parametrize("payload", BAD_EVENTS, ids=range(len(BAD_EVENTS)))
def test_a_rejected_event_raises_value_error_and_leaves_the_visitor_alone(declared, payload):
    visitor = copy.deepcopy(OLD)
    visitor["extra_field_tags"] = {"nested": [1, 2]}
    snapshot = copy.deepcopy(visitor)
    with pytest.raises(ValueError) as info:
        declared.handle(payload, visitor)
    assert str(info.value)
    assert visitor == snapshot


def test_handle_never_modifies_the_visitor_argument(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        event 2 view_pricing
        agent a
        field score int
        on event view_pricing -> {
          set score = 5
          set user_fullname = "Changed"
          set extra_field_tags = data
          convert "customer"
          reply a "{{ user_fullname }}"
        }
        """,
    )
    visitor = copy.deepcopy(OLD)
    visitor["extra_field_tags"] = {"nested": [1, 2]}
    visitor["score"] = 1
    snapshot = copy.deepcopy(visitor)
    result = rules.handle(wrap(event_name="view_pricing", event_data={"x": [1]}, event_timestamp=T0), visitor)
    assert visitor == snapshot
    assert result["visitor"] is not visitor
    assert result["visitor"]["score"] == 5
    assert result["visitor"]["user_fullname"] == "Changed"
    assert result["visitor"]["customer_user_type"] == "customer"
    assert result["visitor"]["extra_field_tags"] == {"x": [1]}
    assert result["visitor"]["event_count_2"] == 9
    assert result["actions"][-1]["text"] == "Changed"


def test_visitor_none_is_an_empty_visitor(declared):
    result = declared.handle(wrap(event_name="click", event_timestamp=T0), None)
    assert result["visitor"]["event_count_1"] == 1


def test_visitor_times_given_as_epoch_seconds_come_back_as_iso(tmp_path):
    """LANGUAGE.md §7: "Datetimes are ISO-8601 UTC with `Z` (`2026-11-25T08:00:00Z`
    ...); input datetimes may be ISO-8601 or epoch seconds."  The current event's
    `event_first_time_N`, read and compared during the update, is echoed in the
    output visitor as the input number when it didn't move."""
    rules = load_text(tmp_path, "on event 1 -> end\n")
    visitor = {"event_count_1": 2, "event_first_time_1": T0 - 3600, "event_last_time_1": T0 - 60}
    out = rules.handle({"event_seq": 1, "event_timestamp": T0}, visitor)["visitor"]
    assert out["event_last_time_1"] == "2026-11-25T08:00:00Z"
    assert out["event_first_time_1"] == "2026-11-25T07:00:00Z"


# ----------------------------------------------------------------- hardening: numbers and times


TIMES = """\
event 1 click
agent a
flow f {
  on event click -> reply a "{{ last_time(click) }}|{{ first_time(click) }}|{{ now > extra_field_t }}|\
{{ now - extra_field_t }}|{{ extra_field_big }}"
}
"""


@pytest.fixture(scope="module")
def times(tmp_path_factory):
    return load_text(tmp_path_factory.mktemp("times"), TIMES)


@pytest.mark.parametrize("count", [2**53, -1, 10**4299])
def test_a_count_outside_0_to_2_53_rejects_the_event_with_a_message(declared, count):
    with pytest.raises(ValueError, match=r"event_count_1 must be a whole number from 0 to 2\^53 - 1"):
        declared.handle(wrap(event_seq=1), {"event_count_1": count})


def test_the_largest_count_is_accepted(declared):
    assert declared.handle(wrap(event_seq=1), {"event_count_1": 2**53 - 2})["event"]["count"] == 2**53 - 1


def test_a_huge_number_prints_in_a_template(times):
    big = 10**5000 + 7  # more digits than Python 3.11+ converts to text at once
    text = times.handle(wrap(event_seq=1, event_timestamp=T0), {"extra_field_big": big})["actions"][0]["text"]
    assert text.endswith("|1" + "0" * 4999 + "7")


def test_a_naive_datetime_is_utc_everywhere(times):
    naive = datetime(2026, 11, 25, 7, 0)  # an hour before T0, in UTC
    result = times.handle(wrap(event_seq=1, event_timestamp=T0), {"extra_field_t": naive, "event_first_time_1": naive})
    assert result["actions"][0]["text"].split("|")[1:4] == ["2026-11-25T07:00:00Z", "true", "3600s"]
    assert result["visitor"]["event_first_time_1"] == "2026-11-25T07:00:00Z"


@pytest.mark.parametrize(
    ("stored", "canonical"),
    [
        ("2026-11-24T17:30:00.5Z", "2026-11-24T17:30:00.500000Z"),
        ("2026-11-24T17:30:00.123456789Z", "2026-11-24T17:30:00.123456Z"),  # Go and Java fractions: truncated
        ("2026-11-25T01:30:00+08:00", "2026-11-24T17:30:00Z"),
        ("2026-11-24T17:30", "2026-11-24T17:30:00Z"),  # no zone: UTC
        ("2026-11-24 17:30:00,25z", "2026-11-24T17:30:00.250000Z"),
        (1795541400, "2026-11-24T17:30:00Z"),
        ("1795541400.5", "2026-11-24T17:30:00.500000Z"),
    ],
)
def test_stored_times_are_read_on_every_python_and_written_canonically(times, stored, canonical):
    visitor = {"event_count_1": 1, "event_first_time_1": stored, "event_last_time_1": stored}
    later = times.handle(wrap(event_seq=1, event_timestamp=T0), visitor)
    assert later["visitor"]["event_first_time_1"] == canonical  # kept, but in canonical form
    earlier = times.handle(wrap(event_seq=1, event_timestamp=T0 - 86400 * 10), visitor)
    assert earlier["visitor"]["event_last_time_1"] == canonical
    assert earlier["actions"][0]["text"].split("|")[0] == canonical


@pytest.mark.parametrize("stored", ["2026-13-01T00:00:00Z", "2026-11-24T17:30:00+25:00", "2026-W48-1", "yesterday"])
def test_times_that_are_not_iso_8601_reject_the_event(times, stored):
    with pytest.raises(ValueError, match="event_first_time_1 must be an ISO-8601 time or epoch seconds"):
        times.handle(wrap(event_seq=1, event_timestamp=T0), {"event_first_time_1": stored})


@pytest.mark.parametrize("seq", ["2", 2.0, True])
def test_an_event_seq_of_the_wrong_type_is_named_as_such(declared, seq):
    with pytest.raises(ValueError, match=r"^event_seq must be an integer, got "):
        declared.handle(wrap(event_seq=seq))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (float("nan"), "event_data holds NaN or Infinity, which are not JSON numbers"),
        (10**5000, "event_data holds a number too long"),
        ({1j}, "event_data must be a JSON value: it holds something JSON can't"),
    ],
    ids=["nan", "huge-int", "set"],
)
def test_event_data_messages_name_no_python_internals(declared, data, message):
    with pytest.raises(ValueError) as info:
        declared.handle(wrap(event_seq=1, event_data=data))
    assert str(info.value) == message
