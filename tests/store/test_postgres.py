"""The PostgreSQL store's own behaviour, against a real server
(tests/servers/postgres.py): a wrong URL is one line at start-up with the
password masked; the schema is made once when processes start at once, an
older one is upgraded and a newer or foreign one refused; states JSONB can't
hold exactly come back as they were; a server stopped mid-load is a
StoreError, not a hang, the store recovers when it is back, and nothing is
applied twice; a forked child and its parent share a store object safely;
and `ppdsl replay` and `ppdsl visitors` through the command line."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

import ppdsl
from histories import LEAD, envelope, event_count, history, write
from ppdsl.cli.app import main
from ppdsl.engine.envelope import parse_envelope, visitor_keys
from ppdsl.engine.processor import APPLIED, DUPLICATE, Processor
from ppdsl.store import Change, StoreError, masked, open_store
from ppdsl.store.postgres import _MIGRATIONS, SCHEMA, PostgresStore
from servers.netns import Namespace
from servers.postgres import PASSWORD, PostgresServer, postgres_database, postgres_server


@pytest.fixture(scope="module")
def rules() -> Any:
    return ppdsl.load(LEAD)


def cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def sql(url: str, statement: str) -> list[Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else []


# ------------------------------------------------------------ a wrong URL


def _wrong(url: str) -> list[tuple[str, str]]:
    server = postgres_server()
    port = str(server.port)
    return [
        (url.replace(PASSWORD, "not-the-password"), "password authentication failed"),
        (url.replace(port, str(_closed_port())), "Connection refused"),
        (url.replace("127.0.0.1", "no-such-host.invalid"), "no-such-host.invalid"),
        (url.rsplit("/", 1)[0] + "/no_such_db", 'database "no_such_db" does not exist'),
    ]


def _closed_port() -> int:
    from servers.postgres import free_port

    return free_port()


def test_a_wrong_password_port_host_or_database_is_one_line_at_open(postgres_url):
    for url, reason in _wrong(postgres_url):
        with pytest.raises(StoreError) as exc:
            open_store(url)
        message = str(exc.value)
        assert "\n" not in message and reason in message, message
        assert "can't connect to PostgreSQL store postgresql://postgres:***@" in message
        assert "not-the-password" not in message and PASSWORD not in message


@pytest.mark.parametrize("command", ["visitors", "replay", "serve"])
def test_the_commands_say_so_at_start_up_with_the_password_masked(postgres_url, tmp_path, command):
    events = write(tmp_path / "h.jsonl", history(10))
    for url, reason in _wrong(postgres_url):
        args = {"visitors": [url, "--count"], "replay": [LEAD, events, "--store", url], "serve": [LEAD, "--store", url]}
        result = cli(command, *args[command])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
        assert reason in result.stderr and "not-the-password" not in result.stderr and PASSWORD not in result.stderr


def test_urls_are_shown_with_the_password_masked(postgres_url):
    assert masked("postgresql://u:p%40ss@h:5432/db?sslmode=require") == "postgresql://u:***@h:5432/db?sslmode=require"
    assert masked("postgres://u@h/db?password=pw&pool_size=2") == "postgres://u@h/db?password=***&pool_size=2"
    assert masked("sqlite:///a:b@c.db") == "sqlite:///a:b@c.db" and masked("x:y@z.db") == "x:y@z.db"
    store = open_store(postgres_url)
    assert PASSWORD not in store.url and store.url == masked(postgres_url)
    store.close()


def test_ppdsl_options_in_the_url_are_checked(postgres_url):
    with pytest.raises(StoreError, match="pool_size must be a positive number, got 'many'"):
        open_store(postgres_url + "?pool_size=many")
    store = open_store(postgres_url + "?pool_size=2&timeout=5&application_name=mine")
    assert (store.pool_size, store.timeout) == (2, 5.0)  # type: ignore[attr-defined]
    assert store.count() == 0
    store.close()


# ------------------------------------------------------------ the schema


def _open_at_once(url: str, start: Any) -> None:
    start.wait()
    PostgresStore(url).close()


def test_processes_starting_at_once_make_the_schema_once():
    url = postgres_database()
    fork = multiprocessing.get_context("fork")
    start = fork.Barrier(4)
    openers = [fork.Process(target=_open_at_once, args=(url, start)) for _ in range(4)]
    for p in openers:
        p.start()
    for p in openers:
        p.join(60)
    assert [p.exitcode for p in openers] == [0] * 4
    assert sql(url, "SELECT key, value FROM meta") == [("schema", str(SCHEMA))]


def test_an_older_schema_is_upgraded_by_a_writer_and_keeps_its_visitors():
    url = postgres_database()
    with psycopg.connect(url, autocommit=True) as conn:  # what the first ppdsl with this store made
        for statement in _MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("""INSERT INTO visitors VALUES ('v-1', '{"event_count_1": 3}', NULL, 4)""")
    reader = open_store(url, readonly=True)  # ppdsl visitors reads it as it is
    assert reader.count() == 1
    reader.close()
    assert sql(url, "SELECT value FROM meta WHERE key = 'schema'") == [("1",)]
    store = PostgresStore(url)
    assert store.load(["v-1"]) == {"v-1": ({"event_count_1": 3}, 4)}
    store.close()
    assert sql(url, "SELECT value FROM meta WHERE key = 'schema'") == [(str(SCHEMA),)]
    assert sql(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'seen' AND indexname = 'seen_time'")


def test_a_newer_schema_is_refused_with_upgrade_ppdsl():
    url = postgres_database()
    PostgresStore(url).close()
    sql(url, "UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(
        StoreError, match=r"written by a newer ppdsl \(store schema 99, this ppdsl reads 2\).*upgrade ppdsl"
    ):
        open_store(url)


@pytest.mark.parametrize(
    "tables",
    [
        ["CREATE TABLE visitors (name text, email text)"],
        ["CREATE TABLE meta (k int)", "CREATE TABLE seen (id int)"],
        ["CREATE TABLE meta (key text, value text)", "INSERT INTO meta VALUES ('owner', 'crm')"],
    ],
)
def test_unrelated_tables_of_the_same_names_are_refused_and_left_alone(tables):
    url = postgres_database()
    for statement in tables:
        sql(url, statement)
    before = sql(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")
    with pytest.raises(StoreError, match="that are not a ppdsl store: give another database") as exc:
        open_store(url)
    assert "\n" not in str(exc.value) and PASSWORD not in str(exc.value)
    assert (
        sql(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1") == before
    )


def test_visitors_on_an_empty_database_says_to_replay_first():
    url = postgres_database()
    result = cli("visitors", url, "--count")
    assert result.exit_code == 2 and "no ppdsl store in PostgreSQL database" in result.stderr
    assert sql(url, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'") == [(0,)]


# ------------------------------------------------------------ states


def test_states_jsonb_cant_hold_come_back_as_they_were(postgres_url):
    store = PostgresStore(postgres_url)
    odd = {
        "nul": {"name": "Li\x00Lei"},
        "surrogate": {"name": "a\ud800b"},
        "big float": {"x": 1e20, "y": 2.5},
        "negative zero": {"x": -0.0},
        "nested": {"tags": ["a", {"k": 1e300}]},
        "plain": {"name": "北京 😀", "n": 10**30, "f": 0.1, "t": True, "none": None},
    }
    store.commit(Change({k: (v, 0) for k, v in odd.items()}))
    other = PostgresStore(postgres_url)
    loaded = {k: s for k, (s, _) in other.load(list(odd)).items()}
    assert json.dumps(loaded, sort_keys=True) == json.dumps(odd, sort_keys=True)
    assert sql(postgres_url, "SELECT id FROM visitors WHERE raw IS NULL") == [("plain",)]
    store.close()
    other.close()


# ------------------------------------------------------------ a server that goes away


def _batches(rules: Any, count: int) -> list[list[Any]]:
    keys = visitor_keys(rules)
    envelopes = [parse_envelope(envelope(n, f"v-{n % 7}"), visitor_keys=keys) for n in range(count)]
    return [envelopes[n : n + 10] for n in range(0, count, 10)]


def test_a_server_stopped_mid_load_is_a_store_error_and_nothing_is_applied_twice(rules):
    server = PostgresServer().start()
    try:
        url = server.database() + "?timeout=3"
        batches = _batches(rules, 3000)
        processor = Processor(rules, open_store(url))
        stopper = threading.Thread(target=server.stop)
        failures: list[str] = []
        done = 0
        for batch in batches:  # until the server goes away
            if done == 20:
                stopper.start()
                stopped = time.monotonic()
            try:
                processor.process(batch)
                done += 1
            except StoreError as exc:
                failures.append(str(exc))
                break
        stopper.join()
        assert failures, "the load ended before the server stopped: make it longer"
        assert time.monotonic() - stopped < 30  # an error, not a hang
        assert "\n" not in failures[0] and PASSWORD not in failures[0] and "PostgreSQL store" in failures[0]
        with pytest.raises(StoreError, match="try again when the server is back"):
            processor.process(batches[done])
        server.start()
        deadline = time.monotonic() + 60
        statuses: list[str] = []
        for batch in batches:  # a client retries everything from the start: the store recovers by itself
            while True:
                try:
                    statuses += [o.status for o in processor.process(batch)]
                    break
                except StoreError:
                    assert time.monotonic() < deadline, "the store didn't recover"
                    time.sleep(0.2)
        assert statuses.count(APPLIED) + statuses.count(DUPLICATE) == 3000
        assert statuses.count(DUPLICATE) >= done * 10
        store = open_store(url)
        assert sum(event_count(s) for _, s in store.visitors()) == 3000
        store.close()
        processor.store.close()
    finally:
        server.remove()


# ------------------------------------------------------------ fork


def _commit_in_child(store: PostgresStore) -> None:
    store.commit(Change({"child": ({"x": 1}, 0)}))
    os._exit(0)


def test_a_forked_child_opens_its_own_connections(postgres_url):
    store = PostgresStore(postgres_url)
    store.commit(Change({"parent": ({"x": 1}, 0)}))
    child = multiprocessing.get_context("fork").Process(target=_commit_in_child, args=(store,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    store.commit(Change({"parent": ({"x": 2}, 1)}))  # the parent's connections still work
    assert dict(store.visitors()) == {"child": {"x": 1}, "parent": {"x": 2}}
    store.close()


# ------------------------------------------------------------ the command line


def test_replay_and_visitors_through_the_command_line(postgres_url, tmp_path):
    events = write(tmp_path / "h.jsonl", history(800, visitors=30))
    lite = tmp_path / "lite.db"
    for store in (postgres_url, lite):
        result = cli("replay", LEAD, events, "--store", store, "--jobs", 2, "--json")
        assert result.exit_code == 0, result.output
    where = "count(2) >= 2 and now - last_time(2) > 1h"
    outputs = {}
    for store in (postgres_url, lite):
        listed = cli("visitors", store, "--where", where, "--json")
        assert listed.exit_code == 0, listed.output
        outputs[store] = [json.loads(line) for line in listed.stdout.splitlines()]
        assert cli("visitors", store, "--count").stdout == "30\n"
    assert outputs[postgres_url] == outputs[lite] and outputs[lite]
    plan = cli("visitors", postgres_url, "--where", where, "--count", "--explain-plan")
    assert plan.exit_code == 0 and plan.stdout == f"{len(outputs[lite])}\n"
    assert "plan: pushed down to PostgreSQL (JSONB)" in plan.stderr
    assert "Scan on visitors" in plan.stderr  # PostgreSQL's own EXPLAIN


def commit_once_the_visitor_is_free(store: Any, seconds: float = 15) -> None:
    """Commit v-1's second state, again and again while another writer's
    transaction holds the visitor (each wait ends after the store's timeout:
    the service answers 503, the browser retries), for `seconds` at most."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            store.commit(Change(states={"v-1": ({"event_count_1": 2}, 1)}))
            return
        except StoreError:
            assert time.monotonic() < deadline, "the other writer's transaction still holds the visitor"


def test_a_writer_stalled_mid_commit_does_not_block_the_others_for_long(postgres_url, monkeypatch):
    """A service frozen (or cut off from the network) in the middle of its
    commit, after its UPDATE and before its COMMIT, holds its visitors' row
    locks; the server ends that transaction after the store's timeout, so the
    other writers carry on, and the frozen commit fails without writing."""
    url = postgres_url + "?timeout=1"
    stalled, other = open_store(url), open_store(url)
    other.commit(Change(states={"v-1": ({"event_count_1": 1}, 0)}))
    frozen, thaw = threading.Event(), threading.Event()

    def freeze(*_: Any) -> list[Any]:  # the writer stops between two statements of its transaction
        frozen.set()
        thaw.wait(30)
        return []

    monkeypatch.setattr(stalled, "_writes", freeze)
    failed: list[BaseException] = []

    def commit() -> None:
        try:
            stalled.commit(Change(states={"v-1": ({"event_count_1": 9}, 1)}))
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            failed.append(exc)

    writer = threading.Thread(target=commit)
    writer.start()
    try:
        assert frozen.wait(10)
        commit_once_the_visitor_is_free(other)
        thaw.set()
        writer.join(10)
        assert failed and isinstance(failed[0], StoreError), failed  # the server ended it: nothing written
        assert other.load(["v-1"])["v-1"] == ({"event_count_1": 2}, 2)
    finally:
        thaw.set()
        stalled.close()
        other.close()


# a writer on a host of its own (a network namespace): its UPDATE reaches the server, then the host is gone
_VANISHING_WRITER = """
import sys, time
from ppdsl.store import open_store
store = open_store(sys.argv[1])
with store._connections() as conn, conn.pipeline():
    conn.execute("BEGIN")
    conn.execute("UPDATE visitors SET version = version WHERE id = 'v-1' RETURNING 1").fetchone()
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.mark.slow
def test_a_writer_whose_host_vanishes_mid_commit_does_not_block_the_others_for_long(postgres, namespaces):
    """A service's host that dies between two messages of a commit (no statement
    or idle timer of the server runs then) holds its visitors' row locks until
    the server's TCP finds it gone: after about the store's timeout (the
    session's tcp_user_timeout and keepalives), not minutes or hours later."""
    database = postgres.database(timeout=1).rsplit("/", 1)[1].split("?")[0]
    other = open_store(postgres.url(database, timeout=1))
    other.commit(Change(states={"v-1": ({"event_count_1": 1}, 0)}))
    host = Namespace(links=1)
    namespaces.append(host)
    remote = postgres.url(database, host=host.links[0].host_address, timeout=1)
    writer = subprocess.Popen(
        [*host.command(), sys.executable, "-c", _VANISHING_WRITER, remote], stdout=subprocess.PIPE
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == b"locked\n"
        host.take_down(0)  # the host goes dark: not a packet more, not even the FIN of its closing socket
        writer.kill()
        writer.wait(10)
        commit_once_the_visitor_is_free(other)
        assert other.load(["v-1"])["v-1"] == ({"event_count_1": 2}, 2)
    finally:
        writer.kill()
        other.close()
