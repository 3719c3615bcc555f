"""Envelopes: an event with the visitor it belongs to (README, "Envelopes").

    {"visitor_id": "v-8f2c", "message_id": "1b4e...", "track_event": {...},
     "visitor": {"user_fullname": "Li Lei"}, "sent_at": 1795593601}

A Segment `track` call is read as one too. The event itself (`track_event`)
is validated by the ruleset's handle(); this module checks everything around
it, and names the field at fault."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection
    from typing import Any, Optional

MAX_VISITOR_ID = 128
MAX_MESSAGE_ID = 100
_STAT = re.compile(r"event_(count|first_time|last_time|last_data)_[0-9]+")
_EXTRA = re.compile(r"extra_field_[A-Za-z0-9_]+")
_SEGMENT_TRAITS = {"name": "user_fullname", "email": "user_email", "phone": "user_mobile"}


def visitor_keys(rules: Any) -> Optional[frozenset[str]]:
    """The names an envelope's `visitor` may set for this ruleset (PPMessage's
    variables and its declared fields); None for a module too old to say."""
    keys = getattr(rules, "_VISITOR_KEYS", None)
    return None if keys is None else frozenset(keys)


class EnvelopeError(ValueError):
    """The envelope breaks a rule; the message names the field."""


class Envelope:
    """A valid envelope. `payload` is what handle() takes: {"track_event": {...}}."""

    __slots__ = ("visitor_id", "message_id", "payload", "visitor")

    def __init__(
        self,
        visitor_id: str,
        message_id: Optional[str],
        payload: dict[str, Any],
        visitor: Optional[dict[str, Any]] = None,
    ):
        self.visitor_id = visitor_id
        self.message_id = message_id
        self.payload = payload
        self.visitor = visitor

    @property
    def timestamp(self) -> Optional[float]:
        """The event's own time (epoch seconds) when it carries a usable one."""
        t = self.payload["track_event"].get("event_timestamp")
        return t if type(t) in (int, float) and 0 <= t < 1e11 else None


def parse_envelope(
    obj: Any, *, received_at: Optional[float] = None, visitor_keys: Optional[Collection[str]] = None
) -> Envelope:
    """Check one envelope (a parsed JSON value). `received_at` (epoch seconds,
    the service's clock) turns on the clock-skew correction of `sent_at`;
    `visitor_keys` are the names a `visitor` object may set besides
    `extra_field_*` (the ruleset's _VISITOR_KEYS; None accepts any name that
    is not a statistic). Raises EnvelopeError."""
    if not isinstance(obj, dict):
        raise EnvelopeError("an envelope must be a JSON object with visitor_id and track_event")
    if obj.get("type") == "track":
        obj = _from_segment(obj)
    visitor_id = obj.get("visitor_id")
    if type(visitor_id) is not str:
        if visitor_id is None:
            raise EnvelopeError("visitor_id is missing: every envelope names its visitor")
        raise EnvelopeError(f"visitor_id must be a string, got {_kind(visitor_id)}")
    if not visitor_id or len(visitor_id) > MAX_VISITOR_ID:
        raise EnvelopeError(f"visitor_id must be 1 to {MAX_VISITOR_ID} characters long, got {len(visitor_id)}")
    message_id = obj.get("message_id")
    if message_id is not None:
        if type(message_id) is not str:
            raise EnvelopeError(f"message_id must be a string, got {_kind(message_id)}")
        if not message_id or len(message_id) > MAX_MESSAGE_ID:
            raise EnvelopeError(f"message_id must be 1 to {MAX_MESSAGE_ID} characters long, got {len(message_id)}")
    event = obj.get("track_event")
    if type(event) is not dict:
        if event is None:
            raise EnvelopeError('track_event is missing: {"track_event": {"event_name": ..., ...}}')
        raise EnvelopeError(f"track_event must be a JSON object, got {_kind(event)}")
    visitor = obj.get("visitor")
    if visitor is not None:
        _check_visitor(visitor, visitor_keys)
    sent_at = obj.get("sent_at")
    if sent_at is not None:
        if type(sent_at) not in (int, float) or not math.isfinite(sent_at) or sent_at < 0:
            raise EnvelopeError(f"sent_at must be epoch seconds, got {_kind(sent_at)}")
        if received_at is not None:
            event = _skew_corrected(event, sent_at, received_at)
    return Envelope(visitor_id, message_id, {"track_event": event}, visitor)


def _check_visitor(visitor: Any, allowed: Optional[Collection[str]]) -> None:
    if type(visitor) is not dict:
        raise EnvelopeError(f"visitor must be a JSON object of PPMessage variables, got {_kind(visitor)}")
    for key in visitor:
        if _STAT.fullmatch(key):
            raise EnvelopeError(f"visitor.{key}: statistics can't be sent; ppdsl counts them from the events")
        if allowed is not None and key not in allowed and not _EXTRA.fullmatch(key):
            raise EnvelopeError(
                f"visitor.{_short(key)} is not a PPMessage variable, a declared field or an extra_field_*"
            )
    try:
        json.dumps(visitor, allow_nan=False)
    except ValueError:
        raise EnvelopeError("visitor holds NaN or Infinity, which are not JSON numbers") from None
    except RecursionError:
        raise EnvelopeError("visitor is nested too deeply") from None


def _skew_corrected(event: dict[str, Any], sent_at: float, received_at: float) -> dict[str, Any]:
    """time = received_at - (sent_at - event_timestamp), as Segment corrects a client's clock."""
    stamp = event.get("event_timestamp")
    if not isinstance(stamp, (int, float)) or isinstance(stamp, bool) or not 0 <= stamp < 1e11:
        return event  # absent or bad: handle() uses the time of processing, or says what is wrong
    corrected = received_at - (sent_at - stamp)
    return {**event, "event_timestamp": max(corrected, 0.0)}


def _from_segment(call: dict[str, Any]) -> dict[str, Any]:
    """A Segment track call as an envelope."""
    event: dict[str, Any] = {"event_name": call.get("event")}
    if call.get("properties") is not None:
        event["event_data"] = call["properties"]
    if call.get("timestamp") is not None:
        event["event_timestamp"] = _iso_seconds(call["timestamp"], "timestamp")
    envelope: dict[str, Any] = {
        "visitor_id": call.get("userId") if call.get("userId") is not None else call.get("anonymousId"),
        "message_id": call.get("messageId"),
        "track_event": event,
    }
    if call.get("sentAt") is not None:
        envelope["sent_at"] = _iso_seconds(call["sentAt"], "sentAt")
    context = call.get("context")
    traits = context.get("traits") if isinstance(context, dict) else None
    if traits is not None:
        if type(traits) is not dict:
            raise EnvelopeError(f"context.traits must be a JSON object, got {_kind(traits)}")
        envelope["visitor"] = {_SEGMENT_TRAITS.get(k, k): v for k, v in traits.items()}
    if envelope["visitor_id"] is None:
        raise EnvelopeError("userId and anonymousId are both missing: a track call names its visitor")
    return envelope


def _iso_seconds(value: Any, field: str) -> float:
    if type(value) is str and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return moment.timestamp()
        except ValueError:
            pass
    raise EnvelopeError(f"{field} must be an ISO-8601 time such as 2026-11-25T08:00:00Z, got {_kind(value)}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _short(repr(value))
    if isinstance(value, str):
        return repr(_short(value))
    return "an array" if isinstance(value, list) else "an object"


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."
