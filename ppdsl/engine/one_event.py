"""One tracked event through a ruleset, for one visitor."""

from __future__ import annotations

TYPE_CHECKING = False  # typing's costs the import-light `run` path its time
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, Optional

    from .ruleset import Effects, Ruleset


class RejectedEvent(Exception):
    """The ruleset refused the event (unknown, malformed, a bad time or bad
    visitor statistics): there is no result, and the visitor passed in is as it
    was. The message is handle()'s, the one `ppdsl run` prints after `error: `."""


class EventResult:
    """handle()'s result, kept whole: it is docs/language.md section 7's object,
    which `--json` prints as it is."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]):
        self.data = data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EventResult) and other.data == self.data

    def __repr__(self) -> str:
        return f"EventResult({self.data!r})"

    @property
    def event(self) -> dict[str, Any]:
        """seq, name, uuid, count (after this event) and time."""
        return self.data["event"]

    @property
    def actions(self) -> list[dict[str, Any]]:
        return self.data["actions"]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return self.data["failed"]

    @property
    def visitor(self) -> dict[str, Any]:
        """The updated visitor: a new dict, the one passed in is not changed."""
        return self.data["visitor"]


def run_event(
    rules: Ruleset,
    payload: dict[str, Any],
    visitor: Optional[dict[str, Any]] = None,
    *,
    at: object = None,
    fail: Iterable[str] = (),
) -> EventResult:
    """Run the flows for one event. `at` is the event's time when the payload
    has no event_timestamp (epoch seconds, ISO-8601 text or a datetime; None
    is now). Actions aimed at an agent or group named in `fail` fail, so the
    `on failure` paths can be tried; "ticket" fails every ticket and "any"
    every `assign any` (both are keywords, never names). Raises RejectedEvent."""
    try:
        result = rules.handle(payload, visitor, failing(frozenset(fail)), at=at)
    except ValueError as exc:
        raise RejectedEvent(str(exc)) from exc
    return EventResult(result)


def failing(names: frozenset[str]) -> Optional[Effects]:
    """The effects of --fail NAME: actions aimed at these names fail."""
    if not names:
        return None
    return lambda action: (
        not (
            action.get("agent") in names
            or action.get("group") in names
            or ("ticket" in names and action.get("type") == "ticket")
            or ("any" in names and action.get("any") is True)
        )
    )


def unaimed(rules: Ruleset, fail: Iterable[str]) -> list[str]:
    """The names in `fail` that no action of the ruleset aims at, most likely
    typos ("ticket" and "any" never count). A module without `_TARGETS` can't
    tell, and gives none."""
    targets = getattr(rules, "_TARGETS", None)
    return [] if targets is None else sorted(set(fail) - set(targets) - {"ticket", "any"})
