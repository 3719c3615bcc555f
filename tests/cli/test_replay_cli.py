"""`ppdsl replay` on the command line: summaries as text and --json, exit
statuses, --strict, bad lines with FILE:LINE, --diff, standard input, --jobs,
--engine spark and --help. In-process through click's CliRunner, except
where a real process is the point (standard input)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from histories import LEAD, envelope, event_count, history, stored_visitors, write
from ppdsl.cli.app import main

SUMMARY_KEYS = {"events", "rejected", "first_rejected", "actions", "seconds", "events_per_second", "store"}


def replay(*args: object) -> Result:
    return CliRunner().invoke(main, ["replay", *map(str, args)])


def summary(*args: object) -> dict:
    result = replay(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def timeless(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("seconds", "events_per_second", "store")}


@pytest.fixture
def events(tmp_path: Path) -> Path:
    bad = [{"visitor_id": "v-1", "track_event": {"event_name": "nope"}}]
    return write(tmp_path / "history.jsonl", history(400) + bad)


# ------------------------------------------------------------------- summaries


def test_json_summary_has_every_key(events):
    report = summary(LEAD, events)
    assert set(report) == SUMMARY_KEYS
    assert report["events"] == {"read": 401, "applied": 400, "duplicate": 0, "rejected": 1, "already_replayed": 0}
    assert report["store"] == "memory: (dry run)"
    assert sum(a["count"] for a in report["actions"]) > 0
    assert {tuple(a) for a in report["actions"]} == {("flow", "line", "type", "count")}
    assert [(e["file"], e["line"]) for e in report["first_rejected"]] == [(str(events), 401)]
    assert list(report["rejected"].values()) == [1]


def test_a_dry_run_and_a_store_give_the_same_summary(events, tmp_path):
    dry = summary(LEAD, events)
    stored = summary(LEAD, events, "--store", tmp_path / "s.db")
    assert timeless(stored) == timeless(dry)
    assert stored["store"] == str(tmp_path / "s.db")


def test_the_text_summary_names_the_counts_reasons_and_actions(events):
    result = replay(LEAD, events)
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("replayed into memory: (dry run)")
    for word in ("read", "applied", "duplicate", "rejected", "actions:", "lead_routing:15 reply"):
        assert word in out
    assert f"{events}:401: " in out


def test_replaying_into_a_store_twice_changes_nothing_the_second_time(tmp_path):
    events = write(tmp_path / "h.jsonl", history(300, without_ids=2))
    store = tmp_path / "s.db"
    first = summary(LEAD, events, "--store", f"sqlite:///{store}")
    before = stored_visitors(store)
    second = summary(LEAD, events, "--store", store)
    assert first["events"]["applied"] == 300
    assert second["events"] == {"read": 0, "applied": 0, "duplicate": 0, "rejected": 0, "already_replayed": 300}
    assert stored_visitors(store) == before
    assert "already replayed into this store, skipped: 300 lines" in replay(LEAD, events, "--store", store).stdout


# ------------------------------------------------------------ bad lines, strict


def test_malformed_lines_are_shown_with_file_and_line_and_the_replay_goes_on(tmp_path):
    path = write(tmp_path / "h.jsonl", b'{"visitor_id": "v", "track_event": {"event_name": "click"}}\n[1]\n{"vis\n')
    result = replay(LEAD, path)
    assert result.exit_code == 0
    assert f"{path}:2: an envelope must be a JSON object" in result.stdout
    assert f"{path}:3: the line is not valid JSON" in result.stdout


def test_strict_exits_1_at_the_first_bad_line_with_file_and_line(events, tmp_path):
    result = replay(LEAD, events, "--strict", "--store", tmp_path / "s.db")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {events}:401: ")
    assert result.stderr.rstrip("\n").endswith("(--strict)") and result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_strict_with_only_good_lines_exits_0(tmp_path):
    assert replay(LEAD, write(tmp_path / "h.jsonl", history(50)), "--strict").exit_code == 0


# ------------------------------------------------------------------------ diff


@pytest.fixture
def eager(tmp_path: Path) -> Path:
    """lead_routing with a lower bar for the demo offer."""
    path = tmp_path / "eager.ppflow"
    path.write_text(LEAD.read_text(encoding="utf-8").replace("> 8", "> 1"), encoding="utf-8")
    return path


def _diff_history(tmp_path: Path) -> Path:
    events = [envelope(n, "v-hot", name=("signup", "view_pricing")[n % 2]) for n in range(12)]
    events += [envelope(100 + n, f"v-{n}") for n in range(5)]
    return write(tmp_path / "h.jsonl", events)


def test_diff_of_a_flow_with_itself_exits_0(tmp_path):
    moved = tmp_path / "moved.ppflow"
    moved.write_text("# a comment moves every line down\n" + LEAD.read_text(encoding="utf-8"), encoding="utf-8")
    result = replay(LEAD, _diff_history(tmp_path), "--diff", moved)
    assert result.exit_code == 0, result.output
    assert ": 0 differ" in result.stdout


def test_diff_reports_the_differing_events_per_flow_and_line_with_examples(tmp_path, eager):
    result = replay(LEAD, _diff_history(tmp_path), "--diff", eager, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    # from its second signup and second view_pricing on, v-hot's view_pricing events (lines 4, 6, 8, 10
    # and 12) get the demo offer from eager; lead_routing wants more than 8 of each
    assert report["events"] == 17 and report["differing_events"] == 5
    assert report["left"] == [{"flow": "lead_routing", "line": 15, "type": "reply", "count": 5}]
    assert report["right"] == [{"flow": "lead_routing", "line": 13, "type": "reply", "count": 5}]
    first = report["examples"][0]
    assert (first["visitor_id"], first["event"], first["line"]) == ("v-hot", "view_pricing", 4)
    assert first["left"][0]["agent"] == "agent_b" and first["right"][0]["agent"] == "agent_a"
    assert report["flows"] == [str(LEAD), str(eager)]


def test_diff_as_text_names_the_sides_and_the_examples(tmp_path, eager):
    path = _diff_history(tmp_path)
    result = replay(LEAD, path, "--diff", eager)
    assert result.exit_code == 1
    assert ": 5 differ" in result.stdout
    assert f"e.g. {path}:4 visitor v-hot, event view_pricing:" in result.stdout
    assert "lead_routing:13 reply" in result.stdout and "lead_routing:15 reply" in result.stdout


@pytest.mark.parametrize("bad", [b"{oops", b'{"visitor_id": "v-2", "track_event": {"event_name": "nope"}}'])
def test_diff_with_strict_exits_1_at_a_bad_line(tmp_path, bad):
    path = write(tmp_path / "h.jsonl", json.dumps(envelope(1, "v-1")).encode() + b"\n" + bad + b"\n")
    result = replay(LEAD, path, "--diff", LEAD, "--strict")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path}:2: ") and result.stdout == ""
    assert replay(LEAD, path, "--diff", LEAD).exit_code == 0


def test_diff_leaves_out_store_actions_and_jobs(tmp_path, eager):
    result = replay(LEAD, _diff_history(tmp_path), "--diff", eager, "--store", tmp_path / "s.db")
    assert result.exit_code == 2 and "--diff" in result.stderr
    assert not (tmp_path / "s.db").exists()


# ----------------------------------------------------------------- stdin, jobs


def test_standard_input_is_read_for_a_dash(cli, tmp_path):
    content = (write(tmp_path / "h.jsonl", history(120))).read_text(encoding="utf-8")
    run = cli("replay", LEAD, "-", "--json", "--store", tmp_path / "s.db", input=content + "[1]\n")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["events"]["applied"] == 120
    assert report["first_rejected"][0]["file"] == "<stdin>" and report["first_rejected"][0]["line"] == 121
    assert sum(event_count(s) for s in stored_visitors(tmp_path / "s.db").values()) == 120


def test_jobs_2_gives_the_state_and_actions_of_jobs_1(tmp_path):
    events = write(tmp_path / "h.jsonl", history(1500, visitors=40))
    one = summary(LEAD, events, "--store", tmp_path / "one.db", "--actions", tmp_path / "one.jsonl")
    two = summary(LEAD, events, "--store", tmp_path / "two.db", "--actions", tmp_path / "two.jsonl", "--jobs", 2)
    assert timeless(two) == timeless(one)
    assert stored_visitors(tmp_path / "two.db") == stored_visitors(tmp_path / "one.db")
    assert (tmp_path / "two.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()


def test_jobs_with_standard_input_is_a_usage_error(cli, tmp_path):
    run = cli("replay", LEAD, "-", "--jobs", 2, input="")
    assert run.returncode == 2 and run.stderr.startswith("error: --jobs reads the files in every process")


# ------------------------------------------------------------- usage and help


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--engine", "spark"], "give --output DIR"),
        (["--master", "local[2]"], "--master and --output go with --engine spark"),
        (["--engine", "spark", "--output", "o", "--jobs", "2"], "leave out --actions, --jobs and --diff"),
    ],
)
def test_spark_options_are_checked_before_anything_starts(events, args, says):
    result = replay(LEAD, events, *args)
    assert result.exit_code == 2
    assert says in result.stderr
    assert "Traceback" not in result.output


def test_a_missing_events_file_is_a_one_line_error(tmp_path):
    result = replay(LEAD, tmp_path / "nowhere.jsonl")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "nowhere.jsonl" in result.stderr


def test_help_shows_examples():
    result = replay("--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert "ppdsl replay examples/lead_routing.ppflow" in result.stdout
    for option in ("--store", "--actions", "--json", "--diff", "--order", "--strict", "--jobs", "--engine"):
        assert option in result.stdout


def test_progress_goes_to_stderr_when_asked(events):
    shown = replay(LEAD, events, "--progress")
    assert shown.exit_code == 0 and "replaying" in shown.stderr
    assert replay(LEAD, events, "--no-progress").stderr == ""
    assert replay(LEAD, events).stderr == ""  # not a terminal


def test_a_history_of_segment_track_calls_replays_alike_with_two_jobs(tmp_path):
    calls = [
        {
            "type": "track",
            "event": ("click", "view_pricing", "signup")[n % 3],
            **({"userId": f"u-{n % 7}"} if n % 2 else {"anonymousId": f"a-{n % 5}"}),
            "messageId": f"ajs-{n}",
            "properties": {"n": n},
            "timestamp": f"2026-11-25T08:{n // 60:02d}:{n % 60:02d}Z",
            "context": {"traits": {"name": f"Visitor {n % 7}"}} if n % 2 else {},
        }
        for n in range(600)
    ]
    events = write(tmp_path / "segment.jsonl", calls)
    one = summary(LEAD, events, "--store", tmp_path / "one.db", "--actions", tmp_path / "one.jsonl")
    two = summary(LEAD, events, "--store", tmp_path / "two.db", "--actions", tmp_path / "two.jsonl", "--jobs", 2)
    assert one["events"]["applied"] == 600 and timeless(two) == timeless(one)
    visitors = stored_visitors(tmp_path / "one.db")
    assert set(visitors) == {f"u-{n}" for n in range(7)} | {f"a-{n}" for n in range(5)}
    assert visitors["u-3"]["user_fullname"] == "Visitor 3"
    assert stored_visitors(tmp_path / "two.db") == visitors
    assert (tmp_path / "two.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()
