"""The PostgreSQL store with 2 writers, against hand-written baselines doing
the same work with plain psycopg, as events per second and ratios measured in
one run (benchmarks/README.md, "PostgreSQL", has the figures).

    python benchmarks/postgres.py                    # 20k events of examples/history.jsonl.gz, 5 rounds
    python benchmarks/postgres.py --quick            # a smoke run
    python benchmarks/postgres.py --url postgresql://user:pw@host/db   # an existing server (its tables are dropped)

Without --url it starts a private PostgreSQL on loopback, as the tests do
(tests/servers/postgres.py; fsync is off there, so the figures are the
client's and the server's CPU, not a disk's).

Two processes write at once, each through its own connections, on a fresh
database per candidate:
  ppdsl         the store (ppdsl/store/postgres.py) through the engine's
                Processor: a version check at commit, message ids, cursors
  row lock      the baseline: per batch BEGIN, insert the new visitors'
                rows, SELECT ... FOR UPDATE the visitors, read which message
                ids were seen, the compiled handle over the batch, upsert the
                states, insert the message ids, COMMIT
  version       the same with a version column instead of the lock: read
                without locking, UPDATE ... WHERE version = read, and redo the
                batch when another writer was first
Two loads: `split`, each writer with its own visitors (by visitor, as
`ppdsl replay --jobs 2` splits a history), and `shared`, both writers on
every visitor (alternate batches), where they race for the same rows.
Every candidate must end with the same states: the run stops if not.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

import psycopg  # noqa: E402

import ppdsl  # noqa: E402
from ppdsl.engine.envelope import Envelope, parse_envelope, visitor_keys  # noqa: E402
from ppdsl.engine.processor import Processor  # noqa: E402
from ppdsl.engine.replay import partition  # noqa: E402
from ppdsl.store.base import dumps  # noqa: E402
from ppdsl.store.postgres import PostgresStore  # noqa: E402

LEAD = ROOT / "examples" / "lead_routing.ppflow"
HISTORY = ROOT / "examples" / "history.jsonl.gz"
BASELINE_TABLES = """
DROP TABLE IF EXISTS meta, visitors, seen, cursors;
CREATE TABLE visitors (id text COLLATE "C" PRIMARY KEY, state jsonb NOT NULL, version bigint NOT NULL);
CREATE TABLE seen (id text PRIMARY KEY, time double precision NOT NULL)
"""
Batches = list[list[Envelope]]


def shares(lines: list[bytes], load: str, batch: int, rules: Any) -> list[Batches]:
    """Each writer's batches: by visitor (split) or alternate batches of the whole history (shared)."""
    keys = visitor_keys(rules)
    if load == "split":
        parts = [[line for line in lines if partition(line, 2) == w] for w in range(2)]
        return [_batched([parse_envelope(json.loads(x), visitor_keys=keys) for x in part], batch) for part in parts]
    every = _batched([parse_envelope(json.loads(x), visitor_keys=keys) for x in lines], batch)
    return [every[0::2], every[1::2]]


def _batched(envelopes: list[Envelope], size: int) -> Batches:
    return [envelopes[n : n + size] for n in range(0, len(envelopes), size)]


# ------------------------------------------------------------------ the candidates


def ppdsl_writer(url: str, batches: Batches) -> int:
    store = PostgresStore(url)
    processor = Processor(RULES[0], store)
    for batch in batches:
        processor.process(batch)
    store.close()
    return 0


def _fold(
    handle: Callable[..., Any], batch: list[Envelope], states: dict[str, dict[str, Any]], seen: set[str]
) -> list[Any]:
    """The batch through the compiled handle, but for message ids seen before; the message ids it applied."""
    taken = []
    for e in batch:
        if e.message_id is not None and e.message_id in seen:
            continue
        state = states.get(e.visitor_id, {})
        if e.visitor:
            state = {**state, **e.visitor}
        try:
            result = handle(e.payload, state, None, at=e.timestamp)
        except ValueError:
            continue
        states[e.visitor_id] = result["visitor"]
        if e.message_id is not None:
            seen.add(e.message_id)
            taken.append((e.message_id, e.timestamp))
    return taken


def row_lock_writer(url: str, batches: Batches) -> int:
    handle = RULES[0].handle
    with psycopg.connect(url) as conn:
        for batch in batches:
            ids = sorted({e.visitor_id for e in batch})
            with conn.transaction():
                conn.execute(  # rows to lock for the visitors that are new, or two writers would both insert one
                    "INSERT INTO visitors (id, state, version) SELECT i, '{}', 0 FROM unnest(%s::text[]) AS i "
                    "ORDER BY i ON CONFLICT DO NOTHING",
                    (ids,),
                )
                rows = conn.execute("SELECT id, state FROM visitors WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (ids,))
                states = dict(rows.fetchall())
                taken = _fold(handle, batch, states, _seen(conn, batch))
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO visitors (id, state, version) VALUES (%s, %s::jsonb, 1) ON CONFLICT (id) "
                        "DO UPDATE SET state = excluded.state, version = visitors.version + 1",
                        [(i, dumps(states[i])) for i in ids if i in states],
                    )
                    cur.executemany("INSERT INTO seen (id, time) VALUES (%s, %s)", taken)
    return 0


def version_writer(url: str, batches: Batches) -> int:
    handle = RULES[0].handle
    with psycopg.connect(url) as conn:
        for batch in batches:
            ids = sorted({e.visitor_id for e in batch})
            while True:  # until no other writer was first
                read = {i: (s, v) for i, s, v in conn.execute(
                    "SELECT id, state, version FROM visitors WHERE id = ANY(%s)", (ids,)
                )}  # fmt: skip
                seen = _seen(conn, batch)
                conn.commit()
                states = {i: s for i, (s, _) in read.items()}
                taken = _fold(handle, batch, states, seen)
                try:
                    with conn.transaction(), conn.cursor() as cur:
                        new = [(i, dumps(states[i])) for i in ids if i in states and i not in read]
                        old = [(dumps(states[i]), i, read[i][1]) for i in ids if i in states and i in read]
                        cur.executemany("INSERT INTO visitors (id, state, version) VALUES (%s, %s::jsonb, 1)", new)
                        cur.executemany(UPDATE, old)
                        if cur.rowcount != len(old):
                            raise _Lost
                        cur.executemany("INSERT INTO seen (id, time) VALUES (%s, %s)", taken)
                    break
                except (_Lost, psycopg.errors.UniqueViolation):
                    continue
    return 0


def _seen(conn: Any, batch: list[Envelope]) -> set[str]:
    ids = [e.message_id for e in batch if e.message_id is not None]
    return {row[0] for row in conn.execute("SELECT id FROM seen WHERE id = ANY(%s)", (ids,))}


UPDATE = "UPDATE visitors SET state = %s::jsonb, version = version + 1 WHERE id = %s AND version = %s"


class _Lost(Exception):
    """Another writer changed a visitor of the batch first."""


RULES: list[Any] = []  # the compiled flow, loaded before the writers fork

WRITERS: dict[str, Callable[[str, Batches], int]] = {
    "ppdsl": ppdsl_writer,
    "row lock": row_lock_writer,
    "version": version_writer,
}


def run(name: str, url: str, work: list[Batches]) -> float:
    """Seconds for the two writers of a candidate, on a fresh database, from a common start."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(BASELINE_TABLES)
        if name == "ppdsl":
            conn.execute("DROP TABLE visitors, seen")
    if name == "ppdsl":
        PostgresStore(url).close()  # the schema, made before the clock starts
    fork = multiprocessing.get_context("fork")
    with fork.Pool(2) as pool:
        started = time.perf_counter()
        results = [pool.apply_async(WRITERS[name], (url, share)) for share in work]
        for r in results:
            r.get(timeout=3600)
        return time.perf_counter() - started


def outcome(url: str, load: str) -> dict[str, Any]:
    """What every candidate must agree on: the states when each visitor's
    events came in order (split); how many events each visitor counts when
    two writers raced for it (shared: the order of its events is the race's)."""
    with psycopg.connect(url) as conn:
        columns = {row[0] for row in conn.execute("SELECT column_name FROM information_schema.columns "
                                                  "WHERE table_name = 'visitors'")}  # fmt: skip
        state = "coalesce(state, raw::jsonb)" if "raw" in columns else "state"
        states = dict(conn.execute(f"SELECT id, {state} FROM visitors WHERE {state} <> '{{}}'").fetchall())
    if load == "split":
        return states
    return {i: sum(v for k, v in s.items() if k.startswith("event_count_")) for i, s in states.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200, help="events per batch (a commit)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--url", help="an existing PostgreSQL database (its ppdsl tables are dropped)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    logging.getLogger("psycopg").setLevel(logging.ERROR)  # the version baseline's lost races are expected
    if args.quick:
        args.events, args.rounds = 4000, 1
    server = None
    url = args.url
    if url is None:
        from servers.postgres import PostgresServer

        server = PostgresServer().start()
        url = server.database()
    try:
        rules = ppdsl.load(LEAD)
        RULES.append(rules)
        with gzip.open(HISTORY) as f:
            lines = [line for _, line in zip(range(args.events), f, strict=False)]
        print(f"{len(lines)} events of {HISTORY.name}, batches of {args.batch}, 2 writers, {args.rounds} round(s)")
        for load in ("split", "shared"):
            work = shares(lines, load, args.batch, rules)
            seconds: dict[str, list[float]] = {name: [] for name in WRITERS}
            reference = None
            for _ in range(args.rounds):
                for name in WRITERS:
                    seconds[name].append(run(name, url, work))
                    found = outcome(url, load)
                    reference = found if reference is None else reference
                    if found != reference:
                        sys.exit(f"{name} ended with other states than the first candidate ({load})")
            print(f"\n{load}: {'candidate':<10} {'events/s':>10} {'vs row lock':>12}   events/s of each round")
            for name, runs in seconds.items():
                # the ratio of each round (the candidates ran one after the other), then its median:
                # steadier than a ratio of medians on a machine whose load drifts
                ratio = statistics.median(b / s for b, s in zip(seconds["row lock"], runs, strict=True))
                rounds = " ".join(f"{len(lines) / s:,.0f}" for s in runs)
                print(f"{load}: {name:<10} {len(lines) / statistics.median(runs):>10,.0f} {ratio:>12.2f}   {rounds}")
    finally:
        if server is not None:
            server.remove()


if __name__ == "__main__":
    main()
