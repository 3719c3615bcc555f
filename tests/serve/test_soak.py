"""Soak and crash (issue 9, item 5): a bounded load generator posts a few
thousand events in batches, retrying each batch with the same message ids
until it is acknowledged, while the server is killed with SIGKILL and started
again several times. Then every event is in the store exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest
from serving import LEAD, envelope, serve_fixture  # noqa: F401 (the serve fixture)

from ppdsl.store import open_store

EVENTS = 3000
VISITORS = 60
SENDERS = 4
BATCH = 10
KILLS = 5
DEADLINE = 240.0  # seconds: the test gives up (and fails) rather than run on


@pytest.mark.slow
def test_every_acknowledged_event_is_counted_once_across_kill_9(serve, tmp_path):
    store = str(tmp_path / "soak.db")
    server = serve(LEAD, "--store", store, "--no-reload")
    events = [envelope(f"v{i % VISITORS}", f"soak-{i}") for i in range(EVENTS)]
    batches = [events[i : i + BATCH] for i in range(0, EVENTS, BATCH)]
    acknowledged: list[int] = []
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    stop_at = time.monotonic() + DEADLINE
    failed = threading.Event()  # the test failed: the senders stop at once
    kills = 0
    step = len(batches) / (KILLS + 1)  # kill k comes once k steps of the load are acknowledged

    def send(mine: list[int]) -> None:
        with httpx.Client(timeout=5) as client:
            for n in mine:
                while kills < KILLS and len(acknowledged) > (kills + 1.5) * step and time.monotonic() < stop_at:
                    time.sleep(0.01)  # the load may not outrun the kills: it waits half a step ahead
                while time.monotonic() < stop_at and not failed.is_set():
                    try:
                        answer = client.post(server.url + "/v1/track", json={"batch": batches[n]})
                    except httpx.HTTPError:
                        answer = None
                    if answer is None or answer.status_code != 200:
                        with lock:
                            statuses["retry"] += 1
                        time.sleep(0.05)
                        continue
                    with lock:
                        acknowledged.append(n)
                        statuses.update(r["status"] for r in answer.json()["results"])
                    break

    senders = [
        threading.Thread(target=send, args=(list(range(k, len(batches), SENDERS)),), daemon=True)
        for k in range(SENDERS)
    ]
    for t in senders:
        t.start()
    try:
        while kills < KILLS and any(t.is_alive() for t in senders) and time.monotonic() < stop_at:
            if len(acknowledged) < (kills + 1) * step:
                time.sleep(0.01)
                continue
            server.kill()  # in the middle of the load, at spread-out points of its progress
            kills += 1
            server.start()
        for t in senders:
            t.join(max(0.0, stop_at - time.monotonic()) + 1)
    except BaseException:
        failed.set()
        raise
    server.stop()

    assert kills == KILLS, "the load ended before the server was killed often enough: raise EVENTS"
    assert sorted(acknowledged) == list(range(len(batches))), "some batches were never acknowledged"
    assert statuses["retry"] > 0, "no request met a killed server"
    assert statuses["rejected"] == 0
    assert statuses["applied"] + statuses["duplicate"] >= EVENTS
    state = open_store(store, readonly=True)
    try:
        counts = {visitor: s.get("event_count_1", 0) for visitor, s in state.visitors()}
        assert counts == {f"v{v}": EVENTS // VISITORS for v in range(VISITORS)}  # none lost, none twice
        assert state.seen([e["message_id"] for e in events]) == {e["message_id"] for e in events}
    finally:
        state.close()
