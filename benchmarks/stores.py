"""SQLite, PostgreSQL, Redis and a Redis Cluster on the same load: `ppdsl
replay` of the same history into an empty store of each kind, and the same
with `--jobs 2`, the stores taking turns in every round. The servers are
started on loopback as the tests start them (tests/servers/). The figures are
in benchmarks/README.md, "SQLite, PostgreSQL and Redis on the same load".

    python benchmarks/stores.py                 # 100,000 events, 3 rounds, a few minutes
    python benchmarks/stores.py --quick         # 10,000 events, 1 round
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT / "tests"), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]
FLOW = ROOT / "examples" / "lead_routing.ppflow"
HISTORY = ROOT / "examples" / "history.jsonl.gz"
PPDSL = [sys.executable, "-m", "ppdsl"]


def replay(history: Path, url: str, jobs: int) -> float:
    started = time.perf_counter()
    subprocess.run([*PPDSL, "replay", str(FLOW), str(history), "--store", url, "--jobs", str(jobs)], check=True,
                   capture_output=True)  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.events, args.rounds = 10_000, 1

    from servers.postgres import PostgresServer
    from servers.redis import RedisServer, start_cluster

    with tempfile.TemporaryDirectory() as folder:
        history = Path(folder) / "history.jsonl"
        with gzip.open(HISTORY) as source, open(history, "wb") as out:
            for _, line in zip(range(args.events), source, strict=False):
                out.write(line)
        postgres = PostgresServer().start()
        single = RedisServer(Path(folder) / "single")
        nodes = start_cluster(Path(folder) / "cluster")
        cluster = ",".join(n.address for n in nodes)
        stores = {
            "SQLite (a file)": lambda: f"sqlite:///{folder}/{uuid.uuid4().hex}.db",
            "PostgreSQL 15": lambda: postgres.database(),
            "Redis, one server": lambda: f"redis://{single.address}/?prefix={uuid.uuid4().hex[:12]}",
            "Redis Cluster, 3 masters": lambda: f"redis://{cluster}/?prefix={uuid.uuid4().hex[:12]}",
        }
        try:
            seconds: dict[tuple[str, int], list[float]] = {(s, j): [] for s in stores for j in (1, 2)}
            for _ in range(args.rounds):
                for jobs in (1, 2):
                    for name, new_store in stores.items():
                        seconds[name, jobs].append(replay(history, new_store(), jobs))
            print(f"ppdsl replay of {args.events:,} events into an empty store, median of {args.rounds} round(s)")
            print(f"{'store':<26} {'jobs':>4} {'seconds':>8} {'events/s':>9} {'vs SQLite':>9}")
            for (name, jobs), runs in seconds.items():
                median = statistics.median(runs)
                base = statistics.median(seconds["SQLite (a file)", jobs])
                print(f"{name:<26} {jobs:>4} {median:>8.2f} {args.events / median:>9,.0f} {base / median:>9.2f}")
        finally:
            postgres.remove()
            single.stop()
            for node in nodes:
                node.stop()


if __name__ == "__main__":
    main()
