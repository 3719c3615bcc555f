"""Replay in-process (ppdsl/engine/replay.py): a dry run and a store agree, a
second replay changes nothing, an interrupted one resumes exactly, --order
time, bad lines of every kind counted with FILE:LINE, --strict, --actions
exactly once, and --jobs 2 giving what one process gives. Stores are real
SQLite files; the command line is tested in tests/cli/test_replay_cli.py."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import pytest

import ppdsl
from histories import LEAD, T0, envelope, event_count, history, lines, stored_visitors, write
from ppdsl.engine.replay import StrictStop, replay
from ppdsl.store import open_store


@pytest.fixture(scope="module")
def rules() -> Any:
    return ppdsl.load(LEAD)


def into(path: Path | str) -> Any:
    url = str(path)
    return lambda: open_store(url)


def counts(summary: Any) -> dict:
    return summary.as_json()["events"]


def same_summary(a: Any, b: Any) -> bool:
    """Two summaries that agree on everything but the time taken."""
    drop = ("seconds", "events_per_second")
    return {k: v for k, v in a.as_json().items() if k not in drop} == {
        k: v for k, v in b.as_json().items() if k not in drop
    }


class Interrupted(Exception):
    pass


def stop_after(commits: int) -> Any:
    """A progress callback that stops the replay after so many commits, as Ctrl-C would."""
    seen = []

    def progress(fraction: float) -> None:
        seen.append(fraction)
        if len(seen) == commits:
            raise Interrupted

    return progress


# ------------------------------------------------------------ dry run and store


def test_a_dry_run_and_a_replay_into_a_store_give_the_same_summary(rules, tmp_path):
    events = write(tmp_path / "h.jsonl", history(600) + [{"visitor_id": "v-x", "track_event": {"event_name": "x"}}])
    dry = replay(rules, into("memory:"), [str(events)])
    stored = replay(rules, into(tmp_path / "s.db"), [str(events)], batch=64)
    assert same_summary(dry, stored)
    assert counts(stored) == {"read": 601, "applied": 600, "duplicate": 0, "rejected": 1, "already_replayed": 0}
    assert sum(event_count(s) for s in stored_visitors(tmp_path / "s.db").values()) == 600


def test_a_second_replay_into_the_store_changes_nothing(rules, tmp_path):
    events = write(tmp_path / "h.jsonl", history(500, without_ids=2))  # half the lines have no message_id
    actions = tmp_path / "actions.jsonl"
    first = replay(rules, into(tmp_path / "s.db"), [str(events)], actions=str(actions), batch=50)
    before, written = stored_visitors(tmp_path / "s.db"), actions.read_bytes()
    again = replay(rules, into(tmp_path / "s.db"), [str(events)], actions=str(actions), batch=50)
    assert counts(first)["applied"] == 500
    assert counts(again) == {"read": 0, "applied": 0, "duplicate": 0, "rejected": 0, "already_replayed": 500}
    assert stored_visitors(tmp_path / "s.db") == before
    assert actions.read_bytes() == written


def test_two_replays_of_one_file_into_one_store_at_once_apply_each_line_once(rules, tmp_path):
    """Their cursors are compared and set: the one that finds a position moved
    under it stops with CursorMoved and commits nothing of that batch."""
    import threading

    from ppdsl.store import CursorMoved

    events = write(tmp_path / "h.jsonl", history(2000, without_ids=1))  # no message ids at all
    clean = replay(rules, into(tmp_path / "clean.db"), [str(events)], batch=20)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            replay(rules, into(tmp_path / "s.db"), [str(events)], batch=20)
        except CursorMoved as exc:
            errors.append(exc)

    open_store(str(tmp_path / "s.db")).close()
    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    replay(rules, into(tmp_path / "s.db"), [str(events)], batch=20)  # finishes what a stopped one left
    assert counts(clean)["applied"] == 2000
    assert stored_visitors(tmp_path / "s.db") == stored_visitors(tmp_path / "clean.db")
    assert all("another replay of the same files" in str(e) for e in errors)


def test_the_same_history_under_another_name_is_known_again(rules, tmp_path):
    content = lines(history(200))
    replay(rules, into(tmp_path / "s.db"), [str(write(tmp_path / "a.jsonl", content))])
    before = stored_visitors(tmp_path / "s.db")
    again = replay(rules, into(tmp_path / "s.db"), [str(write(tmp_path / "b.jsonl.gz", content))])
    assert counts(again)["applied"] == 0 and counts(again)["already_replayed"] == 200
    assert stored_visitors(tmp_path / "s.db") == before


def test_a_longer_version_of_a_replayed_file_applies_only_its_new_lines(rules, tmp_path):
    events = history(1300)  # over 64 KiB before it grows: a file is known by its first 64 KiB
    path = write(tmp_path / "h.jsonl", events[:1000])
    assert path.stat().st_size > 1 << 16
    replay(rules, into(tmp_path / "s.db"), [str(path)])
    write(path, events)
    more = replay(rules, into(tmp_path / "s.db"), [str(path)])
    assert counts(more)["applied"] == 300 and counts(more)["already_replayed"] == 1000
    replay(rules, into(tmp_path / "once.db"), [str(path)])
    assert stored_visitors(tmp_path / "s.db") == stored_visitors(tmp_path / "once.db")


# ---------------------------------------------------------------------- resume


def test_an_interrupted_replay_resumes_where_it_stopped(rules, tmp_path):
    events = write(tmp_path / "h.jsonl", history(1000))  # a third of the lines without a message_id
    clean = tmp_path / "clean"
    clean.mkdir()
    replay(rules, into(clean / "s.db"), [str(events)], actions=str(clean / "actions.jsonl"), batch=100)
    with pytest.raises(Interrupted):
        replay(
            rules,
            into(tmp_path / "s.db"),
            [str(events)],
            actions=str(tmp_path / "actions.jsonl"),
            batch=100,
            progress=stop_after(3),
        )
    assert sum(event_count(s) for s in stored_visitors(tmp_path / "s.db").values()) == 300
    rest = replay(rules, into(tmp_path / "s.db"), [str(events)], actions=str(tmp_path / "actions.jsonl"), batch=100)
    assert counts(rest)["already_replayed"] == 300 and counts(rest)["applied"] == 700
    assert stored_visitors(tmp_path / "s.db") == stored_visitors(clean / "s.db")
    assert (tmp_path / "actions.jsonl").read_bytes() == (clean / "actions.jsonl").read_bytes()


def test_a_resumed_replay_of_several_files_skips_the_finished_ones(rules, tmp_path):
    events = history(600)
    first = write(tmp_path / "a.jsonl", events[:300])
    second = write(tmp_path / "b.jsonl", events[300:])
    with pytest.raises(Interrupted):
        replay(rules, into(tmp_path / "s.db"), [str(first), str(second)], batch=100, progress=stop_after(4))
    rest = replay(rules, into(tmp_path / "s.db"), [str(first), str(second)], batch=100)
    assert counts(rest)["applied"] == 200 and counts(rest)["already_replayed"] == 400
    assert sum(event_count(s) for s in stored_visitors(tmp_path / "s.db").values()) == 600


# ----------------------------------------------------------------------- order


def _ordered_history(tmp_path: Path) -> Path:
    """One visitor's clicks out of time order, with ties; another visitor between them."""
    stamps = {"a": 10, "b": 5, "c": 10, "d": 5, "e": 5}
    events = []
    for n, (name, offset) in enumerate(stamps.items()):
        events.append({**envelope(n, "v-1", t=T0 + offset), "message_id": name})
        events.append({**envelope(n, "v-2", t=T0 + 7 - n), "message_id": f"w{n}"})
    return write(tmp_path / "h.jsonl", events)


def _message_ids(actions: Path, visitor_id: str) -> list[str]:
    rows = [json.loads(line) for line in actions.read_text(encoding="utf-8").splitlines()]
    return [row["message_id"] for row in rows if row["visitor_id"] == visitor_id]


def test_order_arrival_takes_the_lines_in_file_order(rules, tmp_path):
    events = _ordered_history(tmp_path)
    replay(rules, into("memory:"), [str(events)], actions=str(tmp_path / "out.jsonl"))
    assert _message_ids(tmp_path / "out.jsonl", "v-1") == ["a", "b", "c", "d", "e"]


def test_order_time_sorts_each_visitors_events_with_ties_in_file_order(rules, tmp_path):
    events = _ordered_history(tmp_path)
    replay(rules, into("memory:"), [str(events)], actions=str(tmp_path / "out.jsonl"), order="time")
    assert _message_ids(tmp_path / "out.jsonl", "v-1") == ["b", "d", "e", "a", "c"]
    assert _message_ids(tmp_path / "out.jsonl", "v-2") == ["w4", "w3", "w2", "w1", "w0"]
    times = [json.loads(line)["time"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert times == sorted(times)


def test_order_time_into_a_store_resumes_and_a_second_replay_changes_nothing(rules, tmp_path, monkeypatch):
    events = write(tmp_path / "h.jsonl", history(400)[::-1])  # newest first in the file
    replay(rules, into(tmp_path / "once.db"), [str(events)], order="time")
    _stop_after_commits(monkeypatch, 2)
    with pytest.raises(Interrupted):
        replay(rules, into(tmp_path / "s.db"), [str(events)], order="time", batch=100)
    assert sum(event_count(s) for s in stored_visitors(tmp_path / "s.db").values()) == 200
    replay(rules, into(tmp_path / "s.db"), [str(events)], order="time", batch=100)
    again = replay(rules, into(tmp_path / "s.db"), [str(events)], order="time", batch=100)
    assert counts(again)["applied"] == 0
    assert stored_visitors(tmp_path / "s.db") == stored_visitors(tmp_path / "once.db")


def _stop_after_commits(monkeypatch: pytest.MonkeyPatch, commits: int) -> None:
    """--order time reports no progress per commit: stop it right after the store's own commit instead."""
    from ppdsl.store.sqlite import SQLiteStore

    commit, done = SQLiteStore.commit, []

    def commit_then_stop(self: Any, change: Any) -> None:
        commit(self, change)
        done.extend([1] if change.states else [])
        if len(done) == commits:
            monkeypatch.undo()
            raise Interrupted

    monkeypatch.setattr(SQLiteStore, "commit", commit_then_stop)


# ------------------------------------------------------------------- bad lines

GOOD = json.dumps(envelope(1, "v-1")).encode()


def _bad_history(tmp_path: Path) -> Path:
    long_line = b'{"visitor_id": "v-1", "track_event": {"event_name": "click", "event_data": "' + b"x" * 10_000_000
    rows = [
        GOOD,  # 1
        b'{"visitor_id": "v-1", "track_ev',  # 2: truncated
        b'{"visitor_id": "v-\xff", "track_event": {"event_name": "click"}}',  # 3: not UTF-8
        long_line + b'"}}',  # 4: 10 MB
        b"[1, 2, 3]",  # 5: JSON, not an object
        b'"a string"',  # 6
        b'{"visitor_id": "", "track_event": {"event_name": "click"}}',  # 7: a rejected envelope
        b'{"visitor_id": "v-2", "track_event": {"event_name": "no_such_event"}}',  # 8: rejected by the flow
        b'{"visitor_id": "v-2", "track_event": {"event_name": "click", "event_data": NaN}}',  # 9: not JSON
        json.dumps(envelope(2, "v-2")).encode(),  # 10
        b"",  # an empty line is no line at all
        b'{"visitor_id": "v-3", "track_event": {"event_name": "click"',  # 12: cut at the end of the file
    ]
    return write(tmp_path / "bad.jsonl", b"\n".join(rows))


def test_malformed_lines_are_counted_with_file_and_line_and_the_replay_goes_on(rules, tmp_path):
    path = _bad_history(tmp_path)
    summary = replay(rules, into(tmp_path / "s.db"), [str(path)]).as_json()
    assert summary["events"]["applied"] == 2
    assert summary["events"]["rejected"] == 9
    where = [(e["file"], e["line"]) for e in summary["first_rejected"]]
    assert where == [(str(path), n) for n in (2, 3, 4, 5, 6, 7, 8, 9, 12)]
    reasons = {e["line"]: e["reason"] for e in summary["first_rejected"]}
    assert reasons[2].startswith("the line is not valid JSON")
    assert reasons[3] == "the line is not UTF-8 text"
    assert reasons[4].startswith("the line is longer than")
    assert reasons[5] == reasons[6] == "an envelope must be a JSON object with visitor_id and track_event"
    assert reasons[7].startswith("visitor_id must be")
    assert "no_such_event" in reasons[8]
    assert "NaN" in reasons[9]
    assert sum(summary["rejected"].values()) == 9
    assert set(stored_visitors(tmp_path / "s.db")) == {"v-1", "v-2"}


def test_a_gzip_file_cut_short_gives_every_line_before_the_cut(rules, tmp_path):
    data = gzip.compress(lines(history(300)))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    complete = zlib.decompressobj(31).decompress(data[: len(data) // 2]).count(b"\n")
    assert 0 < complete < 300
    summary = replay(rules, into("memory:"), [str(path)]).as_json()
    assert summary["events"]["applied"] == complete
    (cut,) = summary["first_rejected"]
    assert (cut["file"], cut["line"]) == (str(path), complete + 1)
    assert cut["reason"].startswith("the gzip file is cut short")


def test_a_large_gzip_file_cut_short_keeps_its_lines_too(rules, tmp_path):
    data = gzip.compress(lines(history(4000)), compresslevel=1)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) * 3 // 4])
    complete = zlib.decompressobj(31).decompress(data[: len(data) * 3 // 4]).count(b"\n")
    summary = replay(rules, into("memory:"), [str(path)]).as_json()
    assert summary["events"]["applied"] == complete
    assert [e["line"] for e in summary["first_rejected"]] == [complete + 1]


def test_strict_stops_at_the_first_bad_line_with_its_file_and_line(rules, tmp_path):
    path = _bad_history(tmp_path)
    with pytest.raises(StrictStop, match=rf"^{path}:2: the line is not valid JSON"):
        replay(rules, into(tmp_path / "s.db"), [str(path)], strict=True)
    rejected_only = write(tmp_path / "r.jsonl", [envelope(1, "v-1"), envelope(2, "v-2", name="nope")])
    with pytest.raises(StrictStop, match=rf"^{rejected_only}:2: .*nope"):
        replay(rules, into("memory:"), [str(rejected_only)], strict=True)


# --------------------------------------------------------------------- actions


def test_each_action_line_is_the_action_with_visitor_message_id_and_time(rules, tmp_path):
    events = [envelope(1, "v-1"), envelope(2, "v-2", message_id=False), envelope(3, "v-1", name="signup")]
    replay(rules, into("memory:"), [str(write(tmp_path / "h.jsonl", events))], actions=str(tmp_path / "a.jsonl"))
    rows = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()]
    base = {"flow": "lead_routing", "line": 15, "type": "reply", "agent": "agent_b"}
    base["text"] = "Hello! Anything I can help you with?"
    assert rows == [
        {**base, "visitor_id": "v-1", "message_id": "m-1", "time": "2026-11-25T08:00:01Z"},
        {**base, "visitor_id": "v-2", "message_id": None, "time": "2026-11-25T08:00:02Z"},
    ]


# ------------------------------------------------------------------------ jobs


def test_two_jobs_give_the_state_summary_and_actions_of_one(rules, tmp_path):
    good = lines(history(2000, visitors=50)).splitlines(keepends=True)
    for n in range(100, 2000, 250):  # a line the flow rejects, then one that isn't JSON
        good[n] = json.dumps(envelope(n, f"v-{n}", name="nope")).encode() + b"\n"
        good[n + 3] = b"{not json\n"
    events = str(write(tmp_path / "h.jsonl", b"".join(good)))
    one = replay(rules, into(tmp_path / "one.db"), [events], actions=str(tmp_path / "one.jsonl"), batch=128)
    two = replay(rules, into(tmp_path / "two.db"), [events], actions=str(tmp_path / "two.jsonl"), batch=128, jobs=2)
    assert counts(two)["applied"] == 1984
    assert same_summary(one, two)
    assert [e["line"] for e in two.as_json()["first_rejected"]] == [101, 104, 351, 354, 601, 604, 851, 854, 1101, 1104]
    assert stored_visitors(tmp_path / "two.db") == stored_visitors(tmp_path / "one.db")
    assert (tmp_path / "two.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir() if ".part" in p.name) == []


def test_two_jobs_in_time_order_give_the_actions_of_one(rules, tmp_path):
    events = write(tmp_path / "h.jsonl", history(800, visitors=30)[::-1])
    one = replay(rules, into("memory:"), [str(events)], actions=str(tmp_path / "one.jsonl"), order="time")
    two = replay(rules, into("memory:"), [str(events)], actions=str(tmp_path / "two.jsonl"), order="time", jobs=2)
    assert same_summary(one, two)
    assert (tmp_path / "two.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("order", ["arrival", "time"])
def test_a_second_replay_with_jobs_keeps_the_actions_and_counts_each_line_once(rules, tmp_path, jobs, order):
    events = [str(write(tmp_path / "h.jsonl", history(600, visitors=30)))]
    actions = tmp_path / "actions.jsonl"
    replay(rules, into(tmp_path / "s.db"), events, actions=str(actions), jobs=jobs, order=order)
    written = actions.read_bytes()
    assert written.count(b"\n") > 300  # clicks and views get a reply, signups none
    again = replay(rules, into(tmp_path / "s.db"), events, actions=str(actions), jobs=jobs, order=order)
    assert counts(again) == {"read": 0, "applied": 0, "duplicate": 0, "rejected": 0, "already_replayed": 600}
    assert actions.read_bytes() == written
    replay(rules, into(tmp_path / "s.db"), events, actions=str(actions), jobs=3 - jobs, order=order)
    assert actions.read_bytes() == written
