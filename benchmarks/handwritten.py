"""The lead-routing flow of docs/language.md section 1, written by hand the way a
careful engineer would: the baseline for ppdsl's compiled `handle`.

It does the same work: resolve and validate the event, update the
statistics with ISO times in the visitor, evaluate the condition, render the
reply and build the same result dict. benchmarks/run.py checks that both
give identical results before timing them.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

UTC = timezone.utc
NAMES = {1: "click", 2: "view_pricing", 3: "signup"}
UUIDS = {
    1: "6f1c7a52-0d0e-4a43-9a51-1d2f3e4c5b6a",
    2: "0b8e2c1d-3f4a-4b5c-8d6e-7f8091a2b3c4",
    3: "9d8c7b6a-5f4e-4d3c-8b2a-1a0f9e8d7c6b",
}
BY_NAME = {name: seq for seq, name in NAMES.items()}
BY_UUID = {uuid: seq for seq, uuid in UUIDS.items()}


def _iso(dt: datetime) -> str:
    return dt.replace(tzinfo=None).isoformat() + "Z"


def _parse(value: object) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    raise ValueError(f"bad time {value!r}")


def handle(payload: dict, visitor: dict | None = None) -> dict:
    te = payload.get("track_event", payload)
    if not isinstance(te, dict):
        raise ValueError("track_event must be a JSON object")
    uuid, name, seq = te.get("event_uuid"), te.get("event_name"), te.get("event_seq")
    found = None
    if uuid is not None:
        found = BY_UUID.get(uuid) if isinstance(uuid, str) else None
        if found is None:
            raise ValueError(f"unknown event_uuid {uuid!r}")
    if name is not None:
        by_name = BY_NAME.get(name) if isinstance(name, str) else None
        if by_name is None or (found is not None and by_name != found):
            raise ValueError(f"event_name {name!r} doesn't name this event")
        found = by_name
    if seq is not None:
        if type(seq) is not int or seq not in NAMES or (found is not None and seq != found):
            raise ValueError(f"unknown event_seq {seq!r}")
        found = seq
    if found is None:
        raise ValueError("the event names no event")
    data = te.get("event_data")
    data_text = None
    if data is not None:
        data_text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        if len(data_text.encode("utf-8")) > 65536:
            raise ValueError("event_data is larger than 64 KiB")
    ts = te.get("event_timestamp")
    if ts is None:
        ts = time.time()
    elif type(ts) not in (int, float) or ts != ts or ts < 0 or ts >= 1e11:
        raise ValueError(f"bad event_timestamp {ts!r}")
    now = datetime.fromtimestamp(ts, UTC)
    when = _iso(now)

    v = dict(visitor) if visitor else {}
    n = str(found)
    count = v.get("event_count_" + n, 0)
    if type(count) is not int or count < 0:
        raise ValueError("bad event count")
    count += 1
    v["event_count_" + n] = count
    first, last = v.get("event_first_time_" + n), v.get("event_last_time_" + n)
    if first is None or now < _parse(first):
        v["event_first_time_" + n] = when
    if last is None or now >= _parse(last):
        v["event_last_time_" + n] = when
        v["event_last_data_" + n] = data_text

    actions = []
    if found in (1, 2):
        c2, c3 = v.get("event_count_2", 0), v.get("event_count_3", 0)
        if type(c2) is int and type(c3) is int and c2 > 8 and c3 > 8:
            who = v.get("user_fullname")
            text = f"Hi {'' if who is None else who}, shall we book a demo?"
            actions.append({"flow": "lead_routing", "line": 13, "type": "reply", "agent": "agent_a", "text": text})
        else:
            actions.append(
                {
                    "flow": "lead_routing",
                    "line": 15,
                    "type": "reply",
                    "agent": "agent_b",
                    "text": "Hello! Anything I can help you with?",
                }
            )
    return {
        "event": {"seq": found, "name": NAMES[found], "uuid": UUIDS[found], "count": count, "time": when},
        "actions": actions,
        "failed": [],
        "visitor": v,
    }
