"""The SQLite store's own faults: store locations that can't be used give
one line and exit 2 and leave everything as it was; a full disk fails a
replay cleanly and keeps what was committed; a store whose creation was
killed opens; and `ppdsl run --store --visitor-id`, one event at a time."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import ppdsl
from histories import LEAD, T0, envelope, event_count, history, stored_visitors, write
from ppdsl.cli.app import main
from ppdsl.engine.replay import replay
from ppdsl.store import StoreError, open_store
from ppdsl.store.sqlite import SQLiteStore


@pytest.fixture(scope="module")
def rules() -> Any:
    return ppdsl.load(LEAD)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of a folder, with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def a_store(path: Path) -> Path:
    store = SQLiteStore(str(path))
    store.close()
    return path


def _missing_folder(folder: Path) -> Path:
    return folder / "no" / "such" / "s.db"


def _read_only(folder: Path) -> Path:
    path = a_store(folder / "s.db")
    path.chmod(0o444)
    return path


def _not_sqlite(folder: Path) -> Path:
    path = folder / "notes.db"
    path.write_text("shopping list: rice, tea\n")
    return path


def _other_sqlite(folder: Path) -> Path:
    path = folder / "crm.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO customers (name) VALUES ('Li Lei')")
    con.commit()
    con.close()
    return path


def _newer(folder: Path) -> Path:
    path = a_store(folder / "s.db")
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    con.commit()
    con.close()
    return path


def _a_folder(folder: Path) -> Path:
    path = folder / "visitors"
    path.mkdir()
    return path


BAD_STORES = [
    pytest.param(_missing_folder, "the folder", id="missing-folder"),
    pytest.param(_read_only, "is read-only", id="read-only"),
    pytest.param(_not_sqlite, "not an SQLite database", id="not-sqlite"),
    pytest.param(_other_sqlite, "not a ppdsl store", id="another-sqlite-database"),
    pytest.param(_newer, "newer ppdsl", id="newer-schema"),
    pytest.param(_a_folder, "it is a folder", id="a-folder"),
]


@pytest.mark.parametrize("make, words", BAD_STORES)
def test_a_bad_store_stops_replay_with_one_line_and_exit_2(tmp_path, make, words):
    events = write(tmp_path / "h.jsonl", history(20))
    place = tmp_path / "place"
    place.mkdir()
    store = make(place)
    before = snapshot(place)
    result = CliRunner().invoke(main, ["replay", str(LEAD), str(events), "--store", str(store)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert words in result.stderr and "Traceback" not in result.output
    assert snapshot(place) == before
    assert not (place / "no").exists()


@pytest.mark.parametrize("make, words", BAD_STORES)
def test_a_bad_store_stops_run_with_one_line_and_exit_2(cli, tmp_path, make, words):
    store = make(tmp_path)
    before = snapshot(tmp_path)
    run = cli("run", LEAD, "--event", "click", "--store", store, "--visitor-id", "v-1")
    assert run.returncode == 2
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1 and words in run.stderr
    assert run.stdout == ""
    assert snapshot(tmp_path) == before


def test_a_bad_store_is_refused_by_open_store_with_the_reason(tmp_path):
    with pytest.raises(StoreError, match="newer ppdsl .* upgrade ppdsl"):
        open_store(f"sqlite:///{_newer(tmp_path)}")
    with pytest.raises(StoreError, match="unknown store URL"):
        open_store("mongodb://localhost")


def test_a_store_whose_creation_was_killed_before_its_tables_opens(tmp_path):
    path = tmp_path / "s.db"
    con = sqlite3.connect(path)  # what a kill right after `PRAGMA journal_mode=WAL` leaves
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    assert path.stat().st_size > 0
    store = SQLiteStore(str(path))
    store.close()
    assert stored_visitors(path) == {}


# --------------------------------------------------------------------- full disk


def _with_a_full_disk(url: str, spare_pages: int) -> Any:
    """The real store, on a connection that SQLite lets grow only a few pages more:
    a disk that fills up during the replay."""

    def opened() -> SQLiteStore:
        store = SQLiteStore(url)
        con = store._con
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        con.execute(f"PRAGMA max_page_count = {pages + spare_pages}")
        return store

    return opened


def _fat_history(first: int, count: int) -> list[dict]:
    """Events that take room: a new visitor and a long message id each."""
    return [
        {**envelope(n, f"visitor-{n:06d}-" + "x" * 100), "message_id": f"{n:06d}" + "m" * 90}
        for n in range(first, first + count)
    ]


def test_a_full_disk_fails_the_replay_cleanly_and_keeps_what_was_committed(rules, tmp_path):
    path = tmp_path / "s.db"
    before = write(tmp_path / "before.jsonl", history(300))
    replay(rules, lambda: open_store(str(path)), [str(before)])
    committed = stored_visitors(path)
    events = write(tmp_path / "h.jsonl", _fat_history(0, 2000))
    with pytest.raises(StoreError, match="the disk is full; nothing of this batch was written"):
        replay(rules, _with_a_full_disk(str(path), 40), [str(events)], batch=50)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()
    after = stored_visitors(path)
    assert {k: v for k, v in after.items() if k in committed} == committed
    fat = len(after) - len(committed)
    assert 0 < fat < 2000 and fat % 50 == 0  # whole batches only
    rest = replay(rules, lambda: open_store(str(path)), [str(events)], batch=50).as_json()["events"]
    assert rest["already_replayed"] == fat and rest["applied"] == 2000 - fat
    assert sum(event_count(s) for s in stored_visitors(path).values()) == 300 + 2000


def test_a_full_disk_fails_one_event_cleanly(tmp_path):
    path = a_store(tmp_path / "s.db")
    store = _with_a_full_disk(str(path), 0)()
    try:
        from ppdsl.engine.envelope import parse_envelope
        from ppdsl.engine.processor import Processor

        fat = [parse_envelope(e) for e in _fat_history(0, 50)]
        with pytest.raises(StoreError, match="the disk is full"):
            Processor(ppdsl.load(LEAD), store).process(fat)
    finally:
        store.close()
    assert stored_visitors(path) == {}


# ----------------------------------------------------------- ppdsl run --store


def _event(message_id: str | None, name: str = "click", n: int = 1) -> str:
    event = {"track_event": {"event_name": name, "event_timestamp": T0 + n}}
    return json.dumps(event if message_id is None else {"message_id": message_id, **event})


def _seen(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {row[0] for row in con.execute("SELECT id FROM seen")}
    finally:
        con.close()


def test_run_with_a_store_applies_once_and_reports_a_duplicate(cli, tmp_path):
    store = tmp_path / "s.db"
    run = cli("run", LEAD, "--store", store, "--visitor-id", "v-1", "--event", _event("m-1"), "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["visitor"]["event_count_1"] == 1 and result["actions"][0]["agent"] == "agent_b"
    assert stored_visitors(store) == {"v-1": result["visitor"]}
    again = cli("run", LEAD, "--store", store, "--visitor-id", "v-1", "--event", _event("m-1", n=2))
    assert again.returncode == 0
    assert again.stdout == "duplicate: message_id 'm-1' was applied before; nothing changed\n"
    assert stored_visitors(store) == {"v-1": result["visitor"]}
    other = cli("run", LEAD, "--store", f"sqlite:///{store}", "--visitor-id", "v-1", "--event", _event("m-2", n=3))
    assert other.returncode == 0
    assert stored_visitors(store)["v-1"]["event_count_1"] == 2
    assert _seen(store) == {"m-1", "m-2"}


def test_run_with_a_store_applies_every_event_without_a_message_id(cli, tmp_path):
    store = tmp_path / "s.db"
    for n in range(3):
        assert cli("run", LEAD, "--store", store, "--visitor-id", "v-1", "--event", _event(None, n=n)).returncode == 0
    assert stored_visitors(store)["v-1"]["event_count_1"] == 3


def test_run_with_a_store_changes_nothing_for_a_rejected_event(cli, tmp_path):
    store = tmp_path / "s.db"
    assert cli("run", LEAD, "--store", store, "--visitor-id", "v-1", "--event", _event("m-1")).returncode == 0
    before, seen = stored_visitors(store), _seen(store)
    run = cli("run", LEAD, "--store", store, "--visitor-id", "v-1", "--event", _event("m-2", name="nope"))
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.startswith("error: ") and "nope" in run.stderr
    bad_time = json.dumps({"message_id": "m-3", "track_event": {"event_name": "click", "event_timestamp": -1}})
    assert cli("run", LEAD, "--store", store, "--visitor-id", "v-2", "--event", bad_time).returncode == 1
    assert stored_visitors(store) == before and _seen(store) == seen
    fixed = cli("run", LEAD, "--store", store, "--visitor-id", "v-1", "--event", _event("m-2", n=5))
    assert fixed.returncode == 0 and stored_visitors(store)["v-1"]["event_count_1"] == 2


@pytest.mark.parametrize(
    "args, words",
    [
        (["--store", "s.db"], "--store URL and --visitor-id ID go together"),
        (["--visitor-id", "v-1"], "--store URL and --visitor-id ID go together"),
        (["--store", "s.db", "--visitor-id", ""], "visitor_id must be 1 to 128 characters"),
    ],
)
def test_run_with_a_store_checks_its_options(cli, tmp_path, args, words):
    run = cli("run", LEAD, "--event", "click", *args, cwd=tmp_path)
    assert run.returncode in (1, 2) and words in run.stderr
    assert not (tmp_path / "s.db").exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A real disk that fills up: a 1 MiB tmpfs (root only; skipped where mounting is refused)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = shutil.which("mount") and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True
    )
    if not mounted or mounted.returncode != 0:
        pytest.skip("can't mount a small tmpfs here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_fails_the_cli_replay_with_one_line_and_keeps_what_was_committed(small_disk, tmp_path):
    store = small_disk / "s.db"
    first = CliRunner().invoke(
        main, ["replay", str(LEAD), str(write(tmp_path / "h.jsonl", history(200))), "--store", str(store)]
    )
    assert first.exit_code == 0, first.output
    committed = stored_visitors(store)
    fat = write(tmp_path / "fat.jsonl", _fat_history(0, 4000))
    result = CliRunner().invoke(main, ["replay", str(LEAD), str(fat), "--store", str(store)])
    assert result.exit_code == 2
    assert result.stderr == f"error: store {store}: the disk is full; nothing of this batch was written\n"
    assert stored_visitors(store) == committed
    con = sqlite3.connect(store)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()
