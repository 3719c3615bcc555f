"""--log-json: one JSON line per request on stderr (method, path, status,
duration, client). Headers and bodies are never logged, so write keys,
tokens and webhook secrets stay out of the logs."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

log = logging.getLogger("ppdsl.serve.access")


class RequestLog:
    """Pure ASGI middleware, so streaming bodies are not buffered."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            record = {
                "time": round(time.time(), 3),
                "method": scope["method"],
                "path": scope["path"],
                "status": status[0],
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "client": client[0] if client else None,
            }
            log.info("%s", json.dumps(record))


class JsonFormatter(logging.Formatter):
    """Every log record as one JSON line (for --log-json)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == log.name:
            return record.getMessage()
        line = {"time": round(record.created, 3), "level": record.levelname.lower(), "message": record.getMessage()}
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup(json_lines: bool) -> None:
    """Send ppdsl.serve's records to stderr, as JSON lines or as text."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("ppdsl.serve")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
