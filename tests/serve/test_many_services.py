"""Many services, one store (PLATFORM §7): several `ppdsl serve` processes share
one store while bounded concurrent clients post events for the same few
visitors to all of them at once, retrying each batch until it is
acknowledged, and some events a second time through another service. The
final counts equal the number of distinct message ids, on every store."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
from serving import LEAD, Load, Server, envelope, serve_fixture  # noqa: F401 (the serve fixture)
from servers.netns import Namespace
from servers.postgres import PostgresServer
from servers.redis import url as redis_url

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


@pytest.fixture
def redis_store(redis_server, tmp_path: Path) -> str:
    return redis_url("redis_server", tmp_path)


@pytest.fixture
def redis_cluster_store(redis_cluster, tmp_path: Path) -> str:
    return redis_url("redis_cluster", tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite_store", "postgres_url", "redis_store", "redis_cluster_store"])
def test_many_services_share_one_store_and_count_each_message_id_once(store, serve, request):
    url = request.getfixturevalue(store)
    servers = [serve(LEAD, "--store", url, "--no-reload") for _ in range(SERVICES)]
    batches, distinct = history(1500, seed=SERVICES)
    load = Load([s.url for s in servers], batches, senders=6).start().join()
    check(load, batches, distinct, url)


# -- the store's server fails under load --------------------------------------


def outage(load: Load, batches: int, cut, mend, seconds: float = 3.0) -> None:
    """Cut the store off once a third of the batches are acknowledged, keep it
    off for `seconds`, then mend it and let the load finish."""
    while len(load.acknowledged) < batches // 3 and time.monotonic() < load.stop_at:
        time.sleep(0.01)
    cut()
    time.sleep(seconds)
    mend()
    load.join()


def stopped_under_load(url: str, server: Any, serve: Any) -> None:
    """Two services on the store at `url`; its server stopped for a while under load, then started again."""
    servers = [serve(LEAD, "--store", url, "--no-reload") for _ in range(2)]
    batches, distinct = history(900, seed=7)
    load = Load([s.url for s in servers], batches, senders=4).start()
    outage(load, len(batches), server.stop, server.start)
    assert load.statuses["503"] > 0, "no request met the stopped store"
    check(load, batches, distinct, url)


@pytest.mark.slow
def test_postgresql_stopped_under_load_gives_503_and_applies_nothing_twice(postgres, serve):
    stopped_under_load(postgres.database(timeout=2), postgres, serve)


@pytest.mark.slow
def test_redis_stopped_under_load_gives_503_and_applies_nothing_twice(start_redis, serve):
    server = start_redis("--appendonly", "yes", "--appendfsync", "always")
    stopped_under_load(f"redis://{server.address}/?timeout=2", server, serve)


def services_in_namespaces(
    postgres: PostgresServer, namespaces: list[Namespace], log: Path
) -> tuple[list[Server], str]:
    """SERVICES services, each in a network namespace of its own with two links
    to this host: clients come over link 0, the store is reached over link 1."""
    database = postgres.database(timeout=2).rsplit("/", 1)[1].split("?")[0]
    servers = []
    for k in range(SERVICES):
        namespace = Namespace(links=2)
        namespaces.append(namespace)
        store = postgres.url(database, host=namespace.links[1].host_address, timeout=2)
        server = Server(
            LEAD,
            ["--store", store, "--no-reload"],
            log / f"ns-{k}.log",
            namespace.links[0].address,
            namespace.command(),
        )
        servers.append(server.start())
    return servers, postgres.url(database)


@pytest.mark.slow
def test_services_on_hosts_of_their_own_share_one_store_across_a_network(postgres, namespaces, tmp_path):
    servers, url = services_in_namespaces(postgres, namespaces, tmp_path)
    try:
        batches, distinct = history(1500, seed=11)
        load = Load([s.url for s in servers], batches, senders=6).start().join()
        check(load, batches, distinct, url)
    finally:
        for server in servers:
            server.stop()


@pytest.mark.slow
def test_a_service_cut_off_from_the_store_answers_503_until_the_link_is_back(postgres, namespaces, tmp_path):
    servers, url = services_in_namespaces(postgres, namespaces, tmp_path)
    try:
        batches, distinct = history(900, seed=13)
        load = Load([s.url for s in servers], batches, senders=4).start()
        cut_off = namespaces[0]
        outage(load, len(batches), lambda: cut_off.take_down(1), lambda: cut_off.bring_up(1), seconds=5)
        assert load.statuses["503"] > 0, "no request met the partition"
        check(load, batches, distinct, url)
    finally:
        for server in servers:
            server.stop()
