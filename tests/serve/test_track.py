"""POST /v1/track in process (PLATFORM.md section 5): batches, body types,
write keys, the 400/401/413/429 answers, one result per event, and input that
is refused without changing state."""

from __future__ import annotations

import base64
import json
import time

from serving import envelope, make_client_fixture  # noqa: F401 (the make_client fixture)

TOKEN = {"Authorization": "Bearer admin-t"}


def state(client, visitor: str):
    answer = client.get(f"/v1/visitors/{visitor}", headers=TOKEN)
    return answer.json()["state"] if answer.status_code == 200 else None


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def test_one_envelope_is_applied_with_the_reply_and_the_event(make_client):
    client = make_client(admin_token="admin-t")
    answer = client.post("/v1/track", json=envelope("v1", "m1"))
    assert answer.status_code == 200
    [result] = answer.json()["results"]
    assert result["status"] == "applied" and result["message_id"] == "m1"
    assert result["event"]["seq"] == 1 and result["event"]["name"] == "click" and result["event"]["count"] == 1
    assert set(result["event"]) == {"seq", "name", "count", "time"}
    assert [(a["type"], a["agent"]) for a in result["actions"]] == [("reply", "agent_b")]
    assert state(client, "v1")["event_count_1"] == 1


def test_a_batch_gets_one_result_per_event_in_order(make_client):
    client = make_client(admin_token="admin-t")
    batch = [envelope("v1", "a"), envelope("v1", "a"), envelope("v1", "b", "no_such_event"), envelope("v1", "c")]
    results = client.post("/v1/track", json={"batch": batch}).json()["results"]
    assert [r["status"] for r in results] == ["applied", "duplicate", "rejected", "applied"]
    assert "no_such_event" in results[2]["message"]
    assert results[3]["event"]["count"] == 2
    assert state(client, "v1")["event_count_1"] == 2


def test_a_retried_request_is_reported_duplicate_and_changes_nothing(make_client):
    client = make_client(admin_token="admin-t")
    body = {"batch": [envelope("v1", "m1"), envelope("v2", "m2")]}
    client.post("/v1/track", json=body)
    before = state(client, "v1"), state(client, "v2")
    again = client.post("/v1/track", json=body).json()["results"]
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert (state(client, "v1"), state(client, "v2")) == before


def test_text_plain_bodies_are_read_as_json(make_client):
    client = make_client()
    answer = client.post(
        "/v1/track", content=json.dumps(envelope("v1", "m1")), headers={"Content-Type": "text/plain;charset=UTF-8"}
    )
    assert answer.status_code == 200 and answer.json()["results"][0]["status"] == "applied"


def test_sent_at_of_a_batch_corrects_the_clock_skew(make_client):
    client = make_client()
    now = time.time()
    skewed = envelope("v1", "m1")
    skewed["track_event"]["event_timestamp"] = now + 3600 - 5  # the client's clock is an hour ahead
    result = client.post("/v1/track", json={"batch": [skewed], "sent_at": now + 3600}).json()["results"][0]
    from datetime import datetime

    t = datetime.fromisoformat(result["event"]["time"].replace("Z", "+00:00")).timestamp()
    assert abs(t - (now - 5)) < 30


def test_a_segment_track_call_is_accepted(make_client):
    client = make_client()
    call = {"type": "track", "event": "view_pricing", "userId": "u1", "messageId": "s1", "properties": {}}
    result = client.post("/v1/track", json=call).json()["results"][0]
    assert result["status"] == "applied" and result["event"]["name"] == "view_pricing"


def test_malformed_json_is_400_and_changes_nothing(make_client):
    client = make_client(admin_token="admin-t")
    for body in (b"{", b"", b"[1,2]", b'{"batch": 3}', b'{"batch": []}', b"\xff\xfe"):
        answer = client.post("/v1/track", content=body)
        assert answer.status_code == 400, body
        assert "error" in answer.json()
    assert client.post("/v1/track", json={"batch": [envelope("v", str(i)) for i in range(501)]}).status_code == 400
    assert state(client, "v") is None


def test_nan_and_infinity_are_400(make_client):
    client = make_client(admin_token="admin-t")
    for constant in ("NaN", "Infinity", "-Infinity"):
        body = '{"visitor_id": "v", "track_event": {"event_name": "click", "event_data": {"x": ' + constant + "}}}"
        answer = client.post("/v1/track", content=body)
        assert answer.status_code == 400 and constant.lstrip("-") in answer.json()["error"]
    assert state(client, "v") is None


def test_a_body_over_500_kb_is_413_whether_or_not_it_says_its_length(make_client):
    client = make_client(admin_token="admin-t")
    big = json.dumps(envelope("v", "m", event_data={"s": "x" * 1_000_000}))
    assert client.post("/v1/track", content=big).status_code == 413

    def chunks():  # no Content-Length: the limit holds while the body is read
        for _ in range(100):
            yield b"x" * 10_000

    assert client.post("/v1/track", content=chunks()).status_code == 413
    assert state(client, "v") is None


def test_hostile_envelopes_are_rejected_one_by_one_and_change_nothing(make_client):
    client = make_client(admin_token="admin-t")
    deep: object = "x"
    for _ in range(40):
        deep = {"a": deep}
    hostile = [
        {"visitor_id": "v", "message_id": "deep", "track_event": {"event_name": "click", "event_data": deep}},
        {
            "visitor_id": "v",
            "message_id": "long",
            "track_event": {"event_name": "click", "event_data": {"s": "y" * 40_000}},
        },
        {"visitor_id": ["v"], "track_event": {"event_name": "click"}},
        {"visitor_id": "v", "track_event": "click"},
        {"visitor_id": "v", "message_id": 7, "track_event": {"event_name": "click"}},
        {"visitor_id": "v" * 129, "track_event": {"event_name": "click"}},
        {"visitor_id": "v", "track_event": {"event_name": "click"}, "visitor": {"event_count_1": 99}},
        {"visitor_id": "v", "track_event": {"event_name": ["click"]}},
        None,
        "envelope",
    ]
    results = client.post("/v1/track", json={"batch": hostile}).json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * len(hostile)
    assert "nesting" in results[0]["message"] and "40000 characters" in results[1]["message"]
    assert "visitor_id" in results[2]["message"] and "track_event" in results[3]["message"]
    assert state(client, "v") is None


def test_deep_nesting_past_the_json_parser_is_400(make_client):
    client = make_client()
    answer = client.post("/v1/track", content=b"[" * 200_000 + b"]" * 200_000)
    assert answer.status_code in (400, 413)
    assert "Traceback" not in answer.text


def test_write_keys_basic_auth_or_body(make_client):
    client = make_client(write_keys=["k1", "k2"], admin_token="admin-t")
    assert client.post("/v1/track", json=envelope("v", "a"), headers=basic("k2")).status_code == 200
    with_key = {"batch": [envelope("v", "b")], "writeKey": "k1"}
    assert client.post("/v1/track", json=with_key).status_code == 200
    single = {**envelope("v", "c"), "writeKey": "k1"}
    assert client.post("/v1/track", json=single).status_code == 200
    assert state(client, "v")["event_count_1"] == 3


def test_a_missing_wrong_or_misplaced_write_key_is_401_and_changes_nothing(make_client):
    client = make_client(write_keys=["k1"], admin_token="admin-t")
    misplaced = [
        dict(json=envelope("v", "a")),
        dict(json=envelope("v", "a"), headers=basic("nope")),
        dict(json={"batch": [envelope("v", "a")], "writeKey": "nope"}),
        dict(json={"batch": [{**envelope("v", "a"), "writeKey": "k1"}]}),  # inside an event, not the request
        dict(json=envelope("v", "a"), headers={"Authorization": "Bearer k1"}),
        dict(json=envelope("v", "a"), headers={"X-Write-Key": "k1"}),
        dict(json=envelope("v", "a"), params={"writeKey": "k1"}),
        dict(json=envelope("v", "a"), headers={"Authorization": "Basic !!!"}),
        dict(json={"batch": [envelope("v", "a")], "writeKey": ["k1"]}),
        dict(content=b"{not json"),
    ]
    for request in misplaced:
        answer = client.post("/v1/track", **request)
        assert answer.status_code == 401, request
        assert "k1" not in answer.text
    assert state(client, "v") is None


def test_rate_limit_per_write_key_answers_429_with_retry_after(make_client):
    client = make_client(write_keys=["k1", "k2"], rate_limit="3/second")
    answers = [client.post("/v1/track", json=envelope("v", f"m{i}"), headers=basic("k1")) for i in range(5)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert answers[3].status_code == 429 and int(answers[3].headers["Retry-After"]) >= 1
    assert client.post("/v1/track", json=envelope("w", "x"), headers=basic("k2")).status_code == 200


def test_rate_limit_per_client_address_without_keys(make_client):
    client = make_client(rate_limit="2/minute", admin_token="admin-t")
    codes = [client.post("/v1/track", json=envelope("v", f"m{i}")).status_code for i in range(4)]
    assert codes == [200, 200, 429, 429]
    assert state(client, "v")["event_count_1"] == 2


def test_cors_lets_other_origins_post(make_client):
    client = make_client()
    origin = {"Origin": "https://shop.example"}
    preflight = client.options(
        "/v1/track",
        headers={**origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] in ("*", origin["Origin"])
    answer = client.post("/v1/track", json=envelope("v", "m"), headers=origin)
    assert answer.headers["access-control-allow-origin"] in ("*", origin["Origin"])


def test_only_post_is_taken(make_client):
    assert make_client().get("/v1/track").status_code == 405
