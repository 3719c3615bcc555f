"""Many services, one store (PLATFORM §7): several `ppdsl serve` processes share
one store while bounded concurrent clients post events for the same few
visitors to all of them at once, retrying each batch until it is
acknowledged, and some events a second time through another service. The
final counts equal the number of distinct message ids, on every store."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from serving import LEAD, Load, envelope, serve_fixture  # noqa: F401 (the serve fixture)

from ppdsl.store import open_store

VISITORS = 5
SERVICES = 3


def history(events: int, seed: int) -> tuple[list[list[dict]], dict[str, int]]:
    """Batches of 10 for a few visitors, a tenth of the events sent twice (in
    other batches), and each visitor's number of distinct message ids."""
    rng = random.Random(seed)
    sent = [envelope(f"v{rng.randrange(VISITORS)}", f"m-{seed}-{i}") for i in range(events)]
    again = rng.sample(sent, events // 10)
    everything = sent + again
    rng.shuffle(everything)
    distinct: dict[str, int] = {}
    for event in sent:
        distinct[event["visitor_id"]] = distinct.get(event["visitor_id"], 0) + 1
    return [everything[i : i + 10] for i in range(0, len(everything), 10)], distinct


def counts(url: str) -> dict[str, int]:
    store = open_store(url, readonly=True)
    try:
        return {visitor: state.get("event_count_1", 0) for visitor, state in store.visitors()}
    finally:
        store.close()


def check(load: Load, batches: list[list[dict]], distinct: dict[str, int], url: str) -> None:
    assert sorted(load.acknowledged) == list(range(len(batches))), f"not every batch was acknowledged: {load.statuses}"
    assert load.statuses["rejected"] == 0
    assert load.statuses["duplicate"] >= sum(len(b) for b in batches) - sum(distinct.values())
    assert counts(url) == distinct  # none lost, none twice, across every service


@pytest.fixture
def sqlite_store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'shared.db'}"


@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite_store"])
def test_many_services_share_one_store_and_count_each_message_id_once(store, serve, request):
    url = request.getfixturevalue(store)
    servers = [serve(LEAD, "--store", url, "--no-reload") for _ in range(SERVICES)]
    batches, distinct = history(1500, seed=SERVICES)
    load = Load([s.url for s in servers], batches, senders=6).start().join()
    check(load, batches, distinct, url)
