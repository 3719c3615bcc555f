"""`ppdsl replay --diff`: one history through two versions of a flow, each
with its own state in memory, and every event whose actions differ, with the
first examples (one a visitor).

Actions are compared without their `line` (an edit above a rule moves it
without changing what it does); the counts per (flow, line, type) say
where the differing actions come from on each side."""

from __future__ import annotations

from collections import Counter

from ..store.memory import MemoryStore
from .envelope import visitor_keys
from .processor import APPLIED, REJECTED, Processor
from .replay import BATCH, StrictStop, _loads, parse_line
from .sources import BadLine, Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any, Optional

    from .envelope import Envelope
    from .ruleset import Ruleset

EXAMPLES = 5


def diff(
    left: Ruleset,
    right: Ruleset,
    paths: Sequence[str],
    *,
    order: str = "arrival",
    strict: bool = False,
    progress: Optional[Callable[[float], None]] = None,
) -> dict[str, Any]:
    sides = [Processor(left, MemoryStore()), Processor(right, MemoryStore())]
    counts: list[Counter[tuple[str, int, str]]] = [Counter(), Counter()]
    examples: list[dict[str, Any]] = []
    total = differing = 0
    items = list(_envelopes(paths, order, strict, visitor_keys(left)))
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        batch = [env for _, env in chunk]
        outcomes = [side.process(batch) for side in sides]
        for (where, envelope), a, b in zip(chunk, *outcomes, strict=True):
            rejected = next((o for o in (a, b) if o.status == REJECTED), None)
            if strict and rejected is not None:
                raise StrictStop(f"{where[0]}:{where[1]}: {rejected.message}")
            total += 1
            shown = [_shown(a), _shown(b)]
            if shown[0] == shown[1]:
                continue
            differing += 1
            for n, outcome in enumerate((a, b)):
                if outcome.status == APPLIED:
                    counts[n].update((x["flow"], x["line"], x["type"]) for x in outcome.result["actions"])
            if len(examples) < EXAMPLES and all(e["visitor_id"] != envelope.visitor_id for e in examples):
                event = envelope.payload["track_event"]
                examples.append(
                    {
                        "file": where[0],
                        "line": where[1],
                        "visitor_id": envelope.visitor_id,
                        "message_id": envelope.message_id,
                        "event": event.get("event_name", event.get("event_seq", event.get("event_uuid"))),
                        "left": _listed(a),
                        "right": _listed(b),
                    }
                )
        if progress is not None:
            progress(min((start + len(chunk)) / len(items), 1.0))
    return {
        "events": total,
        "differing_events": differing,
        "left": _rows(counts[0]),
        "right": _rows(counts[1]),
        "examples": examples,
    }


def _envelopes(paths: Sequence[str], order: str, strict: bool, keys: Any) -> Iterator[tuple[tuple[str, int], Envelope]]:
    """The history's valid envelopes, in the order a replay would take them."""
    loads = _loads()
    items = []
    for path in paths:
        source = Source(path)
        for number, line in source.open():
            parsed = line.reason if isinstance(line, BadLine) else parse_line(line, loads, keys)
            if isinstance(parsed, str):
                if strict:
                    raise StrictStop(f"{source.name}:{number}: {parsed}")
                continue
            items.append(((source.name, number), parsed))
    if order == "time":
        stamps = [env.timestamp for _, env in items]
        keys = sorted(range(len(items)), key=lambda n: (float("inf") if stamps[n] is None else stamps[n], n))
        items = [items[n] for n in keys]
    return iter(items)


def _shown(outcome: Any) -> Any:
    """What must agree: the outcome, and each action less its line."""
    if outcome.status != APPLIED:
        return outcome.status
    return [{k: v for k, v in a.items() if k != "line"} for a in outcome.result["actions"]]


def _listed(outcome: Any) -> Any:
    return outcome.result["actions"] if outcome.status == APPLIED else f"{outcome.status} {outcome.message}".strip()


def _rows(counts: Counter[tuple[str, int, str]]) -> list[dict[str, Any]]:
    return [{"flow": f, "line": n, "type": t, "count": c} for (f, n, t), c in sorted(counts.items())]
