"""The Redis store beyond the shared promises (tests/store/test_promises.py):
bad URLs and passwords refused at open in one line that never shows the
password, a server that stops or hangs mid-load (StoreError, then recovery,
nothing applied twice), eviction detected, and the CLI on a redis:// store.
Every test runs against a real redis-server (tests/servers/redis.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import ppdsl
from histories import LEAD, envelope, event_count, history, write
from ppdsl.engine.envelope import parse_envelope, visitor_keys
from ppdsl.engine.processor import APPLIED, DUPLICATE, Processor
from ppdsl.store import Change, StoreError, open_store
from servers.redis import url

pytest.importorskip("redis", reason="the redis extra is not installed")


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_a_wrong_password_or_port_is_one_line_at_open_without_the_password(start_redis):
    server = start_redis("--requirepass", "right-secret")
    with pytest.raises(StoreError) as wrong:
        open_store(f"redis://:wrong-secret@{server.address}/")
    assert "refused the user name or password" in one_line(wrong)
    assert "wrong-secret" not in str(wrong.value) and "redis://:***@" in str(wrong.value)
    with pytest.raises(StoreError) as missing:
        open_store(f"redis://{server.address}/")
    assert "password" in one_line(missing)
    open_store(f"redis://:right-secret@{server.address}/").close()
    with pytest.raises(StoreError) as closed:
        open_store(f"redis://:right-secret@127.0.0.1:{server.port + 1 if server.port < 65535 else 1}/")
    assert "can't reach Redis" in one_line(closed) and "right-secret" not in str(closed.value)


@pytest.mark.parametrize(
    "bad, words",
    [
        ("redis://127.0.0.1:notaport/", "port of"),
        ("redis://127.0.0.1:6379/x", "database after the host"),
        ("redis://127.0.0.1:6379/?prefix=a{b}", "prefix must be"),
        ("redis://127.0.0.1:6379/?cluster=yes", "unknown option 'cluster'"),
        ("redis://127.0.0.1:6379/?wait=all", "wait must be a number of replicas"),
    ],
)
def test_a_malformed_url_is_refused_before_connecting(bad, words):
    with pytest.raises(StoreError, match=words):
        open_store(bad)


@pytest.mark.parametrize("command", ["visitors", "serve"])
def test_the_cli_refuses_a_wrong_password_in_one_line(start_redis, cli, command):
    server = start_redis("--requirepass", "right-secret")
    url = f"redis://:wrong-secret@{server.address}/"
    result = cli(command, *([url, "--count"] if command == "visitors" else [LEAD, "--store", url]))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "wrong-secret" not in result.stderr + result.stdout


def test_visitors_of_a_store_never_written_is_a_clear_error(redis_server, tmp_path, cli):
    result = cli("visitors", url("redis_server", tmp_path), "--count")
    assert result.returncode == 2 and "no store at" in result.stderr and "replay events into it first" in result.stderr


def test_replay_and_visitors_through_the_cli(redis_server, tmp_path, cli):
    store = url("redis_server", tmp_path)
    events = write(tmp_path / "history.jsonl", history(300))
    first = cli("replay", LEAD, events, "--store", store, "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["events"]["applied"] == 300
    again = cli("replay", LEAD, events, "--store", store, "--json")
    assert json.loads(again.stdout)["events"]["already_replayed"] == 300
    counted = cli("visitors", store, "--count")
    assert counted.returncode == 0 and int(counted.stdout) == 20
    listed = cli("visitors", store, "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sum(event_count(r["state"]) for r in rows) == 300
    assert [r["visitor_id"] for r in rows] == sorted(r["visitor_id"] for r in rows)
    where = ("--where", "count(signup) >= 3", "--flow", LEAD, "--json")
    some = cli("visitors", store, *where, "--explain-plan")
    assert some.returncode == 0 and "evaluated in Python" in some.stderr
    sqlite = tmp_path / "same.db"
    assert cli("replay", LEAD, events, "--store", sqlite).returncode == 0
    assert some.stdout == cli("visitors", sqlite, *where).stdout  # SQL in SQLite, Python here: the same answer
    assert 0 < len(some.stdout.splitlines()) < 20


def _batch(rules, start: int, count: int) -> list:
    keys = visitor_keys(rules)
    return [parse_envelope(envelope(n, f"v-{n % 7}"), visitor_keys=keys) for n in range(start, start + count)]


def test_a_server_stopped_mid_load_is_a_store_error_then_the_load_resumes_with_nothing_twice(start_redis, tmp_path):
    server = start_redis("--appendonly", "yes", "--appendfsync", "always")
    rules = ppdsl.load(LEAD)
    store = open_store(f"redis://{server.address}/?timeout=2")
    processor = Processor(rules, store)
    for start in range(0, 200, 20):
        processor.process(_batch(rules, start, 20))
    server.stop()
    with pytest.raises(StoreError) as down:
        processor.process(_batch(rules, 200, 20))
    assert "can't reach Redis" in one_line(down) and "nothing of this batch was written" not in str(down.value)
    server.start()
    # the senders retry everything from 180 on: what was committed comes back as duplicates
    outcomes = [o.status for o in processor.process(_batch(rules, 180, 60))]
    assert outcomes == [DUPLICATE] * 20 + [APPLIED] * 40
    again = open_store(f"redis://{server.address}/")
    assert sum(event_count(s) for _, s in again.visitors()) == 240
    again.close()
    store.close()


def test_a_server_that_hangs_is_a_store_error_not_a_hang(start_redis):
    server = start_redis()
    store = open_store(f"redis://{server.address}/?timeout=1")
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        with pytest.raises(StoreError) as hung:
            store.commit(Change({"a": ({"x": 1}, 0)}))
        assert "did not answer in time" in one_line(hung)
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    store.commit(Change({"a": ({"x": 1}, 0)}))  # the connection recovers by itself
    assert store.load(["a"]) == {"a": ({"x": 1}, 1)}
    store.close()


def test_a_replay_into_a_server_that_stops_resumes_as_one_clean_run(start_redis, tmp_path):
    """The server is stopped while `ppdsl replay` writes to it, then started
    again: the replay run again ends with every line applied exactly once,
    those without a message_id too."""
    server = start_redis("--appendonly", "yes", "--appendfsync", "always")
    store = f"redis://{server.address}/?timeout=2"
    events = write(tmp_path / "history.jsonl", history(20_000, without_ids=2))
    command = [sys.executable, "-m", "ppdsl", "replay", str(LEAD), str(events), "--store", store, "--json"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    probe = None
    while child.poll() is None and probe is None:  # stop it once some batches are in
        counted = server.cli("HGET", "{ppdsl}:meta", "visitors").stdout.strip()
        probe = counted if counted.isdigit() and int(counted) > 0 else None
    server.stop()
    out, err = child.communicate(timeout=120)
    if child.returncode == 0:
        pytest.skip("the replay finished before the server stopped")
    assert child.returncode == 2 and err.startswith("error: ") and "can't reach Redis" in err, err
    server.start()
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)["events"]
    assert report["applied"] + report["already_replayed"] == 20_000
    opened = open_store(store)
    assert sum(event_count(s) for _, s in opened.visitors()) == 20_000
    opened.close()


def test_a_server_that_may_evict_keys_is_refused(start_redis):
    server = start_redis("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")
    with pytest.raises(StoreError) as refused:
        open_store(f"redis://{server.address}/")
    assert "maxmemory-policy allkeys-lru" in one_line(refused) and "noeviction" in str(refused.value)


def test_keys_evicted_under_memory_pressure_are_detected(start_redis, tmp_path):
    """A store written under noeviction; then an operator lets Redis evict
    (allkeys-random with a small maxmemory) and fills it: the store's keys go.
    The open store's next commit and every later open say so, instead of
    starting its visitors again from nothing, even once noeviction is back."""
    server = start_redis()
    address = f"redis://{server.address}/"
    store = open_store(address)
    store.commit(Change({f"v-{n}": ({"n": n}, 0) for n in range(200)}, [(f"m-{n}", 1.0) for n in range(200)]))
    server.cli("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
    server.cli("CONFIG", "SET", "maxmemory", "3mb")
    filler = "x" * 10_000
    for n in range(0, 2000, 100):
        server.cli("MSET", *(item for k in range(n, n + 100) for item in (f"junk:{k}", filler)))
    assert int(server.cli("INFO", "stats").stdout.split("evicted_keys:")[1].split()[0]) > 0
    store.policy_every = 0.0  # a service checks once a minute
    with pytest.raises(StoreError) as running:
        store.commit(Change({"v-new": ({"n": 0}, 0)}))
    assert "may evict keys" in one_line(running) or "marker key" in str(running.value)
    store.close()
    with pytest.raises(StoreError) as refused:
        open_store(address)
    assert "maxmemory-policy allkeys-random" in one_line(refused)
    server.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
    server.cli("CONFIG", "SET", "maxmemory", "0")
    with pytest.raises(StoreError) as gone:
        open_store(address)
    assert "evicted" in one_line(gone) and "restore a backup" in str(gone.value)


def test_a_commit_finds_the_marker_key_gone(redis_server, tmp_path):
    store = open_store(url("redis_server", tmp_path))
    store.commit(Change({"a": ({"x": 1}, 0)}))
    prefix = url("redis_server", tmp_path).split("prefix=")[1]
    redis_server.cli("DEL", "{" + prefix + "}:meta")
    with pytest.raises(StoreError) as gone:
        store.commit(Change({"a": ({"x": 2}, 1)}))
    assert "marker key" in one_line(gone) and "nothing of this batch was written" in str(gone.value)
    assert store.load(["a"]) == {"a": ({"x": 1}, 1)}
    store.close()


def test_a_server_out_of_memory_writes_nothing_of_a_batch(start_redis):
    server = start_redis("--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
    store = open_store(f"redis://{server.address}/")
    committed = 0
    with pytest.raises(StoreError) as full:
        for n in range(1000):
            store.commit(Change({f"v-{n}": ({"pad": "x" * 5000}, 0)}, [(f"m-{n}", 1.0)]))
            committed += 1
    assert "out of memory" in one_line(full)
    assert store.count() == committed and store.seen([f"m-{committed}"]) == set()
    store.close()


def test_wait_asks_replicas_to_hold_each_commit(start_redis):
    master = start_redis()
    replica = start_redis("--replicaof", "127.0.0.1", str(master.port))
    for _ in range(500):
        if "master_link_status:up" in replica.cli("INFO", "replication").stdout:
            break
        time.sleep(0.02)
    store = open_store(f"redis://{master.address}/?wait=1&timeout=5")
    store.commit(Change({"a": ({"x": 1}, 0)}))  # the replica acknowledged it
    replica.stop()
    with pytest.raises(StoreError) as alone:
        store.commit(Change({"a": ({"x": 2}, 1)}))
    assert "only 0 of the 1 replicas" in one_line(alone)
    store.close()


def test_the_service_answers_503_while_redis_is_down_and_applies_nothing_twice(start_redis, tmp_path):
    pytest.importorskip("starlette", reason="the serve extra is not installed")
    import httpx

    from serve.serving import Server

    server = start_redis("--appendonly", "yes", "--appendfsync", "always")
    store = f"redis://{server.address}/?timeout=2"
    service = Server(LEAD, ["--store", store], tmp_path / "serve.log").start()
    try:

        def post(numbers: range) -> httpx.Response:
            batch = [envelope(n, f"v-{n % 3}") for n in numbers]
            return httpx.post(service.url + "/v1/track", json={"batch": batch}, timeout=30)

        assert [r["status"] for r in post(range(5)).json()["results"]] == [APPLIED] * 5
        server.stop()
        down = post(range(5, 10))
        assert down.status_code == 503 and down.headers["retry-after"] == "1"
        server.start()
        retried = post(range(10))  # the browser sends both batches again
        assert retried.status_code == 200
        assert [r["status"] for r in retried.json()["results"]] == [DUPLICATE] * 5 + [APPLIED] * 5
    finally:
        service.stop()
    assert "store unavailable" in service.log() and server.address in service.log()
    opened = open_store(store)
    assert sum(event_count(s) for _, s in opened.visitors()) == 10
    opened.close()


def test_a_master_without_its_replicas_refuses_the_commit_whole(start_redis):
    server = start_redis()
    store = open_store(f"redis://{server.address}/")
    server.cli("CONFIG", "SET", "min-replicas-to-write", "1")
    with pytest.raises(StoreError) as refused:
        store.commit(Change({"a": ({"x": 1}, 0)}, [("m-1", 1.0)], {"k": 1}, 1.0))
    assert "min-replicas-to-write" in one_line(refused) and "nothing of this batch was written" in str(refused.value)
    assert store.load(["a"]) == {} and store.seen(["m-1"]) == set() and store.cursor("k") is None
    store.close()


def test_one_node_of_a_cluster_is_enough_to_find_the_cluster(redis_cluster, tmp_path, cli):
    """Any single node's address opens the cluster (INFO says cluster_enabled), the
    nodes that don't hold the store's slot too; `ppdsl visitors` reads it."""
    prefix = url("redis_cluster", tmp_path).split("?")[1]
    for node in redis_cluster:
        store = open_store(f"redis://{node.address}/?{prefix}")
        store.commit(Change({f"from-{node.port}": ({"n": 1}, 0)}))
        store.close()
    listed = cli("visitors", f"redis://{redis_cluster[0].address}/?{prefix}", "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(json.loads(line)["visitor_id"] for line in listed.stdout.splitlines()) == sorted(
        f"from-{node.port}" for node in redis_cluster
    )


def test_without_the_redis_extra_a_redis_url_names_the_extra():
    code = "import sys; sys.modules['redis'] = None\nfrom ppdsl.store import open_store\nopen_store('redis://h:1/')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "StoreError: redis:// stores need the redis extra: pip install 'ppdsl[redis]'" in result.stderr
