"""Replay on Spark against local replay, on one history file that
examples/make_history.py writes for the lead-routing flow.

    python benchmarks/spark.py                                   # 1M events, 100k visitors, 2 workers
    python benchmarks/spark.py --events 20000 --visitors 2000    # a smoke run
    python benchmarks/spark.py --master spark://HOST:7077        # a cluster of your own

Without --master it starts a standalone cluster of two workers (one core and
1 GiB each) on loopback, as the tests do (tests/servers/spark.py), and stops
it at the end. It times, by the wall clock:

  local   ppdsl's replay in this process, into memory, writing --actions
          (what `ppdsl replay FLOW FILE --actions OUT` does, less the start-up)
  spark   `ppdsl replay FLOW FILE --engine spark --output DIR` as a command:
          the JVM's start, reading, deduplicating, the fold, the Parquet files

and checks that both give the same answer: the same summary (events read,
applied, duplicate, rejected; the actions by flow, line and type), the same
final state for every visitor, and the same actions in the same order. The
point is the same answer; on two cores Spark is not expected to be faster.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests"), str(ROOT / "tests" / "engine")]

import ppdsl  # noqa: E402
from ppdsl.engine.replay import replay  # noqa: E402
from ppdsl.engine.spark import start  # noqa: E402
from ppdsl.store import open_store  # noqa: E402
from replay import make_history  # noqa: E402
from servers.spark import Cluster, spark_env, spark_home  # noqa: E402
from sparking import parquet  # noqa: E402

LEAD = ROOT / "examples" / "lead_routing.ppflow"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--visitors", type=int, default=100_000)
    parser.add_argument("--master", help="a Spark master to use instead of a 2-worker cluster on loopback")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="ppdsl-spark-bench-"))
    history = folder / "history.jsonl"
    mh = make_history()
    with open(history, "wb") as out:
        mh.write(mh.history(args.events, args.visitors, 8), out, compress=False)
    print(f"history: {args.events:,} events for {args.visitors:,} visitors in {history}", file=sys.stderr)

    store = open_store("memory:")
    began = time.perf_counter()
    summary = replay(ppdsl.load(LEAD), lambda: store, [str(history)], actions=str(folder / "local.jsonl"))
    local_seconds = time.perf_counter() - began
    print(f"local: {local_seconds:.1f} s", file=sys.stderr)

    cluster = None
    master = args.master
    if master is None:
        home = spark_home()
        if home is None:
            sys.exit("error: pyspark is not installed: pip install 'ppdsl[spark]'")
        cluster = Cluster(home, folder / "cluster")
        cluster.folder.mkdir()
        cluster.start()
        master = cluster.url
    try:
        command = [sys.executable, "-m", "ppdsl", "replay", str(LEAD), str(history), "--engine", "spark"]
        command += ["--master", master, "--output", str(folder / "out"), "--json", "--progress"]
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=spark_env())
        spark_seconds = time.perf_counter() - began
    finally:
        if cluster is not None:
            cluster.stop()
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        sys.exit(f"error: the Spark replay failed ({done.returncode})")
    print(f"spark: {spark_seconds:.1f} s", file=sys.stderr)
    same = compare(summary, json.loads(done.stdout), store, folder)
    table = report(args, master, local_seconds, spark_seconds, summary, same)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n", encoding="utf-8")
    return 0 if all(same.values()) else 1


def compare(summary: Any, spark_report: dict, store: Any, folder: Path) -> dict[str, bool]:
    """Whether Spark's answer is local replay's: the summary, the states, the actions in order."""
    local_report = summary.as_json()
    context = start("local[2]", log=str(folder / "compare.log"))
    try:
        states, actions = parquet(context, folder / "out", "arrival")
    finally:
        context.stop()
    with open(folder / "local.jsonl", encoding="utf-8") as f:
        local_actions = [json.loads(line) for line in f]
    return {
        "summary": all(spark_report[k] == local_report[k] for k in ("events", "rejected", "first_rejected", "actions")),
        "states": states == dict(store.visitors()),
        "actions": actions == local_actions,
    }


def report(args: Any, master: str, local: float, spark: float, summary: Any, same: dict[str, bool]) -> str:
    load = os.getloadavg()[0]
    shown = "a standalone cluster of 2 workers (1 core, 1 GiB each) on loopback" if args.master is None else master
    return "\n".join(
        [
            f"{args.events:,} events, {args.visitors:,} visitors; {summary.applied:,} applied, "
            f"{summary.duplicate:,} duplicate, {summary.rejected:,} rejected",
            f"Python {platform.python_version()}, {os.cpu_count()} cores, load average {load:.1f}; Spark on {shown}",
            "",
            "| replay | seconds | events/s | time / local |",
            "|---|---:|---:|---:|",
            f"| local, in memory, with --actions | {local:.1f} | {args.events / local:,.0f} | 1.00 |",
            f"| --engine spark, the command, Parquet out | {spark:.1f} | {args.events / spark:,.0f} "
            f"| {spark / local:.2f} |",
            "",
            "same answer: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in same.items()),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
