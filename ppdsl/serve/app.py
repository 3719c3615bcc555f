"""The Starlette application: /v1/track and the endpoints around it
(README, "Serving live events"). `create_app(config)` builds it;
`app_from_env()` is the factory uvicorn's workers call."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import math
import os
import time
from contextlib import asynccontextmanager
from typing import Any, Optional
from collections.abc import AsyncIterator

from limits import parse as parse_rate
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..engine.envelope import EnvelopeError, parse_envelope, visitor_keys
from ..engine.processor import APPLIED, REJECTED
from ..store import StoreError, masked
from . import bounds
from .committer import Committer
from .config import Config
from .flow import Flow, FlowError, load_flow, script_json
from .logs import RequestLog, setup as setup_logs
from .metrics import LATENCY, exposition
from .watch import watch_flow
from .webhooks import Sender

try:
    from orjson import dumps as _dumps
except ImportError:  # pragma: no cover - orjson is optional
    _dumps = None  # type: ignore[assignment]

log = logging.getLogger("ppdsl.serve")
STATIC = os.path.join(os.path.dirname(__file__), "static")
FLOW_MARK = "/*PPDSL_FLOW*/null"
_TO_VISITOR = ("reply", "ticket")  # the actions a visitor's browser is told of


class Service:
    """The running service's parts: the flow, the committer, the limits."""

    def __init__(self, config: Config, flow: Flow):
        self.config = config
        self.flow = flow
        self.keys = frozenset(config.write_keys)
        self.sender = Sender(config.webhook, config.webhook_secret, config.webhook_timeout) if config.webhook else None
        self.committer = Committer(flow.rules, config.store, self.sender.deliver if self.sender else None)
        self.limiter = MovingWindowRateLimiter(MemoryStorage()) if config.rate_limit else None
        self.rate = parse_rate(config.rate_limit) if config.rate_limit else None
        with open(os.path.join(STATIC, "ppmatc.js"), "rb") as f:
            self.tracker = f.read()
        with open(os.path.join(STATIC, "demo.html"), encoding="utf-8") as f:
            self.demo = f.read()

    def reloaded(self, flow: Flow) -> None:
        self.flow = flow
        self.committer.use(flow.rules)

    def allowed(self, request: Request, body_key: Any = None) -> bool:
        """True without write keys, or when the request carries one of them
        (as Basic auth's user name, or "writeKey" in the body)."""
        if not self.keys:
            return True
        return _basic_user(request) in self.keys or (type(body_key) is str and body_key in self.keys)

    def over_limit(self, request: Request, key: Any) -> Optional[int]:
        """Seconds to wait when this write key (or client address) is over
        --rate-limit, else None."""
        if self.limiter is None or self.rate is None:
            return None
        who = _basic_user(request) or (key if type(key) is str else None) if self.keys else None
        identity = f"key:{who}" if who else f"addr:{request.client.host if request.client else '-'}"
        if self.limiter.hit(self.rate, identity):
            return None
        reset = self.limiter.get_window_stats(self.rate, identity).reset_time
        return max(1, math.ceil(reset - time.time()))


def _basic_user(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return None


def _error(status: int, message: str, headers: Optional[dict[str, str]] = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def track(request: Request) -> Response:
    service: Service = request.app.state.service
    started = time.perf_counter()
    try:
        return await _track(service, request)
    finally:
        LATENCY.observe(time.perf_counter() - started)


async def _track(service: Service, request: Request) -> Response:
    received_at = time.time()
    try:
        raw = await asyncio.wait_for(
            bounds.read_body(request.stream(), request.headers.get("content-length")), bounds.BODY_SECONDS
        )
    except asyncio.TimeoutError:
        return _error(408, f"the body took over {bounds.BODY_SECONDS:g} s to arrive")
    except ClientDisconnect:
        return _error(400, "the client left before its body arrived")
    except bounds.TooLarge:
        return _error(413, f"the body is over {bounds.MAX_BODY} bytes; send smaller batches")
    unauthorized = _error(401, "a valid write key is needed", {"WWW-Authenticate": 'Basic realm="ppdsl"'})
    early = service.allowed(request)
    try:
        items, key, sent_at = bounds.envelopes_of(bounds.parse_json(raw))
    except bounds.BadRequest as exc:
        return unauthorized if not early else _error(400, str(exc))
    if not early and not service.allowed(request, key):
        return unauthorized
    wait = service.over_limit(request, key)
    if wait is not None:
        return _error(429, "too many requests; slow down", {"Retry-After": str(wait)})
    keys = visitor_keys(service.flow.rules)
    results: list[Optional[dict[str, Any]]] = []
    envelopes = []
    for item in items:
        problem = bounds.out_of_bounds(item)
        try:
            if problem is not None:
                raise EnvelopeError(f"the envelope holds {problem}")
            if sent_at is not None and isinstance(item, dict) and "sent_at" not in item:
                item = {**item, "sent_at": sent_at}
            envelopes.append(parse_envelope(item, received_at=received_at, visitor_keys=keys))
            results.append(None)
        except EnvelopeError as exc:
            message_id = item.get("message_id") if isinstance(item, dict) else None
            results.append(_result(REJECTED, message_id if type(message_id) is str else None, message=str(exc)))
    try:
        outcomes = iter(await service.committer.submit(envelopes) if envelopes else [])
    except StoreError as exc:
        log.error("store unavailable: %s", exc)
        return _error(503, "the store is unavailable; nothing was committed, send again later", {"Retry-After": "1"})
    return _json({"results": [r if r is not None else _outcome(next(outcomes)) for r in results]})


def _json(content: Any) -> Response:
    """A JSON response, through orjson when installed (the `fast` extra)."""
    if _dumps is None:
        return JSONResponse(content)
    return Response(_dumps(content), media_type="application/json")


def _result(status: str, message_id: Optional[str], **more: Any) -> dict[str, Any]:
    return {"status": status, "message_id": message_id, **more}


def _outcome(outcome: Any) -> dict[str, Any]:
    message_id = outcome.envelope.message_id
    if outcome.status == APPLIED:
        event = outcome.result["event"]
        return _result(
            APPLIED,
            message_id,
            event={k: event.get(k) for k in ("seq", "name", "count", "time")},
            actions=[a for a in outcome.result["actions"] if a.get("type") in _TO_VISITOR],
        )
    if outcome.status == REJECTED:
        return _result(REJECTED, message_id, message=outcome.message)
    return _result(outcome.status, message_id)


async def healthz(request: Request) -> Response:
    flow = request.app.state.service.flow
    return JSONResponse({"status": "ok", "file": os.path.basename(flow.file), "version": flow.version})


async def metrics(request: Request) -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)


async def visitor(request: Request) -> Response:
    service: Service = request.app.state.service
    token = service.config.admin_token
    if not token:
        return _error(404, "the visitor endpoint is off: start ppdsl serve with --admin-token")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not _same(given.strip(), token):
        return _error(401, "send Authorization: Bearer with the admin token", {"WWW-Authenticate": "Bearer"})
    visitor_id = request.path_params["visitor_id"]
    store = service.committer.processor.store  # type: ignore[union-attr]
    try:
        found = (await service.committer.call(store.load, [visitor_id])).get(visitor_id)
    except StoreError as exc:
        log.error("store unavailable: %s", exc)
        return _error(503, "the store is unavailable; try again later", {"Retry-After": "1"})
    if found is None:
        return _error(404, "no such visitor")
    state, version = found
    return JSONResponse({"visitor_id": visitor_id, "version": version, "state": state})


def _same(given: str, token: str) -> bool:
    import hmac

    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass"))


async def tracker(request: Request) -> Response:
    return Response(
        request.app.state.service.tracker,
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


async def demo(request: Request) -> Response:
    service: Service = request.app.state.service
    page = service.demo.replace(FLOW_MARK, script_json(service.flow.summary()), 1)
    return Response(page, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("error while answering %s %s", request.method, request.url.path)
    return _error(500, "internal error; the request changed nothing it did not acknowledge")


def create_app(config: Config, flow: Optional[Flow] = None) -> Starlette:
    """The service for these settings. Raises FlowError, WebhookError."""
    setup_logs(config.log_json)
    service = Service(config, flow or load_flow(config.flow))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.committer.start()
        watcher = asyncio.get_running_loop().create_task(watch_flow(service)) if config.watch else None
        log.info("serving %s (version %s), store %s", service.flow.file, service.flow.version, masked(config.store))
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            await service.committer.stop()
            if service.sender is not None:
                service.sender.close()

    routes = [
        Route("/v1/track", track, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        Route("/v1/visitors/{visitor_id}", visitor),
        Route("/ppmatc.js", tracker),
        Route("/", demo),
    ]
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    ]
    if config.log_json:
        middleware.insert(0, Middleware(RequestLog))
    app = Starlette(
        routes=routes, middleware=middleware, lifespan=lifespan, exception_handlers={Exception: _server_error}
    )
    app.state.service = service
    return app


def app_from_env() -> Starlette:
    """The app of the settings `ppdsl serve` put in the environment (uvicorn's factory)."""
    return create_app(Config.from_env())


__all__ = ["FlowError", "create_app", "app_from_env"]
