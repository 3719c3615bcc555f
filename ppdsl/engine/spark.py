"""`ppdsl replay --engine spark`: a history through a ruleset on a Spark
cluster, with the answer of one local replay (docs/operations.md, "Replay on
Spark").

1. Read: one task per file (plain or gzip JSON lines), through the same
   Source and envelope parsing as local replay, so bad lines are counted with
   their FILE:LINE the same way.
2. Deduplicate, globally: a message id is a duplicate for every visitor, so
   this step comes before the fold. Only ids seen more than once matter; their
   events go to the driver, which decides them in replay order. When the
   history spans more than the deduplication window, the driver also plays the
   window's forgetting as local replay's store does it: batch by batch of the
   replay order, from each batch's newest event time.
3. Fold: partition by visitor, sort each visitor's events in replay order
   (file order, or event time with ties in file order) and fold them with the
   compiled `handle`. The module's source is shipped to the executors and
   loaded once per Python worker; the executors need only the standard library
   and ppdsl.
4. Write the final states and the actions to Parquet, and optionally commit
   the states and message ids into a store through the Store protocol.

pyspark is imported here only, and only when a replay runs."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import time
import types
import zlib

from ..store.base import DEDUP_WINDOW, dumps
from .envelope import visitor_keys
from .replay import BATCH, ReplayError, StrictStop, Summary, _loads, parse_line, set_identity, done_key
from .sources import BadLine, Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from typing import Any, Optional

    from ..store import Store

EXTRA = "--engine spark needs the spark extra: pip install 'ppdsl[spark]'"
DEFAULT_MASTER = "local[2]"
STATES_SCHEMA = "visitor_id STRING NOT NULL, state STRING NOT NULL"
ACTIONS_SCHEMA = (
    "visitor_id STRING NOT NULL, message_id STRING, time STRING NOT NULL, flow STRING NOT NULL, line INT NOT NULL, "
    "type STRING NOT NULL, action STRING NOT NULL, source STRING NOT NULL, source_index INT NOT NULL, "
    "source_line LONG NOT NULL, event_time DOUBLE, position INT NOT NULL"
)
_MASTER = re.compile(r"local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|spark://.+|yarn|k8s://.+")
_STORE_BATCH = 10_000

# an event between the steps: (visitor, message id, event time or None, payload, visitor patch, file index, line)
Event = tuple[str, "Optional[str]", "Optional[float]", dict, "Optional[dict]", int, int]


class Result:
    """What a Spark replay did: the summary local replay would print, and where the output went."""

    def __init__(self, summary: Summary, states: int, actions: int):
        self.summary = summary
        self.states = states
        self.actions = actions


# -- on the driver ---------------------------------------------------------------------------------


def replay_on_spark(
    source: str,
    filename: str,
    paths: Sequence[str],
    output: str,
    *,
    master: Optional[str] = None,
    order: str = "arrival",
    strict: bool = False,
    store: Optional[Callable[[], Store]] = None,
    say: Callable[[str], None] = lambda _: None,
    log: Optional[str] = None,
) -> Result:
    """Start Spark (`master`, else spark.master from the Spark configuration,
    else local[2]), replay, and stop it. `source` is the compiled module's
    text. `log` is the file the JVM's own output goes to. Raises ReplayError
    (no Java, a bad master URL, no pyspark), StrictStop, StoreError or OSError."""
    started = time.perf_counter()
    _check_sources(paths)
    context = start(master, log=log, say=say)
    try:
        return run(context, source, filename, paths, output, order=order, strict=strict, store=store, say=say)
    except (ReplayError, StrictStop, OSError):
        raise
    except Exception as exc:
        from ..store import StoreError

        if isinstance(exc, StoreError):
            raise
        raise ReplayError(f"the Spark job failed: {_first_line(exc)}{_log_named(log)}") from None
    finally:
        context.stop()
        say(f"done in {time.perf_counter() - started:.1f} s")


def start(master: Optional[str], *, log: Optional[str] = None, say: Callable[[str], None] = lambda _: None) -> Any:
    """A SparkContext for ppdsl: quiet, executors on this Python unless told otherwise."""
    try:
        import pyspark
    except ImportError:
        raise ReplayError(EXTRA) from None
    if master is not None:
        check_master(master)
    if not _java():
        raise ReplayError(
            "--engine spark needs Java 17 or newer: install it (apt-get install openjdk-17-jre-headless) "
            "or set JAVA_HOME"
        )
    with _output_to(log):  # the JVM keeps this stderr: its log goes to the file, not the terminal
        try:
            pyspark.SparkContext._ensure_initialized()  # the JVM, which reads spark-defaults.conf
            conf = pyspark.SparkConf()
        except Exception as exc:
            raise ReplayError(f"Spark did not start: {_first_line(exc)}{_log_named(log)}") from None
    configured = conf.get("spark.master", None)  # spark-defaults.conf or PYSPARK_SUBMIT_ARGS
    chosen = master or (configured if configured != "local[*]" else None) or DEFAULT_MASTER  # not spark-submit's own
    if master is None:
        check_master(chosen)
    conf.setMaster(chosen).setAppName("ppdsl replay")
    conf.set("spark.ui.showConsoleProgress", "false").set("spark.ui.enabled", "false")
    if not os.environ.get("PYSPARK_PYTHON"):  # what pyspark gives the executors: this Python, which has ppdsl
        os.environ["PYSPARK_PYTHON"] = conf.get("spark.pyspark.python", None) or _python()
    say(f"starting Spark on {chosen}")
    try:
        context = pyspark.SparkContext(conf=conf)
    except Exception as exc:
        raise ReplayError(f"Spark could not start on {chosen}: {_first_line(exc)}{_log_named(log)}") from None
    context.setLogLevel("ERROR")
    return context


def check_master(master: str) -> None:
    """A master URL Spark knows; a spark:// master must answer, or the driver would wait for it."""
    import socket

    if not _MASTER.fullmatch(master):
        raise ReplayError(
            f"--master {master!r} is not a Spark master URL: give local[N], spark://HOST:PORT, yarn or k8s://URL"
        )
    if not master.startswith("spark://"):
        return
    for address in master[len("spark://") :].split(","):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ReplayError(f"--master {master!r}: give spark://HOST:PORT (the master's port is 7077 by default)")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
        except OSError as exc:
            raise ReplayError(
                f"--master {master}: no Spark master answers at {address} ({exc.strerror or exc}); "
                "start it or check the URL"
            ) from None


def run(
    context: Any,
    source: str,
    filename: str,
    paths: Sequence[str],
    output: str,
    *,
    order: str = "arrival",
    strict: bool = False,
    store: Optional[Callable[[], Store]] = None,
    batch: int = BATCH,
    say: Callable[[str], None] = lambda _: None,
) -> Result:
    """Replay on a running SparkContext; `batch` is local replay's batch size,
    whose commits move the deduplication window (see the module docstring)."""
    from pyspark import StorageLevel

    _check_sources(paths)
    if store is not None:
        store().close()  # a store that can't be used stops us before anything is read
    started = time.perf_counter()
    now = time.time()  # the time of events that carry none, as local replay takes the clock's
    module = context.broadcast((source, filename))
    names = list(paths)
    read = context.parallelize(list(enumerate(names)), max(len(names), 1))
    records = read.flatMap(lambda item: _read(module.value, item[0], item[1])).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        events = records.filter(lambda r: r[0] == "e").map(lambda r: r[1])
        summary = Summary()
        files: dict[int, tuple[int, Optional[float], Optional[float], bool]] = {}
        for _, index, lines, low, high, untimed, part in records.filter(lambda r: r[0] == "f").collect():
            files[index] = (lines, low, high, untimed)
            summary.merge(part)
        say(f"read {len(names)} file(s): {summary.read:,} lines ({_since(started)})")
        if strict and summary.errors:
            _stop(summary)
        duplicates = _duplicates(events, files, order, now, batch, module)
        say(f"message ids: {len(duplicates):,} duplicate line(s) ({_since(started)})")
        kept = context.broadcast(duplicates)
        folded = (
            events.map(lambda e: ((e[0], _order_key(order, e)), e))
            .repartitionAndSortWithinPartitions(
                max(context.defaultParallelism * 2, 2), partitionFunc=_partition, keyfunc=lambda k: k
            )
            .mapPartitions(lambda part: _fold(module.value, part, kept.value, now, names, store is not None))
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        try:
            for part in folded.filter(lambda r: r[0] == "summary").map(lambda r: r[1]).collect():
                summary.merge(part)
            say(f"folded: {summary.applied:,} applied, {summary.rejected:,} rejected ({_since(started)})")
            if strict and summary.errors:
                _stop(summary)
            states = folded.filter(lambda r: r[0] == "state").map(lambda r: r[1])
            actions = folded.filter(lambda r: r[0] == "action").map(lambda r: r[1])
            result = Result(summary, *_write(context, states, actions, output))
            say(f"wrote {result.states:,} states and {result.actions:,} actions to {output} ({_since(started)})")
            if store is not None:
                seen = folded.filter(lambda r: r[0] == "seen").map(lambda r: r[1])
                _into_store(store(), states, seen, paths, files, order)
                say(f"committed the states into the store ({_since(started)})")
        finally:
            folded.unpersist()
    finally:
        records.unpersist()
    summary.seconds = time.perf_counter() - started
    return result


def _check_sources(paths: Sequence[str]) -> None:
    if "-" in paths:
        raise ReplayError("--engine spark reads files on the cluster: save standard input to a file first")
    for path in paths:
        with open(path, "rb"):  # a clear error for a file that isn't there, before Spark starts
            pass


def _stop(summary: Summary) -> None:
    name, line, reason = summary.errors[0]
    raise StrictStop(f"{name}:{line}: {reason}")


def _duplicates(
    events: Any, files: dict[int, tuple[int, Any, Any, bool]], order: str, now: float, batch: int, module: Any
) -> set[tuple[int, int]]:
    """The (file index, line) of every duplicate event, as local replay finds them."""
    from pyspark import StorageLevel

    repeated = set(
        events.filter(lambda e: e[1] is not None)
        .map(lambda e: (e[1], 1))
        .reduceByKey(lambda a, b: a + b)
        .filter(lambda pair: pair[1] > 1)
        .keys()
        .collect()
    )
    if not repeated:
        return set()
    ids = events.context.broadcast(repeated)
    times = [t for _, low, high, untimed in files.values() for t in (low, high, now if untimed else None)]
    span = max((t for t in times if t is not None), default=0.0) - min((t for t in times if t is not None), default=0.0)
    if span <= DEDUP_WINDOW:  # nothing is ever forgotten: the first applied event of an id wins
        found = (
            events.filter(lambda e: e[1] in ids.value)
            .map(lambda e: (_order_key(order, e), e[1], _rejected(module.value, e, now)))
            .collect()
        )
        return _decide([(0, *f) for f in sorted(found)], {})
    # longer: local replay's store forgets an id once it has seen events a window newer, batch by batch;
    # each event, checked where it is read, goes to its place in replay order as (batch, key, id, time accepted)
    compact = events.map(lambda e: (_order_key(order, e), (e[1], _rejected(module.value, e, now))))
    ranked = compact.sortByKey().zipWithIndex().map(lambda p: (p[1] // batch, p[0][0], *p[0][1]))
    checked = ranked.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        found = checked.filter(lambda c: c[2] in ids.value).collect()
        newest = (
            checked.filter(lambda c: c[2] not in ids.value and c[3] is not None)
            .map(lambda c: (c[0], (c[3], c[2] is not None)))
            .reduceByKey(lambda a, b: (max(a[0], b[0]), a[1] or b[1]))
            .collectAsMap()
        )
    finally:
        checked.unpersist()
    return _decide(sorted(found), newest)


def _decide(found: list[tuple[int, tuple, str, Any]], newest: dict[int, tuple[float, bool]]) -> set[tuple[int, int]]:
    """Walk the events of repeated ids in replay order, batch by batch, as
    local replay's store remembers ids: `found` holds (batch, order key, id,
    None or the event time when handle() accepts it); `newest` the other
    events' newest accepted time per batch and whether one had an id."""
    remembered: dict[str, float] = {}
    duplicates: set[tuple[int, int]] = set()
    latest = pruned = -math.inf
    batches = sorted({b for b, *_ in found} | set(newest))
    by_batch = {b: list(group) for b, group in itertools.groupby(found, key=lambda f: f[0])}
    for number in batches:
        high, taken = newest.get(number, (-math.inf, False))
        for _, key, message_id, accepted in by_batch.get(number, []):
            if message_id in remembered:
                duplicates.add(key[-2:])
            elif accepted is not None:
                remembered[message_id] = accepted
                taken, high = True, max(high, accepted)
        if taken and high > latest:  # as the store moves its window at a commit (ppdsl/store/memory.py)
            latest = high
            if latest - pruned > DEDUP_WINDOW / 7:
                pruned = latest
                remembered = {m: t for m, t in remembered.items() if t >= latest - DEDUP_WINDOW}
    return duplicates


def _write(context: Any, states: Any, actions: Any, output: str) -> tuple[int, int]:
    from pyspark.sql import SparkSession

    session = SparkSession(context)
    states_frame = session.createDataFrame(states, STATES_SCHEMA)
    actions_frame = session.createDataFrame(actions, ACTIONS_SCHEMA)
    try:
        states_frame.write.mode("overwrite").parquet(os.path.join(output, "states.parquet"))
        actions_frame.write.mode("overwrite").parquet(os.path.join(output, "actions.parquet"))
    except Exception as exc:
        raise ReplayError(f"can't write Parquet into {output}: {_first_line(exc)}") from None
    return states.count(), actions.count()


def _into_store(store: Store, states: Any, seen: Any, paths: Sequence[str], files: dict, order: str) -> None:
    """Commit the final states (as new visitors) and the applied message ids,
    a batch at a time, then the cursors that tell a local replay of the same
    files into this store that they are done."""
    from ..store import Change, Conflict, StoreError

    try:
        for chunk in _chunks(states.toLocalIterator()):  # first make sure nothing is in the way
            held = store.load([visitor for visitor, _ in chunk])
            if held:
                raise StoreError(
                    f"store {store.url} already holds visitor {sorted(held)[0]!r}: --engine spark writes into a "
                    "store that holds none of the history's visitors; use --engine local to go on from stored states"
                )
        for chunk in _chunks(seen.toLocalIterator()):
            if store.seen([m for m, _ in chunk]):
                raise StoreError(
                    f"store {store.url} has seen message ids of this history: --engine spark writes into a store "
                    "that holds none of them; use --engine local to go on from stored states"
                )
        for chunk in _chunks(states.toLocalIterator()):
            store.commit(Change(states={visitor: (json.loads(state), 0) for visitor, state in chunk}))
        for chunk in _chunks(seen.toLocalIterator()):
            store.commit(Change(seen=list(chunk), newest=max(t for _, t in chunk)))
        sources = [Source(p) for p in paths]
        for s in sources:
            s.open()
            s.close()
        if order == "time":
            cursors = {done_key(order, set_identity(sources)): {"lines": 1}}
        else:
            cursors = {done_key(order, s.identity): {"lines": files[n][0]} for n, s in enumerate(sources)}
        store.commit(Change(cursors=cursors))
    except Conflict:
        raise StoreError(f"store {store.url}: another writer wrote these visitors meanwhile; nothing more was written")
    finally:
        store.close()


def _chunks(rows: Iterable[Any]) -> Iterator[list[Any]]:
    rows = iter(rows)
    while chunk := list(itertools.islice(rows, _STORE_BATCH)):
        yield chunk


def _java() -> bool:
    import shutil

    home = os.environ.get("JAVA_HOME")
    if home:
        return os.access(os.path.join(home, "bin", "java"), os.X_OK)
    return shutil.which("java") is not None


def _python() -> str:
    import sys

    return sys.executable


class _output_to:
    """Send this process's stderr (file descriptor 2, which the JVM inherits) to a file meanwhile."""

    def __init__(self, path: Optional[str]):
        self.path = path
        self.saved = -1

    def __enter__(self) -> None:
        if self.path is None:
            return
        target = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.saved = os.dup(2)
        os.dup2(target, 2)
        os.close(target)

    def __exit__(self, *_: object) -> None:
        if self.saved >= 0:
            os.dup2(self.saved, 2)
            os.close(self.saved)


def _first_line(exc: BaseException) -> str:
    """The useful line of a Spark or Py4J error, without the Java stack: for
    an error in a Python worker, the error that ends its traceback."""
    text = str(exc).strip()
    raised = re.search(r"^(\w+(?:Error|Exception): .*)$", text, re.M)  # no dots: not a Java class
    if raised and "PythonException" in text:
        return raised.group(1)[:300]
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("at ", "An error occurred", "Traceback", "JVM stacktrace")):
            return re.sub(r"^(\[\w+\]\s*|[\w.$]+(Exception|Error):\s*)+", "", line)[:300]
    return type(exc).__name__


def _log_named(log: Optional[str]) -> str:
    return f" (Spark's log: {log})" if log else ""


def _since(started: float) -> str:
    return f"{time.perf_counter() - started:.1f} s"


# -- on the executors ------------------------------------------------------------------------------

_MODULES: dict[str, Any] = {}


def _rules(module: tuple[str, str]) -> Any:
    """The compiled module, loaded from its source once per Python worker."""
    source, filename = module
    key = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    loaded = _MODULES.get(key)
    if loaded is None:
        stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(filename))[0])
        loaded = types.ModuleType("ppdsl_flow_" + stem)
        exec(compile(source, f"<ppdsl {filename}>", "exec"), loaded.__dict__)
        _MODULES[key] = loaded
    return loaded


def _read(module: tuple[str, str], index: int, path: str) -> Iterator[tuple[Any, ...]]:
    """("e", event) for each envelope of a file, then ("f", index, lines, earliest
    and latest event time, whether one has none, the reading's summary)."""
    keys, loads = visitor_keys(_rules(module)), _loads()
    summary = Summary()
    source = Source(path)
    low = high = None
    untimed = False
    number = 0
    for number, line in source.open():
        if isinstance(line, BadLine):
            summary.reject((source.name, number), line.reason)
            continue
        summary.read += 1
        parsed = parse_line(line, loads, keys)
        if isinstance(parsed, str):
            summary.reject((source.name, number), parsed)
            continue
        t = parsed.timestamp
        if t is None:
            untimed = True
        else:
            low = t if low is None or t < low else low
            high = t if high is None or t > high else high
        yield "e", (parsed.visitor_id, parsed.message_id, t, parsed.payload, parsed.visitor, index, number)
    yield "f", index, number, low, high, untimed, summary


def _order_key(order: str, event: Event) -> tuple:
    """Where an event comes in local replay: file order, or time first (none: last), ties in file order."""
    if order == "time":
        return (math.inf if event[2] is None else event[2], event[5], event[6])
    return (event[5], event[6])


def _partition(key: tuple) -> int:
    return zlib.crc32(key[0].encode("utf-8", "surrogatepass"))


def _rejected(module: tuple[str, str], event: Event, now: float) -> Optional[float]:
    """None when handle() rejects the event, else its time. Whether an event is
    rejected does not depend on the visitor's earlier events (a state ppdsl
    wrote always reads back), so this is what the fold will find."""
    t = now if event[2] is None else event[2]
    try:
        _rules(module).handle(event[3], dict(event[4] or {}), None, at=t)
    except ValueError:
        return None
    return t


def _fold(
    module: tuple[str, str],
    part: Iterator[tuple[tuple, Event]],
    duplicates: set[tuple[int, int]],
    now: float,
    names: list[str],
    ids: bool,
) -> Iterator[tuple[str, Any]]:
    """Fold each visitor's events (sorted in replay order) with handle(), as
    ppdsl/engine/processor.py does: ("state", row), ("action", row), with
    `ids` ("seen", (message id, time)) for the store, and last ("summary",
    this part's counts)."""
    handle = _rules(module).handle
    summary = Summary()
    for visitor, events in itertools.groupby(part, key=lambda item: item[0][0]):
        state: Optional[dict[str, Any]] = None
        for _, (_, message_id, stamp, payload, patch, index, number) in events:
            if (index, number) in duplicates:
                summary.duplicate += 1
                continue
            t = now if stamp is None else stamp
            current = state or {}
            try:
                result = handle(payload, {**current, **patch} if patch else current, None, at=t)
            except ValueError as exc:
                summary.reject((names[index], number), str(exc))
                continue
            state = result["visitor"]
            summary.applied += 1
            when = result["event"]["time"]
            for position, action in enumerate(result["actions"]):
                summary.actions[(action["flow"], action["line"], action["type"])] += 1
                text = json.dumps(action, ensure_ascii=False, separators=(",", ":"))
                row = (visitor, message_id, when, action["flow"], action["line"], action["type"], text)
                yield "action", (*row, names[index], index, number, None if stamp is None else float(stamp), position)
            if ids and message_id is not None:
                yield "seen", (message_id, t)
        if state is not None:
            yield "state", (visitor, dumps(state))
    yield "summary", summary
