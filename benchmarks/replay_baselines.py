"""Hand-written replays of a history of envelopes: the baselines that
benchmarks/replay.py measures `ppdsl replay` against.

Each one does the work a careful engineer would write for the lead-routing
flow: read the envelope (ppdsl's, or a Segment `track` call), skip a
message_id seen before, merge the `visitor` properties, update the statistics
and run the flow (benchmarks/handwritten.py, or a compiled `handle`), count
the actions. They differ only in where the visitor states live:

- `fold`: a dict in memory;
- `careful_sqlite`: SQLite in WAL mode with synchronous=NORMAL, the states
  cached in memory and written back every BATCH events in one transaction,
  with the seen message ids (a WITHOUT ROWID table) and the file position to
  resume from;
- `naive_sqlite`: one transaction per event, reading and writing the state and
  the message id each time; with `defaults=True`, sqlite3's own settings
  (rollback journal, synchronous=FULL).

All of them return a Summary whose `states` are the final visitor states, so
the benchmark can check that they agree.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import handwritten

BATCH = 10_000
Handle = Callable[..., dict]
Envelope = tuple[str, Any, dict, Any]  # visitor_id, message_id, track_event, visitor properties


@dataclass
class Summary:
    lines: int = 0
    applied: int = 0
    duplicate: int = 0
    rejected: int = 0
    actions: Counter = field(default_factory=Counter)
    states: dict[str, dict] = field(default_factory=dict)


def envelope(obj: Any) -> Envelope:
    """(visitor_id, message_id, track_event, visitor) of a parsed line; ValueError if it is no envelope."""
    if type(obj) is not dict:
        raise ValueError("not a JSON object")
    if obj.get("type") == "track":  # a Segment track call
        ts = obj.get("timestamp")
        if type(ts) is not str:
            raise ValueError("timestamp")
        te = {
            "event_name": obj.get("event"),
            "event_data": obj.get("properties"),
            "event_timestamp": datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp(),
        }
        context = obj.get("context")
        traits = context.get("traits") if type(context) is dict else None
        vid, mid, props = obj.get("userId") or obj.get("anonymousId"), obj.get("messageId"), traits
    else:
        vid, mid, te, props = obj.get("visitor_id"), obj.get("message_id"), obj.get("track_event"), obj.get("visitor")
    if type(vid) is not str or not 0 < len(vid) <= 128:
        raise ValueError("visitor_id")
    if mid is not None and (type(mid) is not str or len(mid) > 100):
        raise ValueError("message_id")
    if type(te) is not dict:
        raise ValueError("track_event")
    if props is not None and type(props) is not dict:
        raise ValueError("visitor")
    return vid, mid, te, props


def parsed(lines: Iterable[bytes], loads: Callable[[bytes], Any] = json.loads) -> Iterator[Envelope | None]:
    """The envelopes of raw lines; None for a line that is no envelope."""
    for raw in lines:
        try:
            yield envelope(loads(raw))
        except ValueError:
            yield None


def _apply(handle: Handle, te: dict, state: dict | None, props: dict | None, out: Summary) -> dict:
    """The new state after one event (ValueError when the event is rejected); counts its actions."""
    if props:
        state = {**state, **props} if state else dict(props)
    result = handle(te, state)
    for action in result["actions"]:
        out.actions[(action["flow"], action["line"], action["type"])] += 1
    return result["visitor"]


def fold(envelopes: Iterable[Envelope | None], handle: Handle = handwritten.handle) -> Summary:
    """Replay into a dict of states, in memory."""
    out = Summary()
    states = out.states
    seen: set[str] = set()
    for env in envelopes:
        out.lines += 1
        if env is None:
            out.rejected += 1
            continue
        vid, mid, te, props = env
        if mid is not None and mid in seen:
            out.duplicate += 1
            continue
        try:
            states[vid] = _apply(handle, te, states.get(vid), props, out)
        except ValueError:
            out.rejected += 1
            continue
        if mid is not None:
            seen.add(mid)
        out.applied += 1
    return out


SCHEMA = """
CREATE TABLE IF NOT EXISTS visitors (id TEXT PRIMARY KEY, state TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (message_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS progress (file TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID;
"""


def _connect(path: str, defaults: bool = False) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None)
    if not defaults:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
    con.executescript(SCHEMA)
    return con


def careful_sqlite(path: str, name: str, lines: Iterable[bytes], loads: Callable[[bytes], Any] = json.loads) -> Summary:
    """Replay into the SQLite file at `path`, BATCH events per transaction,
    resuming after the last committed line of the file called `name`."""
    con = _connect(path)
    out = Summary()
    cache: dict[str, dict | None] = {}  # every state read or written so far
    dirty: set[str] = set()
    new_ids: set[str] = set()
    row = con.execute("SELECT line FROM progress WHERE file = ?", (name,)).fetchone()
    done = row[0] if row else 0

    def commit() -> None:
        con.execute("BEGIN IMMEDIATE")
        con.executemany(
            "INSERT OR REPLACE INTO visitors VALUES (?, ?)",
            [(vid, json.dumps(cache[vid], ensure_ascii=False, separators=(",", ":"))) for vid in dirty],
        )
        con.executemany("INSERT INTO seen VALUES (?)", [(mid,) for mid in new_ids])
        con.execute("INSERT OR REPLACE INTO progress VALUES (?, ?)", (name, out.lines))
        con.execute("COMMIT")
        dirty.clear()
        new_ids.clear()

    seen_query = "SELECT 1 FROM seen WHERE message_id = ?"
    state_query = "SELECT state FROM visitors WHERE id = ?"
    for env in parsed(lines, loads):
        out.lines += 1
        if out.lines <= done:
            continue
        if env is None:
            out.rejected += 1
        else:
            vid, mid, te, props = env
            if mid is not None and (mid in new_ids or con.execute(seen_query, (mid,)).fetchone()):
                out.duplicate += 1
            else:
                if vid in cache:
                    state = cache[vid]
                else:
                    found = con.execute(state_query, (vid,)).fetchone()
                    state = cache[vid] = json.loads(found[0]) if found else None
                try:
                    cache[vid] = _apply(handwritten.handle, te, state, props, out)
                    dirty.add(vid)
                    if mid is not None:
                        new_ids.add(mid)
                    out.applied += 1
                except ValueError:
                    out.rejected += 1
        if out.lines % BATCH == 0:
            commit()
    commit()
    out.states = read_states(con)
    con.close()
    return out


def naive_sqlite(path: str, lines: Iterable[bytes], defaults: bool = False) -> Summary:
    """Replay into SQLite with one transaction per event and nothing cached."""
    con = _connect(path, defaults)
    out = Summary()
    for env in parsed(lines):
        out.lines += 1
        if env is None:
            out.rejected += 1
            continue
        vid, mid, te, props = env
        con.execute("BEGIN IMMEDIATE")
        if mid is not None and con.execute("SELECT 1 FROM seen WHERE message_id = ?", (mid,)).fetchone():
            con.execute("ROLLBACK")
            out.duplicate += 1
            continue
        found = con.execute("SELECT state FROM visitors WHERE id = ?", (vid,)).fetchone()
        try:
            state = _apply(handwritten.handle, te, json.loads(found[0]) if found else None, props, out)
        except ValueError:
            con.execute("ROLLBACK")
            out.rejected += 1
            continue
        text = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
        con.execute("INSERT OR REPLACE INTO visitors VALUES (?, ?)", (vid, text))
        if mid is not None:
            con.execute("INSERT INTO seen VALUES (?)", (mid,))
        con.execute("COMMIT")
        out.applied += 1
    out.states = read_states(con)
    con.close()
    return out


def read_states(con: sqlite3.Connection) -> dict[str, dict]:
    return {vid: json.loads(text) for vid, text in con.execute("SELECT id, state FROM visitors")}
