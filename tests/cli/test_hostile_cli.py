"""Hostile input through the installed `ppdsl` command (`check`, `run`,
`compile`): junk, empty and huge files, bracket bombs, hostile events,
visitors and `--at` values, terminal escapes and damaged cache entries end in
a clear error, never in a traceback, and a rejected `run --save` leaves the
visitor file untouched."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from hostile import BINARY, paren_bomb


def assert_no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout, proc.stdout[-3000:]


# ----------------------------------------------------------------- hostile source files


def test_file_name_with_terminal_escapes_in_diagnostics(cli, tmp_path):
    src = tmp_path / "x\x1b]0;PWN\x07\x1b[2J.ppflow"
    src.write_text("on event 1 -> reply\n", encoding="utf-8")
    proc = cli("check", src)
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert "\x1b" not in proc.stdout + proc.stderr, "a file name must not drive the terminal"


def test_paren_bomb_through_run(cli, tmp_path):
    path = tmp_path / "bomb.ppflow"
    path.write_text(f"on event 1 -> if {paren_bomb(60, 40)} reply a\n", encoding="utf-8")
    proc = cli("run", path, "--event", "1")
    assert_no_traceback(proc)
    assert proc.returncode in (0, 1)


def test_three_megabyte_line_through_check(cli, tmp_path):
    path = tmp_path / "big.ppflow"
    path.write_text("on event 1 -> reply a " + "(" * 3_000_000 + "\n", encoding="utf-8")
    proc = cli("check", path)
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert ":1:" in proc.stdout and "E005" in proc.stdout


@pytest.mark.parametrize("name", ["random bytes", "png header", "utf-16 with bom", "escape sequences"])
@pytest.mark.parametrize("command", ["check", "run", "compile"])
def test_binary_junk_through_the_cli(cli, tmp_path, name, command):
    path = tmp_path / "junk.ppflow"
    path.write_bytes(BINARY[name])
    args = {"check": (), "run": ("--event", "1"), "compile": ("-o", tmp_path / "out.py")}[command]
    proc = cli(command, path, *args)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert_no_traceback(proc)
    assert "junk.ppflow:" in proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr
    assert not (tmp_path / "out.py").exists()


def test_empty_file_through_the_cli(cli, tmp_path):
    path = tmp_path / "empty.ppflow"
    path.write_bytes(b"")
    for args in (("check",), ("run", "--event", "1", "--json"), ("compile",)):
        proc = cli(args[0], path, *args[1:])
        assert_no_traceback(proc)
        assert proc.returncode in (0, 1)


# ----------------------------------------------------------------- through `ppdsl run`


CLI_RULES = 'on event 1 -> reply a "{{ data }}"\non event 2 -> set extra_field_x = data\n'


@pytest.fixture
def cli_files(tmp_path):
    rules_path = tmp_path / "rules.ppflow"
    rules_path.write_text(CLI_RULES, encoding="utf-8")
    visitor = tmp_path / "visitor.json"
    visitor.write_bytes(b'{ "user_fullname" : "Li",\n\n  "event_count_1": 3 }  \n')
    return rules_path, visitor


def _untouched(visitor: Path, before: bytes) -> None:
    assert visitor.read_bytes() == before
    leftovers = [p.name for p in visitor.parent.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers, leftovers


@pytest.mark.parametrize(
    "event",
    [
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": ' + "[" * 60_000 + "]" * 60_000 + "}",
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": ' + "[" * 700 + "]" * 700 + "}",
        '{"event_seq": 2, "event_timestamp": 1000, "event_data": ' + "[" * 700 + "]" * 700 + "}",
        '{"event_seq": 1, "event_timestamp": NaN}',
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": {"x": Infinity}}',
        '{"event_seq": 1, "event_timestamp": 1' + "0" * 400 + "}",
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": "\\ud800"}',
        '{"event_seq": 2, "event_timestamp": 1000, "event_data": {"\\udfff": "\\ud800"}}',
        '{"event_seq": 1, "event_timestamp": 1000, "event_data": ' + "9" * 5000 + "}",
        '{"event_seq": true}',
        '{"event_seq": 1.0}',
        '{"event_seq": "1"}',
        '{"track_event": [1]}',
        '{"track_event": {"event_name": {"x": 1}}}',
        '{"event_seq": 1, "event_timestamp": "soon"}',
        "[1, 2]",
        "{",
        "{}",
        '{"event_seq": 1}garbage',
        "0",
        "-1",
        "99999999999999999999999",
        "not-a-name!",
        "@/nonexistent/event.json",
        "@",
        " ",
    ],
    ids=lambda e: repr(e)[:40],
)
def test_run_hostile_event_with_save(cli, cli_files, event):
    rules_path, visitor = cli_files
    before = visitor.read_bytes()
    proc = cli("run", rules_path, "--event", event, "--visitor", visitor, "--save", "--json")
    assert_no_traceback(proc)
    if proc.returncode == 0:
        json.loads(proc.stdout)
        json.loads(visitor.read_text(encoding="utf-8"))
        leftovers = [p.name for p in visitor.parent.iterdir() if p.name.endswith(".tmp")]
        assert not leftovers
        return
    assert proc.returncode in (1, 2), proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip(), "a rejection needs a message"
    if proc.returncode == 1:
        assert proc.stderr.startswith("error: ") or ": error[" in proc.stderr, proc.stderr
    _untouched(visitor, before)


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00", "{}".encode("utf-16"), b"", b"[]"])
def test_run_event_file_that_is_not_an_object(cli, cli_files, tmp_path, content):
    rules_path, visitor = cli_files
    event = tmp_path / "event.json"
    event.write_bytes(content)
    before = visitor.read_bytes()
    proc = cli("run", rules_path, "--event", f"@{event}", "--visitor", visitor, "--save")
    assert_no_traceback(proc)
    assert proc.returncode == 2
    assert "event.json" in proc.stderr
    _untouched(visitor, before)


def test_run_visitor_file_with_lone_surrogates_saves_cleanly(cli, cli_files):
    rules_path, visitor = cli_files
    visitor.write_text('{"user_fullname": "Li\\ud800", "\\udfff": 1}', encoding="utf-8")
    proc = cli("run", rules_path, "--event", "1", "--visitor", visitor, "--save", "--json")
    assert_no_traceback(proc)
    assert proc.returncode in (0, 1, 2)
    if proc.returncode == 0:
        saved = json.loads(visitor.read_text(encoding="utf-8"))
        assert saved["user_fullname"] == "Li\ud800" and saved["\udfff"] == 1
    assert not [p.name for p in visitor.parent.iterdir() if p.name.endswith(".tmp")]


def test_run_summary_does_not_pass_terminal_escapes_through(cli, tmp_path):
    """Event data comes from a visitor's browser: the readable summary must not
    let it drive the terminal (as file names already can't)."""
    rules_path = tmp_path / "echo.ppflow"
    rules_path.write_text('on event 1 -> reply a "{{ data.x }}"\n', encoding="utf-8")
    event = json.dumps({"event_seq": 1, "event_data": {"x": "\x1b]0;PWN\x07\x1b[2J\r\x08"}})
    proc = cli("run", rules_path, "--event", event)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout


def test_run_deep_event_file(cli, cli_files, tmp_path):
    rules_path, visitor = cli_files
    event = tmp_path / "deep.json"
    event.write_text('{"event_seq": 1, "event_data": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    before = visitor.read_bytes()
    proc = cli("run", rules_path, "--event", f"@{event}", "--visitor", visitor, "--save")
    assert_no_traceback(proc)
    assert proc.returncode == 2
    assert "deep.json" in proc.stderr
    _untouched(visitor, before)


@pytest.mark.parametrize(
    "content",
    [
        bytes(random.Random(11).randrange(256) for _ in range(2048)),
        b"\x89PNG\r\n\x1a\n\x00\x00",
        b"[1, 2, 3]",
        b'["event_count_1"]',
        b"null",
        b"42",
        b'"text"',
        b'{"event_count_1": 3',
        b"\xff\xfe{\x00}\x00",
        b"{" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"event_count_1": NaN}',
    ],
)
def test_run_visitor_file_that_is_not_an_object(cli, cli_files, content):
    rules_path, visitor = cli_files
    visitor.write_bytes(content)
    proc = cli("run", rules_path, "--event", "1", "--visitor", visitor, "--save")
    assert_no_traceback(proc)
    if content == b'{"event_count_1": NaN}':
        assert proc.returncode in (1, 2)
    else:
        assert proc.returncode == 2, (proc.returncode, proc.stderr)
        assert "--visitor" in proc.stderr or "visitor" in proc.stderr
    _untouched(visitor, content)


@pytest.mark.parametrize(
    "state",
    [
        '{"event_count_1": "3"}',
        '{"event_count_1": 1.5}',
        '{"event_count_1": true}',
        '{"event_count_1": -4}',
        '{"event_first_time_1": "yesterday"}',
        '{"event_first_time_1": [2026]}',
        '{"event_first_time_1": "0001-01-01T00:00:00+01:00"}',
        '{"event_last_time_1": "9999-12-31T23:59:59-01:00"}',
        '{"event_last_time_1": 1e400}',
        '{"event_count_1": ' + "9" * 5000 + "}",
    ],
)
def test_run_visitor_with_wrong_types_leaves_it_unchanged(cli, cli_files, state):
    rules_path, visitor = cli_files
    visitor.write_text(state, encoding="utf-8")
    before = visitor.read_bytes()
    proc = cli(
        "run", rules_path, "--event", '{"event_seq": 1, "event_timestamp": 1795593600}', "--visitor", visitor, "--save"
    )
    assert_no_traceback(proc)
    assert proc.returncode in (1, 2), proc.stdout
    assert proc.stderr.strip() and proc.stdout == ""
    _untouched(visitor, before)


@pytest.mark.parametrize(
    "at",
    [
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "1" + "0" * 400,
        "nan",
        "-5",
        "1e400",
        "",
        "2026-02-30T00:00:00Z",
    ],
)
def test_run_hostile_at(cli, cli_files, at):
    rules_path, visitor = cli_files
    before = visitor.read_bytes()
    proc = cli("run", rules_path, "--event", "1", "--at", at, "--visitor", visitor, "--save")
    assert_no_traceback(proc)
    assert proc.returncode in (0, 1, 2)
    if proc.returncode:
        _untouched(visitor, before)


def test_run_with_a_damaged_cache_entry(cli, tmp_path, monkeypatch):
    """A cache entry that is truncated or garbage must be recompiled, not crash `run`."""
    cache = tmp_path / "cache"
    rules_path = tmp_path / "rules.ppflow"
    rules_path.write_text('on event 1 -> reply a "ok"\n', encoding="utf-8")
    monkeypatch.setenv("PPDSL_CACHE_DIR", str(cache))
    assert cli("run", rules_path, "--event", "1", "--json").returncode == 0
    entries = [p for p in cache.rglob("*") if p.is_file()]
    assert entries
    for entry in entries:
        entry.write_bytes(b"\x00garbage(" + entry.read_bytes()[:20])
    proc = cli("run", rules_path, "--event", "1", "--json")
    assert_no_traceback(proc)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["actions"][0]["text"] == "ok"
