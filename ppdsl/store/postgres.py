"""PostgreSQL (`postgresql://` or `postgres://` URLs): many services on many
machines share one database. psycopg 3 with a small connection pool.

Writers don't lock visitors while they compute: a commit updates each visitor
only if its version is still the one read (a compare-and-set, as SQLite's
store does), and inserts new visitors and message ids under their primary
keys, so a writer that lost a race gets Conflict and the engine redoes its
batch. The states, message ids and cursors of a batch are one transaction
(benchmarks/README.md, "PostgreSQL store", has the figures that chose a version
check over SELECT ... FOR UPDATE).

States are JSONB, so `ppdsl visitors --where` runs inside the database
(ppdsl/codegen/sql.py, the PostgreSQL dialect). The few states JSONB can't
hold exactly (a NUL character or a lone surrogate in a string, a float that
JSONB would read back as an integer or as 0) are kept as JSON text in `raw`.

The tables are made, and upgraded from an older ppdsl, by the numbered steps
of _MIGRATIONS, under an advisory lock so that two processes starting at
once don't race. A pool is opened per process: a forked child (replay
--jobs) never touches its parent's connections.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
from collections.abc import Collection, Iterator, Sequence
from typing import Any, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import DEDUP_WINDOW, MOVED, Change, Conflict, CursorMoved, StoreError, dumps, masked

try:
    import psycopg
    from psycopg import errors
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError:  # pragma: no cover - the extra is in the test extra
    psycopg = None  # type: ignore[assignment]

# the pool logs every failed reconnection over several lines; ppdsl reports the failures itself, in one
_POOL_LOG = logging.getLogger("psycopg.pool")
if _POOL_LOG.level == logging.NOTSET:
    _POOL_LOG.setLevel(logging.ERROR)

EXTRA = "postgresql:// stores need the postgres extra: pip install 'ppdsl[postgres]'"
TABLES = ("meta", "visitors", "seen", "cursors")
_LOCK = 0x70706473  # the advisory lock that serializes schema creation and upgrades ("ppds")

# Each step takes the schema from its index to the next number; a new database runs them all.
_MIGRATIONS: list[list[str]] = [
    [  # 0 -> 1
        "CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL)",
        'CREATE TABLE visitors (id text COLLATE "C" PRIMARY KEY, state jsonb, raw text, version bigint NOT NULL)',
        "CREATE TABLE seen (id text PRIMARY KEY, time double precision NOT NULL)",
        "CREATE TABLE cursors (key text PRIMARY KEY, value text NOT NULL)",
        "INSERT INTO meta VALUES ('schema', '1')",
    ],
    [  # 1 -> 2: the window is pruned by event time; without an index every prune read the whole table
        "CREATE INDEX seen_time ON seen (time)",
    ],
]
SCHEMA = len(_MIGRATIONS)
"""The schema this ppdsl writes; an older one is upgraded, a newer one refused."""

# the parts of a commit's one statement (data-modifying WITH queries); rows come as binary arrays
_INSERT = """new_rows AS (INSERT INTO visitors (id, state, raw, version)
SELECT id, state::jsonb, raw, 1 FROM unnest(%b::text[], %b::text[], %b::text[]) AS new(id, state, raw) ORDER BY id)"""
_UPDATE = """updated AS (UPDATE visitors SET state = new.state::jsonb, raw = new.raw, version = visitors.version + 1
FROM unnest(%b::text[], %b::text[], %b::text[], %b::bigint[]) AS new(id, state, raw, version)
WHERE visitors.id = new.id AND visitors.version = new.version RETURNING 1)"""
_SEEN = """seen_rows AS (INSERT INTO seen (id, time)
SELECT * FROM unnest(%b::text[], %b::float8[]) AS new(id, time) ORDER BY id)"""

# options of ppdsl's own in the URL's query string; every other one goes to libpq
_OPTIONS = {"pool_size": 4, "timeout": 30}
_SURROGATE = re.compile("[\ud800-\udfff]")
_MARKS = ("\\u0000", "\\ud", "e+", "-0.0")  # in the JSON text of every state JSONB can't hold exactly


class PostgresStore:
    sql_dialect: Optional[str] = "postgresql"

    def __init__(self, url: str, *, readonly: bool = False, window: float = DEDUP_WINDOW):
        if psycopg is None:
            raise StoreError(EXTRA)
        self.url = masked(url)  # what messages show; the password stays in _url
        self._url = url
        self.window = window
        self.readonly = readonly
        self._pruned_at = -math.inf
        self._conninfo, options = _split(url, self.url)
        self.pool_size, self.timeout = options["pool_size"], options["timeout"]
        self._pool: Optional[Any] = None
        self._pid = 0
        self._checking = threading.Lock()
        try:
            with psycopg.connect(self._conninfo, **self._kwargs()) as conn:
                self._prepare(conn)
        except psycopg.OperationalError as exc:
            raise StoreError(f"can't connect to PostgreSQL store {self.url}: {self._reason(exc)}") from None
        except psycopg.Error as exc:
            raise StoreError(f"can't open PostgreSQL store {self.url}: {self._reason(exc)}") from None

    # ------------------------------------------------------------ connections

    def _kwargs(self) -> dict[str, Any]:
        timeout_ms = int(self.timeout * 1000)
        # A writer frozen or cut off mid-commit must not hold its visitors' row locks for hours (every other
        # writer of those visitors would wait). The server ends a transaction idle for `timeout`
        # (idle_in_transaction_session_timeout, armed after each Sync: see commit). Between two messages,
        # where none of its timers runs, its TCP settings find a client that vanished: tcp_user_timeout
        # when its data goes unacknowledged, keepalives (every timeout/3 s, twice) when it has none to send.
        probe = max(1, math.ceil(self.timeout / 3))
        options = (
            f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}"
            f" -c idle_in_transaction_session_timeout={timeout_ms}"
            f" -c tcp_keepalives_idle={probe} -c tcp_keepalives_interval={probe} -c tcp_keepalives_count=2"
            f" -c tcp_user_timeout={timeout_ms}"
        )
        given = dict(parse_qsl(urlsplit(self._conninfo).query))
        kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in given:
            kwargs["connect_timeout"] = max(1, min(10, int(self.timeout)))
        if "options" not in given:
            kwargs["options"] = options
        if "application_name" not in given:
            kwargs["application_name"] = "ppdsl"
        # a server cut off by the network never answers: the kernel gives up on unacknowledged data
        # after tcp_user_timeout, and keepalives find a connection that went quiet, so a partition
        # is a StoreError (503 from the service) after `timeout`, not a request that hangs for minutes
        defaults = {"tcp_user_timeout": timeout_ms, "keepalives_idle": 10, "keepalives_interval": 2}
        kwargs.update({key: value for key, value in defaults.items() if key not in given})
        return kwargs

    def _connections(self) -> Any:
        """This process's pool, opened at first use: a forked child opens its own."""
        if self._pool is None or self._pid != os.getpid():
            self._pid = os.getpid()
            self._checking = threading.Lock()
            self._pool = ConnectionPool(
                self._conninfo,
                kwargs=self._kwargs(),
                min_size=1,
                max_size=self.pool_size,
                timeout=self.timeout,
                name="ppdsl",
                open=True,
            )
        return self._pool.connection()

    def _failed(self, exc: BaseException, doing: str) -> StoreError:
        """The StoreError for a driver error; after a lost connection, the pool drops its dead ones."""
        if isinstance(exc, (psycopg.OperationalError, PoolTimeout)):
            self._check_pool()
        if isinstance(exc, PoolTimeout):
            reason = f"no connection within {self.timeout:g} s (is the server up?)"
        else:
            reason = self._reason(exc)
        if isinstance(exc, (psycopg.OperationalError, PoolTimeout)):
            doing += "; try again when the server is back"
        return StoreError(f"PostgreSQL store {self.url}: {reason}; {doing}")

    def _check_pool(self) -> None:
        """Let the pool test its idle connections and replace the dead ones, in a thread of its own: while
        the network is cut each test waits up to `timeout`, which is no time to keep a request waiting."""
        pool, checking = self._pool, self._checking
        if pool is None or not checking.acquire(blocking=False):  # one check at a time
            return

        def check() -> None:
            try:
                pool.check()
            except Exception:  # noqa: BLE001 - checking is best effort; the next use reconnects
                pass
            finally:
                checking.release()

        threading.Thread(target=check, name="ppdsl-pool-check", daemon=True).start()

    def _reason(self, exc: BaseException) -> str:
        text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        text = text.removeprefix("connection failed: ")
        password = urlsplit(self._url).password
        return text.replace(password, "***") if password else text

    # ------------------------------------------------------------ schema

    def _prepare(self, conn: Any) -> None:
        version = _schema(conn, self.url)
        if version == SCHEMA:
            return
        if version is not None and version > SCHEMA:
            raise StoreError(
                f"PostgreSQL store {self.url} was written by a newer ppdsl (store schema {version}, this ppdsl "
                f"reads {SCHEMA}): upgrade ppdsl (pip install -U ppdsl)"
            )
        if self.readonly and version is not None:
            return  # an older schema reads as it is (every step only adds); a writer upgrades it
        if self.readonly:
            raise StoreError(
                f"no ppdsl store in PostgreSQL database {self.url}: replay events into it first "
                f"(ppdsl replay FLOW EVENTS --store URL)"
            )
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            version = _schema(conn, self.url)  # another process may have been first
            for step in _MIGRATIONS[version or 0 :]:
                for statement in step:
                    conn.execute(statement)
            conn.execute("UPDATE meta SET value = %s WHERE key = 'schema'", (str(SCHEMA),))

    # ------------------------------------------------------------ reads

    def load(self, visitor_ids: Collection[str]) -> dict[str, tuple[dict[str, Any], int]]:
        rows = self._read("SELECT id, state, raw, version FROM visitors WHERE id = ANY(%b)", [list(visitor_ids)])
        return {i: (json.loads(raw) if raw is not None else state, version) for i, state, raw, version in rows}

    def seen(self, message_ids: Collection[str]) -> set[str]:
        return {row[0] for row in self._read("SELECT id FROM seen WHERE id = ANY(%b)", [list(message_ids)])}

    def cursor(self, key: str) -> Any:
        rows = self._read("SELECT value FROM cursors WHERE key = %s", [key])
        return json.loads(rows[0][0]) if rows else None

    def count(self) -> int:
        return int(self._read("SELECT count(*) FROM visitors", [])[0][0])

    def visitors(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for visitor_id, state, raw in self._rows("SELECT id, state, raw FROM visitors ORDER BY id", None):
            yield visitor_id, json.loads(raw) if raw is not None else state

    def execute(self, query: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        """The rows of a read-only query over the store's tables, streamed: the
        filters of `ppdsl visitors` (ppdsl/build/filters.py). The n-th of
        `params` is bound to the placeholder %(pN)s, which may occur more than once."""
        return self._rows(query, _bind(params))

    def explain(self, query: str, params: Sequence[Any] = ()) -> list[str]:
        """PostgreSQL's plan of a query given as to execute(): `ppdsl visitors --explain-plan`."""
        return [row[0] for row in self._read("EXPLAIN " + query, _bind(params))]

    def _read(self, query: str, params: Any) -> list[Any]:
        try:
            with self._connections() as conn:
                return list(conn.execute(query, params).fetchall())
        except (psycopg.Error, PoolTimeout) as exc:
            raise self._failed(exc, "nothing was changed") from None

    def _rows(self, query: str, params: Optional[dict[str, Any]]) -> Iterator[Any]:
        try:
            with self._connections() as conn, conn.transaction():
                with conn.cursor(name="ppdsl_rows") as rows:  # a server-side cursor: rows arrive in chunks
                    rows.itersize = 2000
                    yield from rows.execute(query, params)
        except (psycopg.Error, PoolTimeout) as exc:
            raise self._failed(exc, "nothing was changed") from None

    # ------------------------------------------------------------ the commit

    def commit(self, change: Change) -> None:
        new: tuple[list[Any], ...] = ([], [], [])
        updated: tuple[list[Any], ...] = ([], [], [], [])
        for visitor_id in sorted(change.states):  # one order for every writer: fewer deadlocks between them
            state, version = change.states[visitor_id]
            jsonb, raw = encode(state)
            columns = new if version == 0 else updated
            columns[0].append(visitor_id)
            columns[1].append(jsonb)
            columns[2].append(raw)
            if version:
                updated[3].append(version)
        seen = sorted(change.seen)
        parts: list[str] = []
        params: list[Any] = []
        if new[0]:
            parts.append(_INSERT)
            params += new
        if updated[0]:
            parts.append(_UPDATE)
            params += updated
        if seen:
            parts.append(_SEEN)
            params += [[i for i, _ in seen], [float(t) for _, t in seen]]
        # one statement writes the batch (its parts run to completion, whatever the SELECT reads),
        # and gives how many visitors kept the version that was read
        query = f"WITH {', '.join(parts)} SELECT {'(SELECT count(*) FROM updated)' if updated[0] else 0}"
        try:
            with self._connections() as conn, conn.pipeline() as pipeline, conn.transaction():
                # BEGIN, the batch's statement and the cursors' checks travel together, with a Sync: only
                # after a Sync does the server time a silent client out (idle_in_transaction_session_timeout),
                # so a writer frozen or cut off while ppdsl waits can't hold its visitors' row locks for hours
                cur = conn.cursor()
                if parts:
                    cur.execute(query, params)
                checks = [(key, value, conn.cursor()) for key, value in change.expect.items()]
                for key, _, check in checks:
                    check.execute("SELECT value FROM cursors WHERE key = %s FOR UPDATE", (key,))
                pipeline.sync()
                if parts and cur.fetchone()[0] != len(updated[0]):
                    raise Conflict("visitor")
                for _, value, check in checks:
                    row = check.fetchone()
                    if (json.loads(row[0]) if row else None) != value:
                        raise CursorMoved(f"store {self.url}: {MOVED}")
                for statement, values in self._writes(change):  # nothing to wait for: COMMIT and its Sync follow
                    cur.execute(statement, values)
        except (errors.UniqueViolation, errors.SerializationFailure, errors.DeadlockDetected):
            raise Conflict("visitor or message id") from None
        except (psycopg.Error, PoolTimeout) as exc:
            raise self._failed(exc, "nothing of this batch was written") from None

    def _writes(self, change: Change) -> list[tuple[str, tuple[Any, ...]]]:
        """The replay cursors to write, and about once a day of event time per process, forgetting
        the message ids older than the window."""
        writes: list[tuple[str, tuple[Any, ...]]] = []
        for key, value in change.cursors.items():
            text = json.dumps(value)
            if key in change.expect and change.expect[key] is None:  # a second writer fails on the key
                writes.append(("INSERT INTO cursors (key, value) VALUES (%s, %s)", (key, text)))
            else:
                upsert = "INSERT INTO cursors (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = %s"
                writes.append((upsert, (key, text, text)))
        newest = change.newest
        if newest is not None and newest - self._pruned_at > self.window / 7:
            self._pruned_at = newest
            writes.append(("DELETE FROM seen WHERE time < %s", (newest - self.window,)))
        return writes

    def close(self) -> None:
        if self._pool is not None and self._pid == os.getpid():
            self._pool.close()
        self._pool = None


def _bind(params: Sequence[Any]) -> Optional[dict[str, Any]]:
    """Parameters by the names of the SQL dialect's placeholders: the n-th is pN."""
    return {f"p{n}": value for n, value in enumerate(params, 1)} or None


def encode(state: Any) -> tuple[Optional[str], Optional[str]]:
    """(JSONB text, None) for a state JSONB holds exactly, else (None, JSON text)."""
    text = dumps(state)
    if any(mark in text for mark in _MARKS) and not _exact(state):
        return None, text
    return text, None


def _exact(value: Any) -> bool:
    """Whether JSONB gives this value back as it is."""
    t = type(value)
    if t is str:
        return "\x00" not in value and not _SURROGATE.search(value)
    if t is float:  # JSONB keeps numbers as decimals: 1e+16 would come back an int, -0.0 as 0.0
        return math.isfinite(value) and "e+" not in repr(value) and not (value == 0 and math.copysign(1, value) < 0)
    if t is dict:
        return all(_exact(k) and _exact(v) for k, v in value.items())
    if t is list:
        return all(_exact(v) for v in value)
    return True


def _split(url: str, shown: str) -> tuple[str, dict[str, Any]]:
    """The libpq connection URL, without ppdsl's own options; and those options."""
    parts = urlsplit(url)
    options: dict[str, Any] = dict(_OPTIONS)
    kept = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in _OPTIONS:
            try:
                options[key] = float(value) if key == "timeout" else int(value)
                if options[key] <= 0:
                    raise ValueError
            except ValueError:
                raise StoreError(f"PostgreSQL store {shown}: {key} must be a positive number, got {value!r}") from None
        else:
            kept.append((key, value))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), parts.fragment)), options


def _schema(conn: Any, shown: str) -> Optional[int]:
    """The database's ppdsl schema, or None when it has none of ppdsl's
    tables; StoreError when tables of those names belong to another program."""
    found = {
        row[0]
        for row in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
            (list(TABLES),),
        )
    }
    if not found:
        return None
    foreign = StoreError(
        f"PostgreSQL database {shown} has tables named {', '.join(sorted(found))} that are not a ppdsl store: "
        "give another database"
    )
    if "meta" not in found:
        raise foreign
    try:
        with conn.transaction():
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except psycopg.Error:
        raise foreign from None
    if row is None or not str(row[0]).isdigit():
        raise foreign
    return int(row[0])
