"""Envelopes through a ruleset into a store, a batch at a time, with the
promises of ppdsl/store/base.py: each batch's new states, message ids and
cursors are committed together; a message id the store has seen is a
duplicate and changes nothing; a rejected event changes nothing; a batch that
lost a race with another writer is read again and redone.

The processor keeps the states it has read or written (a cache) so a replay
reads each visitor once; the store's version check makes a stale cache safe."""

from __future__ import annotations

import gc
import math
import time

from ..store import Change, Conflict, StoreError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, Optional

    from ..store import Store
    from .envelope import Envelope
    from .ruleset import Effects, Ruleset

APPLIED, DUPLICATE, REJECTED = "applied", "duplicate", "rejected"
_ATTEMPTS = 100  # a batch redone this often means writers fight over the same visitors without end
_FRESH = 100  # after a conflict, this many batches read their visitors afresh instead of trusting the cache


class Outcome:
    """What became of one envelope: APPLIED with handle()'s result, DUPLICATE,
    or REJECTED with the message that says why."""

    __slots__ = ("status", "envelope", "result", "message")

    def __init__(self, status: str, envelope: Envelope, result: Any = None, message: str = ""):
        self.status = status
        self.envelope = envelope
        self.result = result
        self.message = message


class Processor:
    def __init__(self, rules: Ruleset, store: Store, effects: Optional[Effects] = None):
        self.rules = rules
        self.store = store
        self.effects = effects
        self.cache: dict[str, tuple[dict[str, Any], int]] = {}
        self._fresh = 0  # > 0: other writers share these visitors (a recent conflict); read before computing

    def process(
        self,
        batch: Sequence[Envelope],
        cursors: Optional[Callable[[list[Outcome]], dict[str, Any]]] = None,
        expect: Optional[dict[str, Any]] = None,
    ) -> list[Outcome]:
        """Run and commit one batch. `cursors(outcomes)`, called before each
        attempt to commit, gives the cursors to commit with it (a replay writes
        the batch's actions out there), and `expect` the values they must still
        have (Change.expect). Raises StoreError."""
        for _ in range(_ATTEMPTS):
            if self._fresh:
                for envelope in batch:
                    self.cache.pop(envelope.visitor_id, None)
            collecting = gc.isenabled()
            gc.disable()  # a batch makes tens of thousands of dicts that live until it ends: scanning them
            try:  # again and again cost a third of a replay's time; they hold no cycles
                outcomes, change = self._run(batch)
            finally:
                if collecting:
                    gc.enable()
            if cursors is not None:
                change.cursors = cursors(outcomes)
            change.expect = expect or {}
            try:
                self.store.commit(change)
            except Conflict:  # another writer was there: read the batch's visitors again, and the next batches'
                self._fresh = _FRESH
                continue
            self._fresh = max(0, self._fresh - 1)
            cache = self.cache
            for visitor_id, (state, version) in change.states.items():
                cache[visitor_id] = (state, version + 1)
            return outcomes
        raise StoreError(f"store {self.store.url}: other writers changed these visitors {_ATTEMPTS} times in a row")

    def _run(self, batch: Sequence[Envelope]) -> tuple[list[Outcome], Change]:
        cache = self.cache
        missing = {e.visitor_id for e in batch if e.visitor_id not in cache}
        if missing:
            found = self.store.load(missing)
            for visitor_id in missing:
                cache[visitor_id] = found.get(visitor_id) or ({}, 0)
        ids = [e.message_id for e in batch if e.message_id is not None]
        seen = self.store.seen(ids) if ids else set()
        handle, effects = self.rules.handle, self.effects
        states: dict[str, tuple[dict[str, Any], int]] = {}
        taken: list[tuple[str, float]] = []
        outcomes = []
        now = time.time()
        newest = -math.inf
        for envelope in batch:
            message_id = envelope.message_id
            t = envelope.timestamp
            if t is None:
                t = now
            if message_id is not None and message_id in seen:
                outcomes.append(Outcome(DUPLICATE, envelope))
                continue
            visitor_id = envelope.visitor_id
            state, version = states.get(visitor_id) or cache[visitor_id]
            if envelope.visitor:
                state = {**state, **envelope.visitor}
            try:
                result = handle(envelope.payload, state, effects, at=t)
            except ValueError as exc:
                outcomes.append(Outcome(REJECTED, envelope, message=str(exc)))
                continue
            states[visitor_id] = (result["visitor"], version)
            if message_id is not None:
                seen.add(message_id)
                taken.append((message_id, t))
            if t > newest:
                newest = t
            outcomes.append(Outcome(APPLIED, envelope, result))
        return outcomes, Change(states, taken, {}, newest if taken else None)
