"""examples/make_history.py: the example history is reproducible, every line is
a valid envelope (PLATFORM.md section 1, checked here on its own terms and by the
compiled lead-routing flow), and its untidy parts come in the shares it states."""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections import Counter
from datetime import datetime
from functools import cache

import pytest

import ppdsl
from conftest import EXAMPLES

spec = importlib.util.spec_from_file_location("make_history", EXAMPLES / "make_history.py")
assert spec is not None and spec.loader is not None
make_history = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_history)

EVENTS, VISITORS = 20_000, 2_000
VISITOR_KEYS = {"user_fullname", "user_email"}


@cache
def lines(seed: int = 8) -> tuple[str, ...]:
    return tuple(make_history.history(EVENTS, VISITORS, seed))


def as_envelope(obj: dict) -> dict:
    """A Segment track call mapped to the ppdsl envelope, as PLATFORM.md section 1 says."""
    if obj.get("type") != "track":
        return obj
    ts = datetime.fromisoformat(obj["timestamp"].replace("Z", "+00:00")).timestamp()
    env = {
        "visitor_id": obj.get("userId") or obj["anonymousId"],
        "message_id": obj["messageId"],
        "track_event": {"event_name": obj["event"], "event_data": obj.get("properties"), "event_timestamp": ts},
    }
    traits = obj.get("context", {}).get("traits")
    if traits is not None:
        env["visitor"] = traits
    return env


def envelopes(seed: int = 8) -> list[dict]:
    return [as_envelope(json.loads(line)) for line in lines(seed)]


def test_the_same_options_write_the_same_bytes(tmp_path):
    a, b, c = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz", tmp_path / "c.jsonl.gz"
    for path, seed in ((a, "8"), (b, "8"), (c, "9")):
        assert make_history.main(["--events", "3000", "--visitors", "300", "--seed", seed, "-o", str(path)]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    text = gzip.decompress(a.read_bytes()).decode("utf-8")
    assert text.count("\n") == 3000 and text.endswith("}\n")
    assert text == "".join(line + "\n" for line in make_history.history(3000, 300, 8))


def test_the_committed_history_is_what_the_script_writes():
    committed = gzip.decompress((EXAMPLES / "history.jsonl.gz").read_bytes()).decode("utf-8")
    assert committed == "".join(line + "\n" for line in make_history.history(100_000, 10_000, 8))


def test_lines_are_compact_json():
    for line in lines()[:500]:
        assert line == json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))


def test_every_line_is_a_valid_envelope():
    rules = ppdsl.load(EXAMPLES / "lead_routing.ppflow")
    seen_visitors = set()
    for env in envelopes():
        assert set(env) <= {"visitor_id", "message_id", "track_event", "visitor"}
        vid = env["visitor_id"]
        assert type(vid) is str and 0 < len(vid) <= 128
        seen_visitors.add(vid)
        if "message_id" in env:
            assert type(env["message_id"]) is str and 0 < len(env["message_id"]) <= 100
        if "visitor" in env:
            assert set(env["visitor"]) == VISITOR_KEYS
        te = env["track_event"]
        assert set(te) <= {"event_name", "event_data", "event_timestamp"}
        ts = te["event_timestamp"]
        assert type(ts) in (int, float) and make_history.START <= ts < make_history.START + make_history.DAYS * 86400
        rules.handle({"track_event": te}, env.get("visitor"))  # raises on an event the flow rejects
    assert len(seen_visitors) == VISITORS


def test_activity_is_skewed_and_sessions_are_seconds_apart():
    per_visitor = Counter(env["visitor_id"] for env in envelopes())
    counts = sorted(per_visitor.values(), reverse=True)
    assert counts[0] > 20 * (EVENTS / VISITORS)  # a few heavy visitors ...
    assert counts[len(counts) // 2] <= EVENTS / VISITORS  # ... and a median under the mean
    names = Counter(env["track_event"]["event_name"] for env in envelopes())
    assert names["click"] > names["view_pricing"] > names["signup"] > 0.03 * EVENTS


def test_the_stated_shares():
    envs = envelopes()
    n = len(envs)
    assert n == EVENTS
    ids = Counter(env["message_id"] for env in envs if "message_id" in env)
    retried = sum(c - 1 for c in ids.values())
    assert retried == round(EVENTS * make_history.RETRY_SHARE)
    assert max(ids.values()) == 2
    without_id = sum("message_id" not in env for env in envs) / n
    assert make_history.NO_ID_SHARE * 0.6 < without_id < make_history.NO_ID_SHARE * 1.4
    segment = sum(json.loads(line).get("type") == "track" for line in lines()) / n
    assert make_history.SEGMENT_SHARE * 0.6 < segment < make_history.SEGMENT_SHARE * 1.4
    # out of order: an event that arrives after a later event of its visitor (first pushes only)
    latest: dict[str, float] = {}
    late = 0
    first_push = set()
    for env in envs:
        key = env.get("message_id")
        if key is not None and key in first_push:
            continue
        first_push.add(key)
        ts, vid = env["track_event"]["event_timestamp"], env["visitor_id"]
        late += ts < latest.get(vid, ts)
        latest[vid] = max(ts, latest.get(vid, ts))
    assert make_history.OUT_OF_ORDER_SHARE * 0.5 < late / n < make_history.OUT_OF_ORDER_SHARE * 1.2


def test_visitor_properties_are_a_visitors_own_and_come_with_signups():
    envs = envelopes()
    props: dict[str, set[str]] = {}
    for env in envs:
        if "visitor" in env:
            props.setdefault(env["visitor_id"], set()).add(json.dumps(env["visitor"], sort_keys=True))
    assert all(len(p) == 1 for p in props.values())  # one name and e-mail per visitor
    assert make_history.IDENTIFIED_SHARE * 0.3 < len(props) / VISITORS < make_history.IDENTIFIED_SHARE
    signups = [env for env in envs if env["visitor_id"] in props and env["track_event"]["event_name"] == "signup"]
    assert signups and all("visitor" in env for env in signups)
    share = sum("visitor" in env for env in envs) / len(envs)
    assert 0.005 < share < 0.1


def test_segment_calls_name_identified_visitors_by_user_id():
    calls = [json.loads(line) for line in lines() if line.startswith('{"type":"track"')]
    assert calls
    for call in calls:
        assert ("userId" in call) != ("anonymousId" in call)
        if "context" in call:
            assert "userId" in call
        assert call["timestamp"].endswith("Z") and len(call["timestamp"]) == 24


@pytest.mark.parametrize("events, visitors", [(0, 5), (1, 1), (3, 10), (50, 1)])
def test_small_and_odd_sizes(events, visitors):
    out = make_history.history(events, visitors, 8)
    assert len(out) == events
    assert len({json.loads(line).get("visitor_id") or "x" for line in out}) <= max(visitors, 1)
