"""Group commit: requests that arrive while a commit is under way wait
together, and the next commit takes all of them as one Processor batch, so
concurrent requests share SQLite's commits. One committer thread runs the
engine and owns the store (SQLite connections stay in their thread); each
request hears its own outcomes only after the commit that holds them."""

from __future__ import annotations

import asyncio
import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional
from collections.abc import Callable

from ..engine.envelope import Envelope
from ..engine.processor import APPLIED, Outcome, Processor
from ..store import open_store
from .metrics import ACTIONS, BATCH, EVENTS

MAX_COMMIT = 5000
"""Events in one shared commit: a flood waits for the next one."""

Deliver = Callable[[Envelope, dict[str, Any], int], bool]


class _Keyed:
    """The flow's ruleset, with effects that know the envelope of each action
    and its index (a webhook's stable id). The engine calls handle() with
    envelope.payload, so the payload's identity names its envelope."""

    def __init__(self, rules: Any, deliver: Deliver):
        self.rules = rules
        self.deliver = deliver
        self.current: dict[int, Envelope] = {}

    @property
    def EVENTS(self) -> Any:
        return self.rules.EVENTS

    def handle(self, payload: Any, visitor: Any = None, effects: Any = None, *, at: object = None) -> dict[str, Any]:
        envelope = self.current[id(payload)]
        index = itertools.count()
        return self.rules.handle(payload, visitor, lambda action: self.deliver(envelope, action, next(index)), at=at)


class Committer:
    def __init__(self, rules: Any, store_url: str, deliver: Optional[Deliver] = None):
        self._keyed = _Keyed(rules, deliver) if deliver is not None else None
        self._rules = rules
        self._store_url = store_url
        self.processor: Optional[Processor] = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="ppdsl-commit")
        self._queue: Optional[asyncio.Queue[tuple[list[Envelope], asyncio.Future[list[Outcome]]]]] = None
        self._task: Optional[asyncio.Task[None]] = None

    def use(self, rules: Any) -> None:
        """Run the next batches with another ruleset (a reloaded flow)."""
        self._rules = rules
        if self._keyed is not None:
            self._keyed.rules = rules
        elif self.processor is not None:
            self.processor.rules = rules

    async def start(self) -> None:
        """Open the store (in the committer's thread, which alone uses it) and
        start taking batches. Raises StoreError."""
        store = await self.call(open_store, self._store_url)
        self.processor = Processor(self._keyed or self._rules, store)
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self.processor is not None:
            await self.call(self.processor.store.close)
        self._thread.shutdown(wait=True)

    async def submit(self, envelopes: list[Envelope]) -> list[Outcome]:
        """The outcomes of these envelopes, once they are committed. Raises StoreError."""
        assert self._queue is not None, "start() the committer first"
        future: asyncio.Future[list[Outcome]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((envelopes, future))
        return await future

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run fn in the committer's thread (the store is used there only)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            waiting = [await queue.get()]
            size = len(waiting[0][0])
            while size < MAX_COMMIT and not queue.empty():
                waiting.append(queue.get_nowait())
                size += len(waiting[-1][0])
            batch = [e for envelopes, _ in waiting for e in envelopes]
            try:
                outcomes = await self.call(self._process, batch)
            except Exception as exc:  # StoreError, or a fault: every request of the batch hears of it
                for _, future in waiting:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for envelopes, future in waiting:
                if not future.done():  # a client that left has a cancelled future
                    future.set_result(outcomes[start : start + len(envelopes)])
                start += len(envelopes)

    def _process(self, batch: list[Envelope]) -> list[Outcome]:
        keyed = self._keyed
        assert self.processor is not None
        if keyed is not None:
            keyed.current = {id(e.payload): e for e in batch}
        try:
            outcomes = self.processor.process(batch)
        finally:
            if keyed is not None:
                keyed.current = {}
        BATCH.observe(len(batch))
        for outcome in outcomes:
            EVENTS.labels(outcome=outcome.status).inc()
            if outcome.status == APPLIED:
                for action in outcome.result["actions"]:
                    ACTIONS.labels(type=action.get("type", "unknown"), result="done").inc()
                for action in outcome.result["failed"]:
                    ACTIONS.labels(type=action.get("type", "unknown"), result="failed").inc()
        return outcomes
