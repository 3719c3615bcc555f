"""Small event histories shared by the store and replay tests
(tests/store/, tests/engine/test_replay.py, tests/cli/test_replay_cli.py):
envelopes for examples/lead_routing.ppflow, written as JSON lines, and the
visitors of an SQLite store read with sqlite3 itself, not through ppdsl."""

from __future__ import annotations

import gzip
import json
import random
import sqlite3
from pathlib import Path
from typing import Any

from conftest import EXAMPLES

T0 = 1795593600  # 2026-11-25T08:00:00Z
LEAD = EXAMPLES / "lead_routing.ppflow"
NAMES = ("click", "view_pricing", "signup")


def envelope(n: int, visitor: str, *, name: str = "click", t: float | None = None, message_id: bool = True) -> dict:
    """Event number `n` of a history: a message id m-N unless told otherwise."""
    event: dict[str, Any] = {"event_name": name, "event_timestamp": T0 + n if t is None else t, "event_data": n}
    found: dict[str, Any] = {"visitor_id": visitor, "track_event": event}
    if message_id:
        found["message_id"] = f"m-{n}"
    return found


def history(count: int, visitors: int = 20, seed: int = 8, without_ids: int = 3) -> list[dict]:
    """`count` envelopes for `visitors` visitors, one in every `without_ids`
    without a message_id; a few visitors get signups enough for the hot reply."""
    rng = random.Random(seed)
    return [
        envelope(
            n,
            f"v-{rng.randrange(visitors)}",
            name=rng.choice(NAMES),
            message_id=n % without_ids != 0,
        )
        for n in range(count)
    ]


def lines(envelopes: list[dict]) -> bytes:
    return b"".join(json.dumps(e, ensure_ascii=False).encode() + b"\n" for e in envelopes)


def write(path: Path, content: list[dict] | bytes) -> Path:
    """Envelopes (or raw bytes) as a file of JSON lines; gzip when the name ends in .gz."""
    data = content if isinstance(content, bytes) else lines(content)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def stored_visitors(path: Path) -> dict[str, dict]:
    """Every visitor of an SQLite store, read from its table."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {visitor_id: json.loads(state) for visitor_id, state in con.execute("SELECT id, state FROM visitors")}
    finally:
        con.close()


def event_count(state: dict) -> int:
    """How many events a visitor's statistics count."""
    return sum(v for k, v in state.items() if k.startswith("event_count_"))
