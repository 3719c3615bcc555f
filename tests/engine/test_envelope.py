"""Envelopes (README, "Envelopes"): what parse_envelope accepts, and for each
rule it enforces, a message that names the field at fault. Segment track
calls are read as envelopes too."""

from __future__ import annotations

import pytest

import ppdsl
from histories import LEAD, T0
from ppdsl.engine.envelope import EnvelopeError, parse_envelope, visitor_keys

EVENT = {"event_name": "view_pricing", "event_data": {"plan": "pro"}, "event_timestamp": T0}


def good(**fields: object) -> dict:
    return {"visitor_id": "v-8f2c", "message_id": "1b4e", "track_event": dict(EVENT), **fields}


@pytest.fixture(scope="module")
def keys() -> frozenset[str]:
    found = visitor_keys(ppdsl.load(LEAD))
    assert found is not None
    return found


@pytest.fixture(scope="module")
def field_keys(tmp_path_factory: pytest.TempPathFactory) -> frozenset[str]:
    flow = tmp_path_factory.mktemp("flow") / "fields.ppflow"
    flow.write_text('event 1 click\nfield plan string\nflow f {\n  on event click -> reply agent_a "hi"\n}\n')
    found = visitor_keys(ppdsl.load(flow))
    assert found is not None
    return found


def rejected(obj: object, **options: object) -> str:
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(obj, **options)  # type: ignore[arg-type]
    return str(caught.value)


def test_a_full_envelope_is_read_as_the_payload_handle_takes(keys):
    found = parse_envelope(good(visitor={"user_fullname": "Li Lei"}), visitor_keys=keys)
    assert (found.visitor_id, found.message_id) == ("v-8f2c", "1b4e")
    assert found.payload == {"track_event": EVENT}
    assert found.visitor == {"user_fullname": "Li Lei"}
    assert found.timestamp == T0


def test_message_id_and_visitor_are_optional():
    found = parse_envelope({"visitor_id": "v", "track_event": {"event_name": "click"}})
    assert found.message_id is None and found.visitor is None and found.timestamp is None


# ------------------------------------------------------------------ visitor_id


@pytest.mark.parametrize(
    "value, words",
    [
        (None, "visitor_id is missing"),
        ("", "visitor_id must be 1 to 128 characters long, got 0"),
        ("v" * 129, "visitor_id must be 1 to 128 characters long, got 129"),
        (42, "visitor_id must be a string, got 42"),
        (["v"], "visitor_id must be a string, got an array"),
        (True, "visitor_id must be a string, got true"),
    ],
)
def test_a_bad_visitor_id_is_named(value, words):
    envelope = good(visitor_id=value)
    if value is None:
        del envelope["visitor_id"]
    assert words in rejected(envelope)


def test_a_visitor_id_of_128_characters_is_accepted():
    assert parse_envelope(good(visitor_id="访" * 128)).visitor_id == "访" * 128


# ------------------------------------------------------------------ message_id


@pytest.mark.parametrize(
    "value, words",
    [
        ("", "message_id must be 1 to 100 characters long, got 0"),
        ("m" * 101, "message_id must be 1 to 100 characters long, got 101"),
        (7, "message_id must be a string, got 7"),
        ({"id": 1}, "message_id must be a string, got an object"),
    ],
)
def test_a_bad_message_id_is_named(value, words):
    assert words in rejected(good(message_id=value))


def test_a_message_id_of_100_characters_and_a_null_one_are_accepted():
    assert parse_envelope(good(message_id="m" * 100)).message_id == "m" * 100
    assert parse_envelope(good(message_id=None)).message_id is None


def test_event_uuid_is_never_taken_for_a_message_id():
    envelope = good(track_event={**EVENT, "event_uuid": "0b8e2c1d"})
    del envelope["message_id"]
    assert parse_envelope(envelope).message_id is None


# ----------------------------------------------------------------- track_event


@pytest.mark.parametrize(
    "value, words",
    [(None, "track_event is missing"), ("click", "track_event must be a JSON object, got 'click'")],
)
def test_a_missing_or_bad_track_event_is_named(value, words):
    envelope = good(track_event=value)
    if value is None:
        del envelope["track_event"]
    assert words in rejected(envelope)


@pytest.mark.parametrize("value", [[1, 2], "a string", 3, None])
def test_an_envelope_that_is_not_an_object_is_rejected(value):
    assert "an envelope must be a JSON object with visitor_id and track_event" in rejected(value)


# --------------------------------------------------------------------- visitor


@pytest.mark.parametrize("key", ["event_count_2", "event_first_time_1", "event_last_time_8", "event_last_data_3"])
def test_a_statistic_in_visitor_is_rejected(key, keys):
    message = rejected(good(visitor={key: 3}), visitor_keys=keys)
    assert message.startswith(f"visitor.{key}: statistics can't be sent")
    assert f"visitor.{key}" in rejected(good(visitor={key: 3}))  # also when any other name goes


def test_an_unknown_visitor_key_is_rejected(keys):
    message = rejected(good(visitor={"favourite_colour": "red"}), visitor_keys=keys)
    assert message == "visitor.favourite_colour is not a PPMessage variable, a declared field or an extra_field_*"


def test_system_variables_extra_fields_and_declared_fields_are_accepted(keys, field_keys):
    visitor = {"user_fullname": "Li Lei", "user_email": "li@example.com", "extra_field_Account_type": "wholesale"}
    assert parse_envelope(good(visitor=visitor), visitor_keys=keys).visitor == visitor
    assert parse_envelope(good(visitor={"plan": "pro"}), visitor_keys=field_keys).visitor == {"plan": "pro"}
    assert "visitor.plan" in rejected(good(visitor={"plan": "pro"}), visitor_keys=keys)  # not declared there


@pytest.mark.parametrize("value", ["Li Lei", ["a"], 3])
def test_a_visitor_that_is_not_an_object_is_named(value):
    assert rejected(good(visitor=value)).startswith("visitor must be a JSON object")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [float("-inf")]])
def test_nan_or_infinity_in_visitor_is_rejected(value, keys):
    message = rejected(good(visitor={"extra_field_score": value}), visitor_keys=keys)
    assert message == "visitor holds NaN or Infinity, which are not JSON numbers"


# --------------------------------------------------------------------- sent_at


def test_sent_at_corrects_the_event_time_for_the_clients_clock():
    # the client's clock is 100 s fast: it stamped the event at T0 and sent it at T0 + 5
    found = parse_envelope(good(sent_at=T0 + 5), received_at=T0 - 100 + 5)
    assert found.timestamp == T0 - 100  # received_at - (sent_at - event_timestamp)
    assert found.payload["track_event"]["event_data"] == {"plan": "pro"}


def test_sent_at_is_kept_as_it_is_without_a_receiving_time():
    assert parse_envelope(good(sent_at=T0 + 5)).timestamp == T0


def test_sent_at_leaves_an_event_without_a_time_alone():
    event = {"event_name": "click"}
    found = parse_envelope(good(track_event=event, sent_at=T0), received_at=T0 + 9)
    assert found.payload == {"track_event": event}


@pytest.mark.parametrize("value", ["yesterday", -1, float("nan"), True])
def test_a_bad_sent_at_is_named(value):
    assert rejected(good(sent_at=value), received_at=T0).startswith("sent_at must be epoch seconds")


# --------------------------------------------------------- Segment track calls


def segment(**fields: object) -> dict:
    return {
        "type": "track",
        "event": "view_pricing",
        "userId": "u-1",
        "anonymousId": "anon-1",
        "messageId": "ajs-1",
        "properties": {"plan": "pro"},
        "timestamp": "2026-11-25T08:00:00Z",
        "context": {"traits": {"name": "Li Lei", "email": "li@example.com", "extra_field_tier": "gold"}},
        **fields,
    }


def test_a_segment_track_call_is_read_as_an_envelope(keys):
    found = parse_envelope(segment(), visitor_keys=keys)
    assert (found.visitor_id, found.message_id) == ("u-1", "ajs-1")
    assert found.payload == {
        "track_event": {"event_name": "view_pricing", "event_data": {"plan": "pro"}, "event_timestamp": T0}
    }
    assert found.visitor == {"user_fullname": "Li Lei", "user_email": "li@example.com", "extra_field_tier": "gold"}


def test_a_segment_call_without_userid_is_the_anonymous_visitors():
    assert parse_envelope(segment(userId=None)).visitor_id == "anon-1"
    call = segment()
    del call["userId"]
    assert parse_envelope(call).visitor_id == "anon-1"


def test_a_segment_call_without_either_id_is_rejected():
    assert "userId and anonymousId are both missing" in rejected(segment(userId=None, anonymousId=None))


@pytest.mark.parametrize(
    "stamp, seconds",
    [
        ("2026-11-25T08:00:00Z", T0),
        ("2026-11-25T08:00:00.250Z", T0 + 0.25),
        ("2026-11-25T16:00:00+08:00", T0),
        ("2026-11-25T08:00:00", T0),
    ],
)
def test_segment_timestamps_are_iso_8601(stamp, seconds):
    assert parse_envelope(segment(timestamp=stamp)).timestamp == seconds


@pytest.mark.parametrize("stamp", ["yesterday", 1795593600, "2026-13-45T00:00:00Z"])
def test_a_bad_segment_timestamp_is_named(stamp):
    assert rejected(segment(timestamp=stamp)).startswith("timestamp must be an ISO-8601 time")


def test_segment_sent_at_corrects_the_clock_too():
    found = parse_envelope(segment(sentAt="2026-11-25T08:00:05Z"), received_at=T0 - 95)
    assert found.timestamp == T0 - 100


def test_segment_traits_name_the_field_when_wrong(keys):
    assert rejected(segment(context={"traits": ["x"]})).startswith("context.traits must be a JSON object")
    assert "visitor.event_count_1" in rejected(segment(context={"traits": {"event_count_1": 5}}), visitor_keys=keys)
    assert "visitor.shoe_size" in rejected(segment(context={"traits": {"shoe_size": 44}}), visitor_keys=keys)


def test_the_segment_message_id_follows_the_same_rules():
    assert "message_id must be 1 to 100 characters long" in rejected(segment(messageId="x" * 101))
    assert "visitor_id must be 1 to 128 characters long" in rejected(segment(userId="u" * 129))
