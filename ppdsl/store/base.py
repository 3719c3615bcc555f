"""What every store promises, and the one shape of a change it commits.

A store keeps each visitor's state (the flat PPMessage object) with a version,
the message ids it has seen, and the cursors that let a replay resume. The
engine reads states, computes new ones, and hands the store one `Change` per
batch; the store commits all of it or none of it, and refuses it with
`Conflict` when another writer changed one of the visitors (or took one of the
message ids) since they were read. The engine then reads again and redoes the
batch: optimistic concurrency, so writers on many machines never lose an update.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol
from collections.abc import Collection, Iterator

DEDUP_WINDOW = 7 * 24 * 3600.0
"""How long a message id is remembered, in seconds of event time: an id is
forgotten once the store has seen events this much newer than it."""

SCHEMA_VERSION = 1
"""The layout of a store's tables; a store from a newer ppdsl is refused."""


class StoreError(Exception):
    """A store that can't be opened or used: the message names it and says
    what to do. Nothing in the store was changed."""


MOVED = (
    "another replay of the same files into this store is running: run one at a time (nothing of this batch was written)"
)


class CursorMoved(StoreError):
    """A replay position was not where this writer left it: another replay of
    the same files into the same store is running. Nothing was committed."""


class Conflict(Exception):
    """Another writer changed a visitor of this change, or took one of its
    message ids, after they were read: nothing was committed."""


@dataclass
class Change:
    """One batch's effect, committed atomically.

    states: visitor id -> (new state, the version it was read at; 0 for a
    visitor the store did not hold). seen: (message id, event time) pairs.
    cursors: replay positions, key -> JSON-able value, committed only if each
    key of `expect` still holds the value given there (None: no value), else
    CursorMoved. newest: the newest event time of the batch, which moves the
    deduplication window."""

    states: dict[str, tuple[dict[str, Any], int]] = field(default_factory=dict)
    seen: list[tuple[str, float]] = field(default_factory=list)
    cursors: dict[str, Any] = field(default_factory=dict)
    newest: Optional[float] = None
    expect: dict[str, Any] = field(default_factory=dict)


class Store(Protocol):
    """The protocol the engine runs on (ppdsl/engine/processor.py)."""

    url: str
    sql_dialect: Optional[str]
    """The SQL of `execute()` ("sqlite"), or None for a store that filters in Python."""

    def load(self, visitor_ids: Collection[str]) -> dict[str, tuple[dict[str, Any], int]]:
        """The stored visitors among these ids: id -> (state, version)."""
        ...

    def seen(self, message_ids: Collection[str]) -> set[str]:
        """Which of these message ids the store remembers."""
        ...

    def commit(self, change: Change) -> None:
        """Apply the whole change, or raise Conflict (or StoreError) and apply none of it."""
        ...

    def cursor(self, key: str) -> Any:
        """A replay position committed with an earlier change, or None."""
        ...

    def visitors(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every visitor (id, state), in id order. SQL stores also have
        `execute(query, params)` for read-only queries, so filters run inside
        the database (see `sql_dialect`)."""
        ...

    def count(self) -> int:
        """How many visitors the store holds."""
        ...

    def close(self) -> None: ...


def masked(url: str) -> str:
    """A store URL as ppdsl shows it: its password (in the authority or the
    query string) as ***. Other URLs and paths are given back as they are."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    if "://" not in url:
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if parts.password is None and not any(k == "password" for k, _ in query):
        return url
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    shown = urlencode([(k, "***" if k == "password" else v) for k, v in query], safe="*/:")
    return urlunsplit((parts.scheme, netloc, parts.path, shown, parts.fragment))


def dumps(state: dict[str, Any]) -> str:
    """A state as stored: compact JSON, non-ASCII kept (lone surrogates escaped)."""
    try:
        text = json.dumps(state, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return json.dumps(state, separators=(",", ":"), allow_nan=False)
