"""What the Spark replay tests share (tests/engine/test_spark*.py): a Spark
context for a test module, an untidy history in several files, local
replay's answer to compare with, and the answer a Spark replay wrote as
Parquet, in replay order."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import need
from histories import LEAD, T0, envelope, history, lines, write
from ppdsl.build.loader import generate_or_raise, read_source
from ppdsl.engine.replay import replay
from ppdsl.store import open_store


def spark_context(master: str, folder: Path) -> Iterator[Any]:
    """A Spark context on `master` for one test module (a JVM takes seconds to start), its log in `folder`."""
    need(shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME")), "Java (for Spark)")
    pytest.importorskip("pyspark")
    from ppdsl.engine.spark import start

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    context = start(master, log=str(folder / "spark.log"))
    try:
        yield context
    finally:
        context.stop()


def lead_source() -> str:
    """The compiled module's text, which a Spark replay ships to the executors."""
    return generate_or_raise(read_source(LEAD), str(LEAD))[0]


def untidy(folder: Path) -> list[str]:
    """Three files of one history: retried lines (the same message id again),
    a message id reused by another visitor in another file, an id whose first
    line is rejected and whose retry is not, lines without a message_id, bad
    lines, visitor properties, and events out of time order."""
    first = history(300, visitors=12, seed=4)
    first += first[40:55]  # retries at the end of the file
    first.insert(100, envelope(1000, "v-3", name="nope"))  # rejected: m-1000 is not taken ...
    first.append(envelope(1000, "v-4", name="signup", t=T0 + 5))  # ... so its retry is applied, back in time
    first.append({**envelope(1001, "v-5", t=T0 + 2), "visitor": {"user_fullname": "Li Lei"}})
    second = history(120, visitors=12, seed=5)[60:]  # m-60 .. m-119 again, mostly for other visitors
    second.append(envelope(1002, "v-6", message_id=False, t=T0 - 50))
    raw = lines(first).splitlines(keepends=True)
    raw.insert(7, b"{not json\n")
    raw.insert(20, b'{"track_event": {"event_name": "click"}}\n')  # no visitor_id
    return [
        str(write(folder / "a.jsonl", b"".join(raw))),
        str(write(folder / "b.jsonl.gz", second)),
        str(write(folder / "c.jsonl", history(40, visitors=5, seed=6, without_ids=2))),
    ]


def local(rules: Any, paths: list[str], folder: Path, order: str, batch: int = 10_000) -> tuple[Any, dict, list]:
    """Local replay's summary, final states and --actions lines."""
    store = open_store("memory:")
    out = folder / f"local-{order}.jsonl"
    summary = replay(rules, lambda: store, paths, order=order, actions=str(out), batch=batch)
    actions = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return summary, dict(store.visitors()), actions


def parquet(context: Any, output: Path, order: str) -> tuple[dict, list]:
    """The states and the actions (in replay order, as --actions lines) of a Spark replay's Parquet files."""
    from pyspark.sql import SparkSession

    session = SparkSession(context)
    states = {r.visitor_id: json.loads(r.state) for r in session.read.parquet(str(output / "states.parquet")).collect()}
    rows = session.read.parquet(str(output / "actions.parquet")).collect()

    def key(r: Any) -> tuple:
        place = (r.source_index, r.source_line, r.position)
        return (math.inf if r.event_time is None else r.event_time, *place) if order == "time" else place

    actions = [
        {**json.loads(r.action), "visitor_id": r.visitor_id, "message_id": r.message_id, "time": r.time}
        for r in sorted(rows, key=key)
    ]
    return states, actions


def without_time(summary: Any) -> dict:
    """A summary as --json prints it, but for the time taken."""
    return {k: v for k, v in summary.as_json().items() if k not in ("seconds", "events_per_second")}
