"""`ppdsl serve` as a real uvicorn process on loopback: the default address,
hot reload (a good edit is taken, junk is not), slow clients, JSON logs that
hold no secrets, and acknowledged events that survive kill -9."""

from __future__ import annotations

import json
import shutil
import socket
import time

import httpx
import pytest
from serving import LEAD, envelope, serve_fixture  # noqa: F401 (the serve fixture)

ADMIN = {"Authorization": "Bearer adm1n-t0ken"}


def wait_for(predicate, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_listens_on_127_0_0_1_by_default(serve):
    server = serve()
    assert f"http://127.0.0.1:{server.port}" in server.log()


def test_editing_the_flow_reloads_it_and_junk_keeps_the_old_one(serve, tmp_path):
    flow = tmp_path / "live.ppflow"
    shutil.copy(LEAD, flow)
    server = serve(flow, "--admin-token", "adm1n-t0ken")
    version = httpx.get(server.url + "/healthz").json()["version"]

    flow.write_text("this is { not a flow", encoding="utf-8")
    assert wait_for(lambda: "not reloaded" in server.log())
    assert httpx.get(server.url + "/healthz").json()["version"] == version
    answer = httpx.post(server.url + "/v1/track", json=envelope("v", "m1"))
    assert answer.json()["results"][0]["actions"][0]["agent"] == "agent_b"

    flow.write_text(LEAD.read_text().replace('reply agent_b "Hello!', 'reply agent_a "Hi again!'), encoding="utf-8")
    assert wait_for(lambda: httpx.get(server.url + "/healthz").json()["version"] != version)
    answer = httpx.post(server.url + "/v1/track", json=envelope("v", "m2"))
    assert answer.json()["results"][0]["actions"][0]["text"].startswith("Hi again!")
    state = httpx.get(server.url + "/v1/visitors/v", headers=ADMIN).json()["state"]
    assert state["event_count_1"] == 2


def test_a_slow_client_holds_nobody_up_and_changes_nothing(serve):
    server = serve(LEAD, "--admin-token", "adm1n-t0ken")
    body = json.dumps(envelope("slow", "m1")).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as slow:
        head = f"POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
        slow.sendall(head.encode() + body[:10])  # and then nothing more
        with socket.create_connection(("127.0.0.1", server.port)) as idle:
            idle.sendall(b"POST /v1/tr")  # half a request line
            started = time.monotonic()
            answer = httpx.post(server.url + "/v1/track", json=envelope("fast", "m2"), timeout=5)
            assert answer.status_code == 200 and time.monotonic() - started < 2
    assert httpx.get(server.url + "/v1/visitors/slow", headers=ADMIN).status_code == 404
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_json_logs_one_line_per_request_and_no_secret(serve, tmp_path):
    server = serve(
        LEAD,
        "--log-json",
        "--write-key",
        "wk-SECRET-1",
        "--admin-token",
        "adm1n-t0ken",
        "--webhook",
        "http://127.0.0.1:9/hook",
        "--webhook-secret",
        "whsec_c2VjcmV0LXNpZ25pbmcta2V5LXZhbHVlLTEyMzQ=",
        "--webhook-timeout",
        "0.2",
    )
    auth = ("wk-SECRET-1", "")
    httpx.post(server.url + "/v1/track", json=envelope("v", "m1"), auth=auth)
    httpx.post(server.url + "/v1/track", json={**envelope("v", "m2"), "writeKey": "wk-SECRET-1"})
    httpx.post(server.url + "/v1/track", json=envelope("v", "m3"), auth=("wrong-key-XYZ", ""))
    httpx.get(server.url + "/v1/visitors/v", headers=ADMIN)
    server.stop()
    log = server.log()
    for secret in ("wk-SECRET-1", "adm1n-t0ken", "c2VjcmV0LXNpZ25pbmcta2V5", "wrong-key-XYZ"):
        assert secret not in log
    requests = [json.loads(line) for line in log.splitlines() if line.startswith('{"time"') and '"path"' in line]
    assert [(r["method"], r["path"], r["status"]) for r in requests[-4:]] == [
        ("POST", "/v1/track", 200),
        ("POST", "/v1/track", 200),
        ("POST", "/v1/track", 401),
        ("GET", "/v1/visitors/v", 200),
    ]


def test_acknowledged_events_survive_kill_9(serve, tmp_path):
    store = str(tmp_path / "visitors.db")
    server = serve(LEAD, "--store", store, "--admin-token", "adm1n-t0ken")
    batch = {"batch": [envelope(f"v{i % 3}", f"m{i}") for i in range(30)]}
    assert httpx.post(server.url + "/v1/track", json=batch).status_code == 200
    server.kill()
    again = serve(LEAD, "--store", store, "--admin-token", "adm1n-t0ken")
    counts = [
        httpx.get(f"{again.url}/v1/visitors/v{i}", headers=ADMIN).json()["state"]["event_count_1"] for i in range(3)
    ]
    assert counts == [10, 10, 10]
    results = httpx.post(again.url + "/v1/track", json=batch).json()["results"]
    assert {r["status"] for r in results} == {"duplicate"}


@pytest.mark.slow
def test_workers_share_the_store_and_add_up_their_metrics(serve, tmp_path):
    server = serve(LEAD, "--workers", "2", "--store", str(tmp_path / "w.db"), "--admin-token", "adm1n-t0ken")
    with httpx.Client() as a, httpx.Client() as b:  # two connections, most likely two workers
        for i in range(10):
            (a if i % 2 else b).post(server.url + "/v1/track", json=envelope("v", f"w{i}"))
    metrics = httpx.get(server.url + "/metrics").text
    assert 'ppdsl_events_total{outcome="applied"} 10.0' in metrics
    state = httpx.get(server.url + "/v1/visitors/v", headers=ADMIN).json()["state"]
    assert state["event_count_1"] == 10


def test_the_rate_limit_counts_forwarded_clients_only_behind_a_trusted_proxy(serve):
    def answers(server) -> list[int]:
        return [
            httpx.post(
                server.url + "/v1/track",
                json={"batch": [envelope("v1", f"m-{client}")]},
                headers={"X-Forwarded-For": f"203.0.113.{client}"},
            ).status_code
            for client in (1, 2)
        ]

    behind_loopback = serve(LEAD, "--rate-limit", "1/s")  # loopback is a trusted proxy by default
    assert answers(behind_loopback) == [200, 200]  # two browsers behind it, one request each
    elsewhere = serve(LEAD, "--rate-limit", "1/s", "--trusted-proxy", "10.0.0.0/8")
    assert answers(elsewhere) == [200, 429]  # the header of an untrusted peer names nobody: one client
