"""SQLite, the embedded default: one file, no server (stdlib sqlite3, WAL).

Writers serialize on SQLite's write lock (BEGIN IMMEDIATE) and check each
visitor's version inside it, so processes that cached a state can't overwrite
a newer one. A commit holds the states, the message ids and the replay
cursors of a whole batch. synchronous=NORMAL: a killed process loses nothing
committed; a power cut may lose the last commits (docs in README, "Stores").
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any, Optional
from collections.abc import Collection, Iterator, Sequence

from .base import DEDUP_WINDOW, MOVED, SCHEMA_VERSION, Change, Conflict, CursorMoved, StoreError, dumps

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE visitors (id TEXT PRIMARY KEY, state TEXT NOT NULL, version INTEGER NOT NULL);
CREATE TABLE seen (id TEXT PRIMARY KEY, time REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE cursors (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_HEADER = b"SQLite format 3\x00"
_CHUNK = 500  # ids per IN (...) query


def sqlite_path(url: str) -> str:
    """`sqlite:///rel.db` -> rel.db, `sqlite:////abs.db` -> /abs.db; a bare path is itself."""
    return url[len("sqlite:///") :] if url.startswith("sqlite:///") else url


class SQLiteStore:
    sql_dialect: Optional[str] = "sqlite"

    def __init__(self, url: str, *, readonly: bool = False, window: float = DEDUP_WINDOW):
        self.url = url
        self.path = path = sqlite_path(url)
        self.window = window
        self._pruned_at = float("-inf")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise StoreError(f"can't open store {path}: the folder {folder} doesn't exist")
        if os.path.isdir(path):
            raise StoreError(f"can't open store {path}: it is a folder; give a file name, e.g. {path}/ppdsl.db")
        exists = os.path.exists(path) and os.path.getsize(path) > 0
        if exists:
            _check_header(path)
        elif readonly:
            raise StoreError(
                f"no store at {path}: replay events into it first (ppdsl replay FLOW EVENTS --store {url})"
            )
        elif not os.access(folder, os.W_OK):
            raise StoreError(f"can't create store {path}: the folder {folder} is read-only")
        if exists and not readonly and not _writable(path):
            raise StoreError(f"store {path} is read-only; ppdsl needs to write to it (ppdsl visitors only reads)")
        self._con = _connect(path, readonly, exists)
        try:
            if exists and (readonly or _schema_objects(self._con)):
                self._check_schema()
            else:  # a new file, or one whose creation was killed before its tables were made
                self._create()
            row = self._con.execute("SELECT value FROM meta WHERE key = 'newest'").fetchone()
            self._newest = float(row[0]) if row else float("-inf")
        except sqlite3.DatabaseError as exc:
            self._con.close()
            raise StoreError(f"can't open store {path}: {exc}") from None
        except StoreError:  # refused: close it, so a WAL store's -wal and -shm files go too
            self._con.close()
            raise

    def _create(self) -> None:
        con = self._con
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("BEGIN IMMEDIATE")
        if _schema_objects(con):  # another process was first
            con.execute("ROLLBACK")
            self._check_schema()
            return
        for statement in _SCHEMA.strip().split(";\n"):
            con.execute(statement)
        con.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        con.execute("COMMIT")

    def _check_schema(self) -> None:
        con = self._con
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" not in tables:
            raise StoreError(f"{self.path} is an SQLite database, but not a ppdsl store; give another file")
        row = con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        version = int(row[0]) if row and str(row[0]).isdigit() else None
        if version is None:
            raise StoreError(f"{self.path} is an SQLite database, but not a ppdsl store; give another file")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} was written by a newer ppdsl (store schema {version}, this ppdsl reads "
                f"{SCHEMA_VERSION}): upgrade ppdsl (pip install -U ppdsl)"
            )

    def load(self, visitor_ids: Collection[str]) -> dict[str, tuple[dict[str, Any], int]]:
        found = {}
        for chunk in _chunks(list(visitor_ids)):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT id, state, version FROM visitors WHERE id IN ({marks})"
            for visitor_id, state, version in self._read(query, chunk):
                found[visitor_id] = (json.loads(state), version)
        return found

    def seen(self, message_ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(list(message_ids)):
            marks = ",".join("?" * len(chunk))
            found.update(row[0] for row in self._read(f"SELECT id FROM seen WHERE id IN ({marks})", chunk))
        return found

    def cursor(self, key: str) -> Any:
        rows = self._read("SELECT value FROM cursors WHERE key = ?", [key])
        return json.loads(rows[0][0]) if rows else None

    def commit(self, change: Change) -> None:
        con = self._con
        new = [(i, dumps(s)) for i, (s, v) in change.states.items() if v == 0]
        updated = [(dumps(s), v + 1, i, v) for i, (s, v) in change.states.items() if v != 0]
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                con.executemany("INSERT INTO visitors (id, state, version) VALUES (?, ?, 1)", new)
                if con.executemany(
                    "UPDATE visitors SET state = ?, version = ? WHERE id = ? AND version = ?", updated
                ).rowcount != len(updated):
                    raise Conflict("visitor")
                con.executemany("INSERT INTO seen (id, time) VALUES (?, ?)", change.seen)
                for key, value in change.expect.items():
                    row = con.execute("SELECT value FROM cursors WHERE key = ?", (key,)).fetchone()
                    if (json.loads(row[0]) if row else None) != value:
                        raise CursorMoved(f"store {self.path}: {MOVED}")
                con.executemany(
                    "INSERT OR REPLACE INTO cursors (key, value) VALUES (?, ?)",
                    [(k, json.dumps(v)) for k, v in change.cursors.items()],
                )
                self._move_window(change.newest)
                con.execute("COMMIT")
            except sqlite3.IntegrityError:
                con.execute("ROLLBACK")
                raise Conflict("visitor or message id") from None
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: {_reason(exc)}; nothing of this batch was written") from None

    def _move_window(self, newest: Optional[float]) -> None:
        if newest is None or newest <= self._newest:
            return
        self._newest = newest
        self._con.execute("INSERT OR REPLACE INTO meta VALUES ('newest', ?)", (repr(newest),))
        if newest - self._pruned_at > self.window / 7:  # about once a day of event time
            self._pruned_at = newest
            self._con.execute("DELETE FROM seen WHERE time < ?", (newest - self.window,))

    def visitors(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for visitor_id, state in self._rows("SELECT id, state FROM visitors ORDER BY id", ()):
            yield visitor_id, json.loads(state)

    def execute(self, query: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        """The rows of a read-only query over the store's tables: the filters
        of `ppdsl visitors` (ppdsl/build/filters.py), with every user value bound."""
        return self._rows(query, params)

    def count(self) -> int:
        return int(self._read("SELECT count(*) FROM visitors", [])[0][0])

    def _rows(self, query: str, params: Sequence[Any]) -> Iterator[Any]:
        try:
            yield from self._con.execute(query, params)
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: {_reason(exc)}") from None

    def _read(self, query: str, params: list[Any]) -> list[Any]:
        try:
            return self._con.execute(query, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: {_reason(exc)}") from None

    def close(self) -> None:
        self._con.close()


def _check_header(path: str) -> None:
    try:
        with open(path, "rb") as f:
            header = f.read(len(_HEADER))
    except OSError as exc:
        raise StoreError(f"can't read store {path}: {exc.strerror}") from None
    if header != _HEADER:
        raise StoreError(f"{path} is not a ppdsl store (not an SQLite database); give another file")


def _writable(path: str) -> bool:
    import stat

    return bool(os.stat(path).st_mode & stat.S_IWUSR) and os.access(path, os.W_OK)


def _connect(path: str, readonly: bool, exists: bool) -> sqlite3.Connection:
    from urllib.parse import quote

    mode = "ro" if readonly else ("rw" if exists else "rwc")
    try:
        con = sqlite3.connect(f"file:{quote(path)}?mode={mode}", uri=True, isolation_level=None, timeout=60)
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        if readonly:  # a WAL store in a read-only folder: read it as it is
            try:
                con = sqlite3.connect(f"file:{quote(path)}?immutable=1", uri=True, isolation_level=None)
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return con
            except sqlite3.Error:
                pass
        raise StoreError(f"can't open store {path}: {_reason(exc)}") from None
    return con


def _reason(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "full" in text:
        return "the disk is full"
    if "locked" in text or "busy" in text:
        return "another process holds the store's write lock for too long (over 60 s)"
    if "readonly" in text:
        return "the store is read-only"
    return text


def _schema_objects(con: sqlite3.Connection) -> int:
    """How many tables, indexes and views a database holds."""
    return int(con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
