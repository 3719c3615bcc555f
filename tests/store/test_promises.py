"""The promises every store keeps (README, "Stores"; the contract's section 2),
as one suite that runs against each kind of store in KINDS: exactly once, a
batch's state, message ids and cursors committed together or not at all, no
lost updates between writers, a rejected event changes nothing, the
deduplication window, and crash safety under kill -9.

A new store joins by adding one entry to KINDS: how to open another connection
to the same store, the URL another process opens it by (None for a store
that lives in one process, like memory:, whose writers are then threads), and
the session fixture that starts its server, if it needs one (tests/servers/)."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import ppdsl
from histories import LEAD, T0, envelope, event_count, history, write
from ppdsl.engine.envelope import parse_envelope, visitor_keys
from ppdsl.engine.processor import APPLIED, DUPLICATE, REJECTED, Processor
from ppdsl.store import DEDUP_WINDOW, Change, Conflict, Store
from ppdsl.store.memory import MemoryStore
from ppdsl.store.sqlite import SQLiteStore
from servers.postgres import postgres_database
from servers import redis as redis_servers

Connector = Callable[[], Store]


@dataclass(frozen=True)
class Kind:
    """One kind of store under test. `connector(folder, window)` gives a
    function that opens a new connection to one store (kept in `folder` if it
    needs files); `url(folder)` names that store for another process, or is
    None when the store can't be shared across processes."""

    name: str
    connector: Callable[[Path, float], Connector]
    url: Callable[[Path], str] | None
    server: str | None = None


def _memory(folder: Path, window: float) -> Connector:
    store = MemoryStore(window=window)
    return lambda: store  # every "connection" is the one store of this process


def _sqlite(folder: Path, window: float) -> Connector:
    return lambda: SQLiteStore(str(folder / "visitors.db"), window=window)


def _postgresql(folder: Path, window: float) -> Connector:
    from ppdsl.store.postgres import PostgresStore

    url = postgres_database(folder)
    return lambda: PostgresStore(url, window=window)


def _redis(server: str) -> Kind:
    def url(folder: Path) -> str:
        return redis_servers.url(server, folder)

    def connector(folder: Path, window: float) -> Connector:
        from ppdsl.store.redis import RedisStore

        return lambda: RedisStore(url(folder), window=window)

    return Kind(server.replace("_server", "").replace("_", "-"), connector, url, server)


KINDS = [
    pytest.param(Kind("memory", _memory, None), id="memory"),
    pytest.param(Kind("sqlite", _sqlite, lambda folder: f"sqlite:///{folder / 'visitors.db'}"), id="sqlite"),
    pytest.param(Kind("postgresql", _postgresql, postgres_database), id="postgresql"),
    pytest.param(_redis("redis_server"), id="redis"),
    pytest.param(_redis("redis_cluster"), id="redis-cluster"),
]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> Kind:
    if request.param.server is not None:
        request.getfixturevalue(request.param.server)  # started once per session
    return request.param


@pytest.fixture
def opened() -> Any:
    """Connections a test opened, closed at its end."""
    stores: list[Store] = []
    yield stores
    for store in stores:
        store.close()


def connections(kind: Kind, folder: Path, opened: list[Store], window: float = DEDUP_WINDOW) -> Connector:
    connector = kind.connector(folder, window)

    def connect() -> Store:
        store = connector()
        opened.append(store)
        return store

    return connect


@pytest.fixture
def connect(kind: Kind, tmp_path: Path, opened: list[Store]) -> Connector:
    return connections(kind, tmp_path, opened)


@pytest.fixture(scope="module")
def rules() -> Any:
    return ppdsl.load(LEAD)


def run(processor: Processor, *envelopes: dict) -> list[str]:
    """One batch through the processor; the status of each envelope."""
    keys = visitor_keys(processor.rules)
    batch = [parse_envelope(e, visitor_keys=keys) for e in envelopes]
    return [outcome.status for outcome in processor.process(batch)]


def state(store: Store, visitor_id: str) -> dict | None:
    found = store.load([visitor_id]).get(visitor_id)
    return None if found is None else found[0]


# ------------------------------------------------------------------ exactly once


def test_a_message_id_seen_in_an_earlier_batch_is_a_duplicate(rules, connect):
    processor = Processor(rules, connect())
    assert run(processor, envelope(1, "v-1")) == [APPLIED]
    assert run(processor, envelope(1, "v-1")) == [DUPLICATE]
    assert run(processor, envelope(1, "v-1", name="signup")) == [DUPLICATE]  # the id, not the content, decides
    assert event_count(state(connect(), "v-1")) == 1


def test_a_message_id_twice_in_one_batch_is_applied_once(rules, connect):
    processor = Processor(rules, connect())
    assert run(processor, envelope(1, "v-1"), envelope(2, "v-1"), envelope(1, "v-1")) == [APPLIED, APPLIED, DUPLICATE]
    assert event_count(state(connect(), "v-1")) == 2


def test_a_message_id_is_a_duplicate_for_every_connection_and_visitor(rules, connect):
    assert run(Processor(rules, connect()), envelope(1, "v-1")) == [APPLIED]
    assert run(Processor(rules, connect()), envelope(1, "v-1"), envelope(1, "v-2")) == [DUPLICATE, DUPLICATE]
    assert state(connect(), "v-2") is None


def test_events_without_a_message_id_are_never_duplicates(rules, connect):
    same = envelope(1, "v-1", message_id=False)
    processor = Processor(rules, connect())
    assert run(processor, same, same) == [APPLIED, APPLIED]
    assert run(processor, same) == [APPLIED]
    assert event_count(state(connect(), "v-1")) == 3


# ---------------------------------------------------------- all or nothing


def test_a_conflict_on_a_visitor_commits_nothing_of_the_change(connect):
    store = connect()
    store.commit(Change({"a": ({"x": 1}, 0)}, [("m-1", T0)], {"replay:c": {"lines": 1}}, T0))
    stale = Change(
        {"b": ({"y": 1}, 0), "a": ({"x": 2}, 0)},  # "a" was read before it existed: stale
        [("m-2", T0 + 1)],
        {"replay:c": {"lines": 2}, "replay:d": {"lines": 1}},
        T0 + 1,
    )
    with pytest.raises(Conflict):
        store.commit(stale)
    other = connect()
    assert {k: s for k, (s, _) in other.load(["a", "b"]).items()} == {"a": {"x": 1}}
    assert other.seen(["m-1", "m-2"]) == {"m-1"}
    assert other.cursor("replay:c") == {"lines": 1}
    assert other.cursor("replay:d") is None


def test_a_conflict_on_a_message_id_commits_nothing_of_the_change(connect):
    store = connect()
    store.commit(Change({"a": ({"x": 1}, 0)}, [("m-1", T0)], {}, T0))
    with pytest.raises(Conflict):
        store.commit(Change({"b": ({"y": 1}, 0)}, [("m-2", T0), ("m-1", T0)], {"replay:c": {"lines": 9}}, T0))
    other = connect()
    assert set(other.load(["a", "b"])) == {"a"}
    assert other.seen(["m-1", "m-2"]) == {"m-1"}
    assert other.cursor("replay:c") is None


def test_a_change_commits_its_states_message_ids_and_cursors_together(connect):
    store = connect()
    store.commit(Change({"a": ({"x": 1}, 0), "b": ({"y": 2}, 0)}, [("m-1", T0), ("m-2", T0)], {"k": [1, "two"]}, T0))
    other = connect()
    assert {k: s for k, (s, _) in other.load(["a", "b", "c"]).items()} == {"a": {"x": 1}, "b": {"y": 2}}
    assert other.seen(["m-1", "m-2", "m-3"]) == {"m-1", "m-2"}
    assert other.cursor("k") == [1, "two"]
    version = other.load(["a"])["a"][1]
    other.commit(Change({"a": ({"x": 3}, version)}))
    with pytest.raises(Conflict):  # the first connection's version of "a" is now stale
        store.commit(Change({"a": ({"x": 4}, version)}))
    assert state(connect(), "a") == {"x": 3}


def test_every_visitor_is_listed_in_id_order_and_counted(rules, connect):
    names = ["v-b", "v-a", "访客-1", "v-c", "V-0"]
    run(Processor(rules, connect()), *(envelope(n, name) for n, name in enumerate(names)))
    store = connect()
    assert [visitor_id for visitor_id, _ in store.visitors()] == sorted(names)
    assert store.count() == 5
    assert all(event_count(s) == 1 for _, s in store.visitors())


# ------------------------------------------------------------ no lost updates


def test_a_writer_with_a_stale_cache_redoes_its_batch(rules, connect):
    first, second = Processor(rules, connect()), Processor(rules, connect())
    assert run(first, envelope(1, "v-1")) == [APPLIED]
    assert run(second, envelope(2, "v-1")) == [APPLIED]  # second read v-1 after first wrote it
    assert run(first, envelope(3, "v-1")) == [APPLIED]  # first's cached v-1 is stale: it must read again
    assert run(second, envelope(3, "v-1"), envelope(4, "v-1")) == [DUPLICATE, APPLIED]
    assert event_count(state(connect(), "v-1")) == 4


def _write_all(connect: Connector, rules: Any, envelopes: list[dict], start: Any) -> None:
    """One writer: its share of the events in batches of three, on its own connection."""
    store = connect()
    try:
        processor = Processor(rules, store)
        start.wait()
        for n in range(0, len(envelopes), 3):
            run(processor, *envelopes[n : n + 3])
    finally:
        store.close()


def _write_at_once(kind: Kind, connect: Connector, rules: Any, shares: list[list[dict]]) -> None:
    """One writer per share, all at once: processes, or threads for a store of one process."""
    if kind.url is None:
        start: Any = threading.Barrier(len(shares))
        writers: list[Any] = [threading.Thread(target=_write_all, args=(connect, rules, s, start)) for s in shares]
    else:
        fork = multiprocessing.get_context("fork")
        start = fork.Barrier(len(shares))
        writers = [fork.Process(target=_write_all, args=(connect, rules, s, start)) for s in shares]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    assert [getattr(w, "exitcode", 0) for w in writers] == [0] * len(shares)


def _one_by_one(rules: Any, events: list[dict]) -> dict:
    processor = Processor(rules, MemoryStore())
    for e in events:
        run(processor, e)
    return dict(processor.store.visitors())


EVENTS = [envelope(n, f"v-{n % 3}", name=("click", "signup")[n % 2]) for n in range(240)]


def test_concurrent_writers_lose_no_update(rules, kind, tmp_path, opened):
    """Four writers on the same three visitors, each with its own events: the
    final states equal those of the same events processed one after another."""
    connect = connections(kind, tmp_path, opened)
    _write_at_once(kind, connect, rules, [EVENTS[w::4] for w in range(4)])
    store = connect()
    assert dict(store.visitors()) == _one_by_one(rules, EVENTS)
    assert [event_count(s) for _, s in store.visitors()] == [80, 80, 80]
    assert store.seen([e["message_id"] for e in EVENTS]) == {e["message_id"] for e in EVENTS}


def test_concurrent_writers_of_the_same_events_apply_each_once(rules, kind, tmp_path, opened):
    """Four writers, each with every event (as retries delivered to four
    services would be): each message id is applied once."""
    connect = connections(kind, tmp_path, opened)
    _write_at_once(kind, connect, rules, [EVENTS[w * 60 :] + EVENTS[: w * 60] for w in range(4)])
    store = connect()
    assert [event_count(s) for _, s in store.visitors()] == [80, 80, 80]
    assert dict(store.visitors()) == _one_by_one(rules, EVENTS)


# ---------------------------------------------------- a rejected event changes nothing


def test_a_rejected_event_changes_nothing_and_leaves_its_message_id_free(rules, connect):
    processor = Processor(rules, connect())
    assert run(processor, envelope(1, "v-1")) == [APPLIED]
    before = state(connect(), "v-1")
    bad = {**envelope(2, "v-1", name="no_such_event"), "visitor": {"user_fullname": "Li Lei"}}
    assert run(processor, bad, envelope(9, "v-9", name="nor_this")) == [REJECTED, REJECTED]
    store = connect()
    assert state(store, "v-1") == before
    assert state(store, "v-9") is None
    assert store.seen(["m-2", "m-9"]) == set()
    fixed = {**envelope(2, "v-1", name="signup"), "visitor": {"user_fullname": "Li Lei"}}
    assert run(Processor(rules, connect()), fixed) == [APPLIED]
    after = state(connect(), "v-1")
    assert after["user_fullname"] == "Li Lei" and event_count(after) == 2


def test_a_rejected_event_between_good_ones_of_a_batch_changes_nothing(rules, connect):
    processor = Processor(rules, connect())
    batch = [envelope(1, "v-1"), envelope(2, "v-1", t=-5), envelope(3, "v-1")]
    assert run(processor, *batch) == [APPLIED, REJECTED, APPLIED]
    assert event_count(state(connect(), "v-1")) == 2
    assert connect().seen(["m-1", "m-2", "m-3"]) == {"m-1", "m-3"}


# ----------------------------------------------------------- the dedup window


def test_a_message_id_is_remembered_within_the_window_and_forgotten_after_it(rules, kind, tmp_path, opened):
    window = 3600.0
    connect = connections(kind, tmp_path, opened, window)
    processor = Processor(rules, connect())
    assert run(processor, envelope(1, "v-1", t=T0)) == [APPLIED]
    assert run(processor, envelope(2, "v-2", t=T0 + window / 2)) == [APPLIED]
    assert run(processor, envelope(1, "v-1", t=T0 + window / 2)) == [DUPLICATE]  # within the window
    assert run(processor, envelope(3, "v-3", t=T0 + 2 * window)) == [APPLIED]  # time moves on past m-1
    fresh = Processor(rules, connect())
    assert run(fresh, envelope(1, "v-1", t=T0 + 2 * window)) == [APPLIED]  # m-1 is forgotten
    assert run(fresh, envelope(3, "v-3", t=T0 + 2 * window)) == [DUPLICATE]  # m-3 is not
    assert event_count(state(connect(), "v-1")) == 2


def test_the_default_window_is_seven_days():
    assert DEDUP_WINDOW == 7 * 24 * 3600


# ------------------------------------------------------------ crash safety

_REPLAYER = """
import sys
import ppdsl
from ppdsl.engine.replay import replay
from ppdsl.store import open_store
flow, url, events, actions, batch, jobs, order = sys.argv[1:]
rules = ppdsl.load(flow)
print("ready", flush=True)
replay(rules, lambda: open_store(url), [events], actions=actions, batch=int(batch), jobs=int(jobs), order=order)
print("done", flush=True)
"""


def _replayer(url: str, events: Path, actions: Path, jobs: int, order: str = "arrival") -> subprocess.Popen:
    args = [sys.executable, "-c", _REPLAYER, str(LEAD), url, str(events), str(actions), "25", str(jobs), order]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    return child


@pytest.mark.parametrize("jobs, order", [(1, "arrival"), (2, "arrival"), (1, "time")])
def test_replays_killed_at_random_moments_end_as_one_clean_run(kind, tmp_path, opened, jobs, order):
    if kind.url is None:
        pytest.skip(f"{kind.name} lives in one process: nothing survives its kill")
    events = write(tmp_path / "history.jsonl", history(3000))  # every third line without a message_id
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    clean.mkdir()
    crashed.mkdir()
    child = _replayer(kind.url(clean), events, clean / "actions.jsonl", 1, order)
    started = time.monotonic()
    assert child.wait(120) == 0 and child.stdout is not None and child.stdout.read() == "done\n"
    seconds = time.monotonic() - started
    rng = random.Random(int(os.environ.get("PPDSL_KILL_SEED", "9")))
    interrupted = 0
    for _ in range(6):
        child = _replayer(kind.url(crashed), events, crashed / "actions.jsonl", jobs, order)
        time.sleep(rng.uniform(0.0, seconds / 3))
        interrupted += child.poll() is None
        child.send_signal(signal.SIGKILL)
        child.wait(60)
        assert child.stdout is not None
        child.stdout.close()
    child = _replayer(kind.url(crashed), events, crashed / "actions.jsonl", jobs, order)
    assert child.wait(120) == 0
    assert interrupted >= 3
    want = connections(kind, clean, opened)()
    got = connections(kind, crashed, opened)()
    assert dict(got.visitors()) == dict(want.visitors())
    assert sum(event_count(s) for _, s in got.visitors()) == 3000
    assert (crashed / "actions.jsonl").read_bytes() == (clean / "actions.jsonl").read_bytes()


def _stat(pid: int) -> list[str]:
    """A process's state and parent, from Linux's /proc; [] for one that is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]
    except (OSError, IndexError):
        return []


def _running(pid: int) -> bool:
    stat = _stat(pid)
    return bool(stat) and stat[0] not in "ZX"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only Linux ends a part with its parent")
def test_the_parts_of_a_replay_killed_with_jobs_end_with_it(kind, tmp_path, opened):
    """A part left running would work beside the replay started again, from the
    same cursors, and apply lines without a message_id twice."""
    if kind.url is None:
        pytest.skip(f"{kind.name} lives in one process")
    events = write(tmp_path / "history.jsonl", history(20_000, without_ids=1))
    child = _replayer(kind.url(tmp_path), events, tmp_path / "actions.jsonl", 2)
    parts: list[int] = []
    while len(parts) < 2 and child.poll() is None:
        parts = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and _stat(int(p.name))[1:] == [str(child.pid)]
        ]
    child.send_signal(signal.SIGKILL)
    child.wait(60)
    assert child.stdout is not None
    child.stdout.close()
    assert len(parts) == 2
    for _ in range(3000):  # killed with the replay, they end at once; left running, they finish its work
        if not any(_running(pid) for pid in parts):
            break
        time.sleep(0.01)
    store = connections(kind, tmp_path, opened)()
    assert sum(event_count(s) for _, s in store.visitors()) < 20_000
