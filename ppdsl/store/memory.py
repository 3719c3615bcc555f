"""`memory:`: the store of a dry run. It keeps the promises of base.py for the
threads of one process, and is gone at exit."""

from __future__ import annotations

import threading
from typing import Any, Optional
from collections.abc import Collection, Iterator

from .base import DEDUP_WINDOW, MOVED, Change, Conflict, CursorMoved


class MemoryStore:
    sql_dialect: Optional[str] = None

    def __init__(self, url: str = "memory:", window: float = DEDUP_WINDOW):
        self.url = url
        self.window = window
        self._states: dict[str, tuple[dict[str, Any], int]] = {}
        self._seen: dict[str, float] = {}
        self._cursors: dict[str, Any] = {}
        self._newest = float("-inf")
        self._pruned_at = float("-inf")
        self._lock = threading.Lock()

    def load(self, visitor_ids: Collection[str]) -> dict[str, tuple[dict[str, Any], int]]:
        states = self._states
        return {i: states[i] for i in visitor_ids if i in states}

    def seen(self, message_ids: Collection[str]) -> set[str]:
        seen = self._seen
        return {m for m in message_ids if m in seen}

    def commit(self, change: Change) -> None:
        with self._lock:
            states, seen = self._states, self._seen
            for visitor_id, (_, version) in change.states.items():
                if states.get(visitor_id, (None, 0))[1] != version:
                    raise Conflict(visitor_id)
            if any(m in seen for m, _ in change.seen):
                raise Conflict("message id")
            for key, value in change.expect.items():
                if self._cursors.get(key) != value:
                    raise CursorMoved(MOVED)
            for visitor_id, (state, version) in change.states.items():
                states[visitor_id] = (state, version + 1)
            seen.update(change.seen)
            self._cursors.update(change.cursors)
            if change.newest is not None and change.newest > self._newest:
                self._newest = change.newest
                if self._newest - self._pruned_at > self.window / 7:  # about once a day of event time
                    self._pruned_at = self._newest
                    horizon = self._newest - self.window
                    self._seen = {m: t for m, t in seen.items() if t >= horizon}

    def cursor(self, key: str) -> Any:
        return self._cursors.get(key)

    def visitors(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for visitor_id in sorted(self._states):
            yield visitor_id, self._states[visitor_id][0]

    def count(self) -> int:
        return len(self._states)

    def close(self) -> None:
        pass
