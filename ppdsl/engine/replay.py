"""`ppdsl replay`: a history of envelopes through a ruleset into a store
(README, "Replay").

Lines are read in order, parsed, and processed in batches; each batch is one
commit holding the new states, the message ids and, for every source, how
many of its lines are done. A replay that is killed starts again after the
last commit: lines are never applied twice, with or without a message_id.
With --jobs N, N processes each take the visitors whose id hashes to their
part, reading every line but parsing only their own."""

from __future__ import annotations

import bisect
import json
import os
import re
import time
import zlib
from collections import Counter

from .envelope import EnvelopeError, parse_envelope, visitor_keys
from .processor import APPLIED, DUPLICATE, Processor
from .sources import BadLine, Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any, BinaryIO, Optional

    from ..store import Store
    from .envelope import Envelope
    from .ruleset import Ruleset

BATCH = 10_000
SHOWN_ERRORS = 10
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_DETAIL = re.compile(r" \((?:[^()]|\([^()]*\))*\)$")
_VISITOR = re.compile(rb'"visitor_id"\s*:\s*"([^"\\]*)"')


class StrictStop(Exception):
    """--strict met a bad line: FILE:LINE and the reason."""


class Summary:
    """What a replay did; `as_json()` is what --json prints."""

    def __init__(self) -> None:
        self.read = self.applied = self.duplicate = self.rejected = self.skipped = 0
        self.reasons: Counter[str] = Counter()
        self.errors: list[tuple[str, int, str]] = []
        self.actions: Counter[tuple[str, int, str]] = Counter()
        self.seconds = 0.0

    def reject(self, where: tuple[str, int], message: str) -> None:
        self.rejected += 1
        self.reasons[_DETAIL.sub("", _QUOTED.sub("'…'", message))] += 1
        if len(self.errors) < SHOWN_ERRORS or where < self.errors[-1][:2]:
            # by place, as merge() orders the parts' errors: a batch's lines rejected by the
            # flow are found after those that didn't parse
            bisect.insort(self.errors, (where[0], where[1], message))
            del self.errors[SHOWN_ERRORS:]

    def merge(self, other: Summary) -> None:
        self.read += other.read
        self.applied += other.applied
        self.duplicate += other.duplicate
        self.rejected += other.rejected
        self.skipped += other.skipped
        self.reasons.update(other.reasons)
        self.errors = sorted(self.errors + other.errors)[:SHOWN_ERRORS]
        self.actions.update(other.actions)

    def as_json(self) -> dict[str, Any]:
        return {
            "events": {
                "read": self.read,
                "applied": self.applied,
                "duplicate": self.duplicate,
                "rejected": self.rejected,
                "already_replayed": self.skipped,
            },
            "rejected": dict(self.reasons.most_common()),
            "first_rejected": [{"file": f, "line": n, "reason": r} for f, n, r in self.errors],
            "actions": [
                {"flow": flow, "line": line, "type": kind, "count": count}
                for (flow, line, kind), count in sorted(self.actions.items())
            ],
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.read / self.seconds) if self.seconds > 0 else None,
        }


def partition(line: bytes, jobs: int) -> int:
    """Which of `jobs` parts a line belongs to, by its visitor. The fast way
    reads visitor_id without parsing; a line where that could mislead is parsed."""
    if line.count(b'"visitor_id"') == 1 and b'"userId"' not in line and b'"anonymousId"' not in line:
        found = _VISITOR.search(line)
        if found:
            return zlib.crc32(found.group(1)) % jobs
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return 0
    if isinstance(obj, dict):
        visitor = obj.get("visitor_id")
        if obj.get("type") == "track":
            visitor = obj.get("userId") if obj.get("userId") is not None else obj.get("anonymousId")
        if isinstance(visitor, str):
            return zlib.crc32(visitor.encode("utf-8", "surrogatepass")) % jobs
    return 0


def _loads() -> Callable[[bytes], Any]:
    """orjson when installed (an optional speed-up), with the standard
    library's reading of what orjson refuses (ints over 64 bits, say)."""

    decode = json.JSONDecoder(parse_constant=_no_constant).decode

    def strict(line: bytes) -> Any:
        return decode(line.decode("utf-8"))

    try:
        import orjson  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return strict

    fast, error = orjson.loads, orjson.JSONDecodeError

    def loads(line: bytes) -> Any:
        try:
            return fast(line)
        except error:
            return strict(line)

    return loads


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_line(line: bytes, loads: Callable[[bytes], Any], visitor_keys: Any) -> Envelope | str:
    """An envelope, or the reason the line is rejected."""
    try:
        obj = loads(line)
    except UnicodeDecodeError:
        return "the line is not UTF-8 text"
    except RecursionError:
        return "the line is nested too deeply"
    except ValueError as exc:
        return f"the line is not valid JSON ({exc})"
    try:
        return parse_envelope(obj, visitor_keys=visitor_keys)
    except EnvelopeError as exc:
        return str(exc)


class Part:
    """One process's share of a replay: the visitors of part `part` of `jobs`."""

    def __init__(
        self,
        rules: Ruleset,
        store: Store,
        paths: Sequence[str],
        *,
        order: str = "arrival",
        jobs: int = 1,
        part: int = 0,
        actions: Optional[str] = None,
        strict: bool = False,
        batch: int = BATCH,
        progress: Optional[Callable[[float], None]] = None,
    ):
        self.processor = Processor(rules, store)
        self.store = store
        self.sources = [Source(p) for p in paths]
        self.order, self.jobs, self.part = order, jobs, part
        self.actions_path = actions
        self.strict = strict
        self.batch_size = batch
        self.progress = progress
        self._bytes_before = 0  # of the sources already read
        self._bytes = sum(_size(p) for p in paths) or 1
        self.summary = Summary()
        self.loads = _loads()
        self.keys = visitor_keys(rules)
        self._out: Optional[BinaryIO] = None
        self.lines: dict[str, int] = {}  # source identity -> lines in it, once read to the end
        self._known: dict[str, Any] = {}  # cursor key -> the value this part last read or committed
        self._index = {source.name: n for n, source in reversed(list(enumerate(self.sources)))}

    # -- cursors: how far each source is done, per part ------------------------
    def _key(self, identity: str) -> str:
        return f"replay:{self.order}:{identity}:{self.jobs}:{self.part}"

    def _actions_key(self) -> str:
        return actions_key(self.order, set_identity(self.sources), self.jobs, self.part)

    def run(self) -> Summary:
        started = time.perf_counter()
        try:
            if self.order == "time":
                self._run_by_time()
            else:
                self._run_in_arrival_order()
        finally:
            if self._out is not None:
                self._out.close()
            self.summary.seconds = time.perf_counter() - started
        return self.summary

    def _run_in_arrival_order(self) -> None:
        pending: list[tuple[tuple[str, int], Envelope]] = []
        cursors: dict[str, Any] = {}
        for source in self.sources:
            lines = source.open()
            key = self._key(source.identity)
            done = max(
                (self._cursor(key) or {}).get("lines", 0),
                (self.store.cursor(done_key(self.order, source.identity)) or {}).get("lines", 0),
            )
            self._open_actions_once()
            number = 0
            for number, line in lines:
                if number <= done:
                    self.summary.skipped += self._mine(line)  # every part reads every line: its own count
                    continue
                cursors[key] = {"lines": number}
                item = self._item(source.name, number, line)
                if item is not None:
                    pending.append(item)
                    if len(pending) >= self.batch_size:
                        self._commit(pending, cursors, source)
                        pending, cursors = [], {}
            if number > done:
                cursors[key] = {"lines": number}
            self.lines[source.identity] = max(number, done)
            self._bytes_before += source.size
        self._commit(pending, cursors, None)

    def _run_by_time(self) -> None:
        items: list[tuple[float, int, tuple[str, int], Envelope]] = []
        for source in self.sources:
            for number, line in source.open():
                item = self._item(source.name, number, line)
                if item is not None:
                    stamp = item[1].timestamp
                    items.append((float("inf") if stamp is None else stamp, len(items), *item))
        self._open_actions_once()
        items.sort(key=lambda item: (item[0], item[1]))
        identity = set_identity(self.sources)
        key = self._key(identity)
        done = (self._cursor(key) or {}).get("items", 0)
        if self.store.cursor(done_key(self.order, identity)) is not None:
            done = len(items)  # an earlier replay of these files finished
        self.lines[identity] = 1
        self.summary.skipped += min(done, len(items))  # this part's own items
        self.summary.read -= min(done, len(items))  # read again only to sort them
        for start in range(done, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            self._commit([(where, env) for _, _, where, env in chunk], {key: {"items": start + len(chunk)}}, None)
        if not items or done >= len(items):
            self._commit([], {key: {"items": len(items)}}, None)

    def _item(self, name: str, number: int, line: bytes | BadLine) -> Optional[tuple[tuple[str, int], Envelope]]:
        """A line of this part as (where, envelope); a bad one is counted."""
        if not self._mine(line):
            return None
        if isinstance(line, BadLine):
            self._reject((name, number), line.reason)
            return None
        self.summary.read += 1
        parsed = parse_line(line, self.loads, self.keys)
        if isinstance(parsed, str):
            self._reject((name, number), parsed)
            return None
        return (name, number), parsed

    def _mine(self, line: bytes | BadLine) -> bool:
        """Whether a line is this part's, by its visitor; a line that can't be read belongs
        to no visitor: part 0 counts it."""
        if isinstance(line, BadLine):
            return self.part == 0
        return self.jobs == 1 or partition(line, self.jobs) == self.part

    def _reject(self, where: tuple[str, int], reason: str) -> None:
        self.summary.reject(where, reason)
        if self.strict:
            raise StrictStop(f"{where[0]}:{where[1]}: {reason}")

    def _commit(self, pending: list[tuple[tuple[str, int], Envelope]], cursors: dict[str, Any], source: Any) -> None:
        """Process a batch and commit it with the cursors; its actions go out first."""
        if not pending and not cursors:
            return
        out = self._out
        start = out.tell() if out is not None else 0

        def write_actions(outcomes: list[Any]) -> dict[str, Any]:
            if out is None:
                return cursors
            lines: list[bytes] = []
            for (where, _), outcome in zip(pending, outcomes, strict=True):
                if outcome.status == APPLIED:
                    key = self._sort_key(where, outcome) if self.jobs > 1 else None
                    lines.extend(_action_line(a, outcome, key) for a in outcome.result["actions"])
            out.seek(start)
            out.truncate()
            out.write(b"".join(lines))
            out.flush()
            return {**cursors, self._actions_key(): {"offset": out.tell()}}

        keys = [*cursors, self._actions_key()] if out is not None else list(cursors)
        expect = {k: self._known.get(k) for k in keys}  # as this part left them: no other replay moved them
        outcomes = self.processor.process([env for _, env in pending], write_actions, expect)
        self._known.update(cursors)
        if out is not None:
            self._known[self._actions_key()] = {"offset": out.tell()}
        summary = self.summary
        for (where, _), outcome in zip(pending, outcomes, strict=True):
            if outcome.status == APPLIED:
                summary.applied += 1
                for action in outcome.result["actions"]:
                    summary.actions[(action["flow"], action["line"], action["type"])] += 1
            elif outcome.status == DUPLICATE:
                summary.duplicate += 1
            else:
                self._reject(where, outcome.message)
        if self.progress is not None and source is not None:
            self.progress(min((self._bytes_before + source.position()) / self._bytes, 1.0))

    def _sort_key(self, where: tuple[str, int], outcome: Any) -> str:
        """Where one process would have written this event's actions: by file and
        line, or by time first with --order time."""
        stamp = outcome.envelope.timestamp if self.order == "time" else 0
        return f"{float('inf') if stamp is None else stamp!r}\t{self._index[where[0]]}\t{where[1]}\t"

    def _cursor(self, key: str) -> Any:
        """A cursor's committed value, remembered: this part's next commit expects it unchanged."""
        self._known[key] = value = self.store.cursor(key)
        return value

    def _open_actions_once(self) -> None:
        if self.actions_path is None or self._out is not None:
            return
        path = self.actions_path if self.jobs == 1 else f"{self.actions_path}.part{self.part}"
        offset = (self._cursor(self._actions_key()) or {}).get("offset", 0)
        out = open(path, "ab")  # noqa: SIM115
        if out.tell() < offset:
            offset = out.tell()
        out.truncate(offset)  # actions of batches that were never committed
        out.seek(offset)
        self._out = out


def _action_line(action: dict[str, Any], outcome: Any, sort_key: Optional[str]) -> bytes:
    """One line of --actions; in a part file of --jobs, after the key that orders the parts' lines."""
    row = {**action, "visitor_id": outcome.envelope.visitor_id, "message_id": outcome.envelope.message_id}
    row["time"] = outcome.result["event"]["time"]
    text = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
    return (sort_key or "").encode() + text.encode("utf-8", "surrogatepass") + b"\n"


def set_identity(sources: Sequence[Source]) -> str:
    """One name for the content of several sources, in their order."""
    return f"{zlib.crc32(','.join(s.identity for s in sources).encode()):08x}{len(sources)}"


def actions_key(order: str, identity: str, jobs: int, part: int) -> str:
    """The cursor of how much of a part's actions file is committed (of --actions itself with one job)."""
    return f"actions:{order}:{identity}:{jobs}:{part}"


def done_key(order: str, identity: str) -> str:
    """The cursor that says a source (or, by time, a set of sources) was replayed to its end."""
    return f"replay:{order}:{identity}:done"


class ReplayError(Exception):
    """The replay can't start or go on; the message says why and what to do."""


def replay(
    rules: Ruleset,
    open_store: Callable[[], Store],
    paths: Sequence[str],
    *,
    order: str = "arrival",
    jobs: int = 1,
    actions: Optional[str] = None,
    strict: bool = False,
    batch: int = BATCH,
    progress: Optional[Callable[[float], None]] = None,
) -> Summary:
    """Replay `paths` into the store that `open_store()` opens (once per
    process). `progress(fraction)` is called as the work goes. Raises
    ReplayError, StrictStop, StoreError or OSError."""
    started = time.perf_counter()
    identities = _identities(paths)
    store = open_store()
    try:
        run_key = f"replay-run:{order}:{set_identity(identities)}"
        earlier = store.cursor(run_key) if "-" not in paths else None
        if earlier and not earlier.get("finished") and earlier.get("jobs") != jobs:
            raise ReplayError(
                f"the store holds an unfinished replay of these files with --jobs {earlier.get('jobs')}: "
                f"finish it with --jobs {earlier.get('jobs')}, then replay with any --jobs"
            )
        _commit_cursors(store, {run_key: {"jobs": jobs, "finished": False}})
        if jobs == 1:
            part = Part(
                rules,
                store,
                paths,
                order=order,
                actions=actions,
                strict=strict,
                batch=batch,
                progress=progress,
            )
            summary = part.run()
            lines = part.lines
        else:
            summary, lines = _run_parts(rules, open_store, paths, order, jobs, actions, strict, batch, progress)
        done = {done_key(order, identity): {"lines": n} for identity, n in lines.items()}
        if jobs > 1 and actions is not None:  # the parts' actions after those merged before, then empty parts
            identity = set_identity(identities)
            merged = actions_key(order, identity, 1, 0)  # the one cursor of --actions itself, as with one job
            size = _merge_parts(actions, jobs, (store.cursor(merged) or {}).get("offset", 0))
            done[merged] = {"offset": size}
            done.update({actions_key(order, identity, jobs, n): {"offset": 0} for n in range(jobs)})
        _commit_cursors(store, {**done, run_key: {"jobs": jobs, "finished": True}})
        if jobs > 1 and actions is not None:
            for n in range(jobs):  # only now: a replay killed before the commit merges them again
                if os.path.exists(f"{actions}.part{n}"):
                    os.unlink(f"{actions}.part{n}")
    finally:
        store.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _identities(paths: Sequence[str]) -> list[Source]:
    """The sources, opened for their identity and closed again (not stdin, which can't be read twice)."""
    sources = []
    for path in paths:
        source = Source(path)
        if path != "-":
            source.open()
            source.close()
        sources.append(source)
    return sources


def _size(path: str) -> int:
    try:
        return os.path.getsize(path) if path != "-" else 0
    except OSError:
        return 0


def _commit_cursors(store: Store, cursors: dict[str, Any]) -> None:
    from ..store import Change

    store.commit(Change(cursors=cursors))


def _run_parts(
    rules: Ruleset,
    open_store: Callable[[], Store],
    paths: Sequence[str],
    order: str,
    jobs: int,
    actions: Optional[str],
    strict: bool,
    batch: int,
    progress: Optional[Callable[[float], None]],
) -> tuple[Summary, dict[str, int]]:
    """Run the parts in `jobs` forked processes; the first failure stops the others."""
    import multiprocessing

    if "-" in paths:
        raise ReplayError("--jobs reads the files in every process: save standard input to a file first")
    if "fork" not in multiprocessing.get_all_start_methods():
        raise ReplayError("--jobs needs fork(), which this system lacks; leave --jobs out")
    context = multiprocessing.get_context("fork")
    fractions = context.Array("d", jobs, lock=False)
    children = []
    for part in range(jobs):
        receiver, sender = context.Pipe(duplex=False)
        settings = dict(order=order, jobs=jobs, part=part, actions=actions, strict=strict, batch=batch)
        child = context.Process(target=_part, args=(sender, rules, open_store, paths, settings, fractions, os.getpid()))
        child.start()
        sender.close()
        children.append((child, receiver))
    results: dict[int, Any] = {}
    try:
        while len(results) < jobs:
            for part, (child, receiver) in enumerate(children):
                if part not in results and receiver.poll(0.1 / jobs):
                    try:
                        results[part] = receiver.recv()
                    except EOFError:  # killed before it could say anything
                        results[part] = (
                            "error",
                            "ReplayError",
                            f"part {part} of --jobs {jobs} died ({child.exitcode})",
                        )
                    if results[part][0] == "error":
                        raise _error(*results[part][1:])
            if progress is not None:
                progress(min(fractions))
    finally:
        for child, receiver in children:
            if child.is_alive() and len(results) < jobs:
                child.terminate()
            child.join()
            receiver.close()
    summary = Summary()
    for part in range(jobs):
        summary.merge(results[part][1])
    return summary, results[0][2]


def _part(
    sender: Any,
    rules: Ruleset,
    open_store: Callable[[], Store],
    paths: Sequence[str],
    settings: Any,
    fractions: Any,
    parent: int,
) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the parts
    _die_with(parent)
    part = settings["part"]
    try:
        store = open_store()
        try:
            work = Part(rules, store, paths, progress=lambda f: fractions.__setitem__(part, f), **settings)
            summary = work.run()
        finally:
            store.close()
        sender.send(("ok", summary, work.lines))
    except (StrictStop, ReplayError, OSError) as exc:
        sender.send(("error", type(exc).__name__, str(exc)))
    except Exception as exc:  # a StoreError, or worse: the parent reports it
        sender.send(("error", type(exc).__name__, str(exc)))
    finally:
        sender.close()


def _die_with(parent: int) -> None:
    """A part must not outlive a replay killed with kill -9: the replay run again would
    work beside it from the same cursors and apply lines without a message_id twice.
    Linux ends the part with its parent (PR_SET_PDEATHSIG); other systems can't."""
    import signal

    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before this part could ask
        os._exit(1)


def _error(kind: str, message: str) -> Exception:
    from ..store import StoreError

    known = {"StrictStop": StrictStop, "StoreError": StoreError, "OSError": OSError}
    return known.get(kind, ReplayError)(message)


def _merge_parts(path: str, jobs: int, keep: int) -> int:
    """The first `keep` bytes of the actions file, then the parts' action files
    merged in one process's order; returns the new size."""
    import heapq

    from .files import write_bytes_atomically

    def rows(part: str) -> Iterator[tuple[tuple[float, int, int], bytes]]:
        with open(part, "rb") as f:
            for line in f:
                stamp, index, number, row = line.split(b"\t", 3)
                yield (float(stamp), int(index), int(number)), row

    try:
        with open(path, "rb") as f:
            before = f.read(keep)
    except FileNotFoundError:
        before = b""
    parts = [f"{path}.part{n}" for n in range(jobs)]
    merged = heapq.merge(*(rows(p) for p in parts if os.path.exists(p)), key=lambda r: r[0])
    data = before + b"".join(row for _, row in merged)
    write_bytes_atomically(path, data)
    return len(data)
