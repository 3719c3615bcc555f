"""`ppdsl visitors --where` pushed down to SQLite against the same filter
evaluated in Python, over 100,000 generated visitors in a SQLite file with
the store's layout.

    python benchmarks/visitors.py            # about a minute
    python benchmarks/visitors.py --quick    # 10,000 visitors, for a smoke run

Python: read every state, json.loads it, run the filter's predicate (what a
store without SQL does). Pushed down: the filter's SQL (VisitorFilter.select),
first over the bare table, then with the expression index the filter
suggests (SqlFilter.indexes). Both must return the same ids; the medians of
interleaved rounds and their ratio are printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

import ppdsl
from ppdsl.build.filters import VisitorFilter, compile_filter

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)
LAYOUT = "CREATE TABLE visitors (id TEXT PRIMARY KEY, state TEXT NOT NULL, version INTEGER NOT NULL)"
FILTERS = [
    "count(2) > 15 and now - last_time(2) < 3d",
    'user_city == "北京" and not is_anonymous_user and count(3) >= 1',
]
NAMES = ["Li Lei", "韩梅梅", "王小明", "Alice", "Bob 😀", "María"]
CITIES = ["北京", "上海", "Paris", "Berlin", "São Paulo", "深圳"]


def visitor(rng: random.Random) -> dict:
    """A visitor as ppdsl's statistics leave it: counts, ISO times (some with a fraction), system variables."""
    state: dict = {
        "user_fullname": rng.choice(NAMES),
        "user_email": f"user{rng.randrange(10**6)}@example.com",
        "user_city": rng.choice(CITIES),
        "is_anonymous_user": rng.random() < 0.3,
        "page_url": "https://example.com/pricing",
        "browser_name": rng.choice(["Chrome", "Safari", "Firefox"]),
    }
    for seq in range(1, 5):
        count = rng.choice([0, 0, rng.randint(1, 5), rng.randint(1, 20)])
        if not count:
            continue
        last = NOW - timedelta(seconds=rng.randrange(30 * 86400), microseconds=rng.choice([0, rng.randrange(10**6)]))
        first = last - timedelta(days=rng.randrange(60))
        state[f"event_count_{seq}"] = count
        state[f"event_first_time_{seq}"] = first.replace(tzinfo=None).isoformat() + "Z"
        state[f"event_last_time_{seq}"] = last.replace(tzinfo=None).isoformat() + "Z"
        state[f"event_last_data_{seq}"] = json.dumps({"plan": rng.choice(["free", "pro"])})
    return state


def build(path: str, n: int) -> None:
    rng = random.Random(8)
    conn = sqlite3.connect(path)
    conn.execute(LAYOUT)
    rows = ((f"v{i:07d}", json.dumps(visitor(rng), ensure_ascii=False, separators=(",", ":")), 1) for i in range(n))
    conn.executemany("INSERT INTO visitors VALUES (?, ?, ?)", rows)
    conn.commit()
    conn.close()


def timed(f: VisitorFilter, conn: sqlite3.Connection) -> tuple[float, list[str]]:
    start = time.perf_counter()
    ids = [visitor_id for visitor_id, _ in f.select(conn)]
    return time.perf_counter() - start, ids


def compare(text: str, conn: sqlite3.Connection, rounds: int) -> list[tuple[str, float, str]]:
    pushed = compile_filter(text, now=NOW)
    assert pushed.sql is not None, pushed.reason
    python = dataclasses.replace(pushed, sql=None, reason="the baseline")
    samples: dict[str, list[float]] = {"Python": [], "pushed down": []}
    for _ in range(rounds):
        t_py, want = timed(python, conn)
        t_sql, got = timed(pushed, conn)
        assert got == want, f"{text}: the pushed-down filter selects other visitors"
        samples["Python"].append(t_py)
        samples["pushed down"].append(t_sql)
    rows = [(f"{text}: selects {len(want)}", 0.0, "")]
    for index in pushed.sql.indexes:
        conn.execute(index)
        samples["pushed down, with its index"] = []
        for _ in range(rounds):
            t_idx, got = timed(pushed, conn)
            assert got == want
            samples["pushed down, with its index"].append(t_idx)
    base = statistics.median(samples["Python"])
    for name, s in samples.items():
        t = statistics.median(s)
        rows.append((f"  {name}", t, f"{base / t:.1f}x"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 visitors and fewer rounds")
    args = parser.parse_args()
    n, rounds = (10_000, 3) if args.quick else (100_000, 5)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "visitors.db")
        print(f"generating {n:,} visitors ...", file=sys.stderr)
        build(path, n)
        conn = sqlite3.connect(path)
        print(f"{n:,} visitors; ppdsl {ppdsl.__version__}, SQLite {sqlite3.sqlite_version}; speed-up over Python")
        for text in FILTERS:
            for name, t, ratio in compare(text, conn, rounds):
                print(f"{name:60s} {t * 1e3:9.1f} ms  {ratio}" if t else name)
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
