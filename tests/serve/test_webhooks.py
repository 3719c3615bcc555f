"""Actions as Standard Webhooks: signed POSTs with a stable webhook-id
(message id + action index); a non-2xx answer or a time-out fails the action,
so `on failure` runs; without a webhook, actions are only returned."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from serving import envelope, make_client_fixture  # noqa: F401 (the make_client fixture)
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_" + base64.b64encode(b"a test secret of 32 bytes length").decode()
FLOW = """event 1 click
agent a "Ann"
flow f {
  on event click -> reply a "hello" on failure -> ticket "nobody answered"
}
"""


class Receiver:
    """A local webhook receiver that answers `statuses` in turn (then 200)
    after `delay` seconds."""

    def __init__(self, statuses: tuple[int, ...] = (), delay: float = 0.0):
        self.statuses, self.delay = list(statuses), delay
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(receiver.delay)
                try:
                    self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(statuses: tuple[int, ...] = (), delay: float = 0.0) -> Receiver:
        made.append(Receiver(statuses, delay))
        return made[-1]

    yield make
    for r in made:
        r.server.shutdown()
        r.server.server_close()


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    path = tmp_path / "hook.ppflow"
    path.write_text(FLOW)
    return path


def test_each_action_is_posted_signed_with_a_stable_id(make_client, receiver, flow):
    hook = receiver()
    client = make_client(flow, webhook=hook.url, webhook_secret=SECRET)
    result = client.post("/v1/track", json=envelope("v1", "m-1")).json()["results"][0]
    assert [a["type"] for a in result["actions"]] == ["reply"]
    [(headers, body)] = hook.received
    assert headers["webhook-id"] == "m-1-0"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    payload = Webhook(SECRET).verify(body, headers)
    assert payload["visitor_id"] == "v1" and payload["message_id"] == "m-1"
    assert payload["action"]["type"] == "reply" and payload["action"]["text"] == "hello"
    tampered = {**headers, "webhook-id": "m-2-0"}
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, tampered)


def test_a_non_2xx_answer_fails_the_action_and_on_failure_runs(make_client, receiver, flow):
    hook = receiver(statuses=(503,))
    client = make_client(flow, webhook=hook.url, webhook_secret=SECRET)
    result = client.post("/v1/track", json=envelope("v1", "m-1")).json()["results"][0]
    assert result["status"] == "applied"
    assert [a["type"] for a in result["actions"]] == ["ticket"]  # the reply failed, the ticket was opened
    assert [h["webhook-id"] for h, _ in hook.received] == ["m-1-0", "m-1-1"]


def test_a_retried_event_redelivers_with_the_same_webhook_id(make_client, receiver, flow, tmp_path):
    hook = receiver()
    store = str(tmp_path / "s.db")
    first = make_client(flow, webhook=hook.url, webhook_secret=SECRET, store=store)
    first.post("/v1/track", json=envelope("v1", "m-7"))
    second_store = str(tmp_path / "other.db")  # a commit that never happened: the event comes again
    again = make_client(flow, webhook=hook.url, webhook_secret=SECRET, store=second_store)
    again.post("/v1/track", json=envelope("v1", "m-7"))
    ids = [h["webhook-id"] for h, _ in hook.received]
    assert ids == ["m-7-0", "m-7-0"]
    assert first.post("/v1/track", json=envelope("v1", "m-7")).json()["results"][0]["status"] == "duplicate"
    assert len(hook.received) == 2  # a duplicate sends nothing


def test_a_webhook_that_hangs_times_out_and_fails_the_action(make_client, receiver, flow):
    hook = receiver(delay=5)
    client = make_client(flow, webhook=hook.url, webhook_secret=SECRET, webhook_timeout=0.3)
    started = time.monotonic()
    result = client.post("/v1/track", json=envelope("v1", "m-1")).json()["results"][0]
    assert time.monotonic() - started < 4
    assert result["status"] == "applied" and result["actions"] == []  # the reply and its ticket both timed out
    metrics = client.get("/metrics").text
    assert 'ppdsl_webhook_deliveries_total{outcome="timeout"}' in metrics


def test_without_a_webhook_actions_are_returned(make_client, flow):
    result = make_client(flow).post("/v1/track", json=envelope("v1", None)).json()["results"][0]
    assert [(a["type"], a["text"]) for a in result["actions"]] == [("reply", "hello")]


def test_events_without_message_id_get_distinct_webhook_ids(make_client, receiver, flow):
    hook = receiver()
    client = make_client(flow, webhook=hook.url)
    client.post("/v1/track", json={"batch": [envelope("v1", None), envelope("v2", None)]})
    ids = [h["webhook-id"] for h, _ in hook.received]
    assert len(set(ids)) == 2 and "webhook-signature" not in hook.received[0][0]
    assert json.loads(hook.received[0][1])["message_id"] is None
