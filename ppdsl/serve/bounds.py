"""Limits on what a request may hold, checked before any of it reaches the
engine: the body's size while it is read, JSON that is JSON (no NaN), and per
envelope its nesting depth and string sizes. A request over a limit changes
nothing."""

from __future__ import annotations

import json
from typing import Any
from collections.abc import AsyncIterator

MAX_BODY = 500_000
"""Bytes in one request body (413 past it)."""
MAX_BATCH = 500
"""Envelopes in one request."""
MAX_DEPTH = 16
"""Nesting of objects and arrays inside one envelope."""
MAX_STRING = 32_768
"""Characters in one string (a key or a value) of an envelope."""
BODY_SECONDS = 10.0
"""Time a client has to send its whole body (408 past it): a slow client
can't hold a request open for ever."""


class TooLarge(Exception):
    """The body is over MAX_BODY bytes."""


class BadRequest(ValueError):
    """The body is not what /v1/track takes; the message says why (400)."""


async def read_body(chunks: AsyncIterator[bytes], declared: str | None) -> bytes:
    """The whole body, refused as soon as it passes MAX_BODY: an unbounded
    body is never buffered. `declared` is the Content-Length header."""
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise TooLarge
    parts = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge
        parts.append(chunk)
    return b"".join(parts)


try:
    from orjson import loads as _fast
except ImportError:  # pragma: no cover - orjson is optional
    _fast = None  # type: ignore[assignment]


def _no_constant(name: str) -> Any:
    raise BadRequest(f"{name} is not a JSON number: send finite numbers only")


def parse_json(body: bytes) -> Any:
    """The body as JSON (UTF-8); BadRequest for anything that is not strict
    JSON. orjson reads it when installed (the `fast` extra); what orjson
    refuses is read again by the standard library, which says why."""
    if _fast is not None:
        try:
            return _fast(body)
        except ValueError:
            pass
    try:
        return json.loads(body.decode("utf-8-sig"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8 text") from None
    except RecursionError:
        raise BadRequest(f"the JSON is nested too deeply (at most {MAX_DEPTH} levels in an envelope)") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def envelopes_of(body: Any) -> tuple[list[Any], Any, Any]:
    """(the envelopes, the request's writeKey, the batch's sent_at) of a
    parsed body: one envelope, or {"batch": [...], "sent_at": ...}."""
    if not isinstance(body, dict):
        raise BadRequest('send one envelope (a JSON object) or {"batch": [envelope, ...]}')
    key = body.get("writeKey")
    if "batch" not in body:
        return [body], key, None
    batch = body["batch"]
    if not isinstance(batch, list):
        raise BadRequest("batch must be a JSON array of envelopes")
    if not batch:
        raise BadRequest("batch is empty: send at least one envelope")
    if len(batch) > MAX_BATCH:
        raise BadRequest(f"batch holds {len(batch)} envelopes; send at most {MAX_BATCH} a request")
    return batch, key, body.get("sent_at")


def out_of_bounds(value: Any) -> str | None:
    """What in one envelope is past MAX_DEPTH or MAX_STRING, or None."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if len(item) > MAX_STRING:
                return f"a string of {len(item)} characters; at most {MAX_STRING} are taken"
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                return f"nesting deeper than {MAX_DEPTH} levels"
            if isinstance(item, dict):
                for key, inner in item.items():
                    if len(key) > MAX_STRING:
                        return f"a key of {len(key)} characters; at most {MAX_STRING} are taken"
                    stack.append((inner, depth + 1))
            else:
                stack.extend((inner, depth + 1) for inner in item)
    return None
