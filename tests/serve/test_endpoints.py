"""The endpoints around /v1/track: /healthz, /metrics, the admin visitor
endpoint, the tracker and the demo page, and the answers when something
breaks inside (500 without a traceback, 503 when the store fails)."""

from __future__ import annotations

import json
import re

import pytest
from serving import LEAD, envelope, make_client_fixture  # noqa: F401 (the make_client fixture)

from ppdsl.serve import committer
from ppdsl.serve.flow import Flow
from ppdsl.store import StoreError
from ppdsl.store.memory import MemoryStore


def test_healthz_names_the_file_and_its_version(make_client):
    body = make_client().get("/healthz").json()
    assert body["file"] == "lead_routing.ppflow" and re.fullmatch(r"[0-9a-f]{12}", body["version"])


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_events_by_outcome_actions_by_type_and_latency(make_client):
    client = make_client()
    before = client.get("/metrics").text
    client.post("/v1/track", json={"batch": [envelope("v", "m1"), envelope("v", "m1"), envelope("v", None, "nope")]})
    after = client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    for outcome in ("applied", "duplicate", "rejected"):
        delta = _sample(after.text, "ppdsl_events_total", outcome=outcome) - _sample(
            before, "ppdsl_events_total", outcome=outcome
        )
        assert delta == 1, outcome
    replies = _sample(after.text, "ppdsl_actions_total", result="done", type="reply")
    assert replies - _sample(before, "ppdsl_actions_total", result="done", type="reply") == 1
    assert _sample(after.text, "ppdsl_track_seconds_count") > _sample(before, "ppdsl_track_seconds_count")
    assert "ppdsl_webhook_deliveries_total" in after.text


def test_visitor_endpoint_needs_the_bearer_token(make_client):
    client = make_client(admin_token="s3cret")
    client.post("/v1/track", json=envelope("v-1", "m1"))
    assert client.get("/v1/visitors/v-1").status_code == 401
    assert client.get("/v1/visitors/v-1", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/v1/visitors/v-1", headers={"Authorization": "Bearer s3cret"})
    assert answer.status_code == 200
    assert answer.json()["state"]["event_count_1"] == 1 and answer.json()["visitor_id"] == "v-1"
    assert client.get("/v1/visitors/nobody", headers={"Authorization": "Bearer s3cret"}).status_code == 404


def test_visitor_endpoint_is_off_without_a_token(make_client):
    client = make_client()
    client.post("/v1/track", json=envelope("v-1", "m1"))
    assert client.get("/v1/visitors/v-1", headers={"Authorization": "Bearer "}).status_code == 404


def test_the_tracker_is_served_as_javascript(make_client):
    answer = make_client().get("/ppmatc.js")
    assert answer.status_code == 200 and "javascript" in answer.headers["content-type"]
    assert "_ppmatc" in answer.text


def _page_flow(html: str) -> dict:
    match = re.search(r"PPDSL_FLOW\s*=\s*(\{.*?\});\s*$", html, re.M)
    assert match, "the demo page carries the flow"
    return json.loads(match[1])


def test_the_demo_page_carries_the_flows_events_and_agents(make_client):
    answer = make_client().get("/")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "/*PPDSL_FLOW*/" not in answer.text and 'src="/ppmatc.js"' in answer.text
    flow = _page_flow(answer.text)
    assert [e["name"] for e in flow["events"]] == ["click", "view_pricing", "signup"]
    assert flow["events"][0] == {"seq": 1, "name": "click", "description": "Any click on the page"}
    assert flow["agents"] == {"agent_a": "Alice (senior sales)", "agent_b": "Bob"}
    assert flow["file"] == "lead_routing.ppflow" and flow["version"]


def test_the_demo_page_escapes_the_flow_for_a_script(make_client, tmp_path):
    flow = tmp_path / "sneaky.ppflow"
    flow.write_text(
        'event 1 click "</script><script>alert(1)</script> & \u2028"\n'
        'agent a "<b>Ann</b>"\n'
        'flow f {\n  on event click -> reply a "hi"\n}\n',
        encoding="utf-8",
    )
    page = make_client(flow).get("/").text
    assert "<script>alert(1)" not in page and "<b>Ann" not in page and "\u2028" not in page
    data = _page_flow(page)
    assert data["events"][0]["description"] == "</script><script>alert(1)</script> & \u2028"
    assert data["agents"] == {"a": "<b>Ann</b>"}


class _Broken:
    EVENTS = {1: {"name": "click", "uuid": None, "description": None}}

    def handle(self, payload, visitor=None, effects=None, *, at=None):
        raise RuntimeError("secret internals /etc/passwd")


def test_an_internal_error_is_a_generic_500_without_traceback(make_client, monkeypatch):
    client = make_client(raise_server_exceptions=False)
    client.app.state.service.reloaded(Flow(str(LEAD), "broken", _Broken()))
    answer = client.post("/v1/track", json=envelope("v", "m1"))
    assert answer.status_code == 500
    assert "Traceback" not in answer.text and "secret" not in answer.text and "error" in answer.json()


class _FailingStore(MemoryStore):
    def commit(self, change):
        raise StoreError("store disk.db: disk I/O error")


def test_a_store_that_fails_is_503_and_the_service_goes_on(make_client, monkeypatch):
    monkeypatch.setattr(committer, "open_store", lambda url: _FailingStore(url))
    client = make_client()
    answer = client.post("/v1/track", json=envelope("v", "m1"))
    assert answer.status_code == 503 and "Retry-After" in answer.headers
    assert "disk" not in answer.text
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("path", ["/nope", "/v1/visitors/"])
def test_unknown_paths_are_404(make_client, path):
    assert make_client().get(path).status_code == 404
