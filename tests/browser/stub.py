"""A test-only stand-in for `ppdsl serve`, on the standard library's HTTP
server, that keeps the service's contract with the tracker: GET / (the demo
with the flow's JSON in it), GET /ppmatc.js, and POST /v1/track (one envelope
or a batch, JSON or text/plain, the write key in the body or as Basic auth,
one result per event after the commit, 400/401/413). Events go through the
real engine into a memory store, so exactly-once is the store's own promise.

The browser tests use it only when the real service can't be imported; its
store outlives stop() and start(), as the real service's SQLite file does."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import ppdsl
from ppdsl.engine.envelope import EnvelopeError, parse_envelope, visitor_keys
from ppdsl.engine.processor import APPLIED, DUPLICATE, Processor
from ppdsl.lang.lower import parse
from ppdsl.lang.span import Source
from ppdsl.store import open_store

STATIC = Path(ppdsl.__file__).parent / "serve" / "static"
MAX_BODY = 500 * 1024


def flow_json(path: Path) -> dict[str, Any]:
    """What the demo page gets in place of /*PPDSL_FLOW*/null."""
    program, _ = parse(Source(path.name, path.read_text(encoding="utf-8")))
    return {
        "file": path.name,
        "version": "1",
        "events": [{"seq": e.seq, "name": e.name, "description": e.description} for e in program.events],
        "agents": {a.name: a.display or a.name for a in program.agents},
    }


class StubService:
    def __init__(self, flow: Path, port: int, write_key: str | None = None):
        self.rules = ppdsl.load(flow)
        self.keys = visitor_keys(self.rules)
        self.store = open_store("memory:")
        self.processor = Processor(self.rules, self.store)
        self.lock = threading.Lock()
        demo = (STATIC / "demo.html").read_text(encoding="utf-8")
        flow_text = json.dumps(flow_json(flow)).replace("<", "\\u003c")
        self.demo = demo.replace("/*PPDSL_FLOW*/null", flow_text).encode()
        self.tracker = (STATIC / "ppmatc.js").read_bytes()
        self.port = port
        self.write_key = write_key
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def state(self, visitor_id: str) -> dict[str, Any]:
        return self.store.load([visitor_id]).get(visitor_id, ({}, 0))[0]

    def track(self, body: bytes, authorization: str) -> tuple[int, dict[str, Any]]:
        try:
            request = json.loads(body)
        except ValueError:
            return 400, {"error": "the body is not JSON"}
        if not isinstance(request, dict):
            return 400, {"error": "the body must be a JSON object"}
        if self.write_key is not None and self.write_key not in (request.get("writeKey"), _basic_user(authorization)):
            return 401, {"error": "a valid write key is needed"}
        items = request["batch"] if isinstance(request.get("batch"), list) else [request]
        received = time.time()
        results: list[dict[str, Any] | None] = []
        valid = []
        for item in items:
            if isinstance(item, dict) and "sent_at" not in item and "sent_at" in request:
                item = {**item, "sent_at": request["sent_at"]}
            try:
                valid.append(parse_envelope(item, received_at=received, visitor_keys=self.keys))
                results.append(None)
            except EnvelopeError as exc:
                message_id = item.get("message_id") if isinstance(item, dict) else None
                results.append({"status": "rejected", "message_id": message_id, "error": str(exc)})
        with self.lock:
            outcomes = iter(self.processor.process(valid))
        return 200, {"results": [r if r is not None else _result(next(outcomes)) for r in results]}


def _result(outcome: Any) -> dict[str, Any]:
    message_id = outcome.envelope.message_id
    if outcome.status == APPLIED:
        actions = [a for a in outcome.result["actions"] if a["type"] in ("reply", "ticket")]
        event = outcome.result["event"]
        summary = {k: event[k] for k in ("seq", "name", "count", "time")}
        return {"status": APPLIED, "message_id": message_id, "actions": actions, "event": summary}
    if outcome.status == DUPLICATE:
        return {"status": DUPLICATE, "message_id": message_id}
    return {"status": "rejected", "message_id": message_id, "error": outcome.message}


def _basic_user(header: str) -> str | None:
    if not header.startswith("Basic "):
        return None
    try:
        return base64.b64decode(header[6:]).decode().partition(":")[0]
    except ValueError:
        return None


def _handler(service: StubService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            self.wfile.write(body)

        def do_OPTIONS(self) -> None:
            self.send_response(204)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Methods", "POST")
            self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
            self.end_headers()

        def do_GET(self) -> None:
            if self.path == "/ppmatc.js":
                self._send(200, service.tracker, "text/javascript")
            elif self.path.split("?")[0] == "/":
                self._send(200, service.demo, "text/html; charset=utf-8")
            else:
                self._send(404, b'{"error": "not found"}')

        def do_POST(self) -> None:
            if self.path != "/v1/track":
                return self._send(404, b'{"error": "not found"}')
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._send(413, b'{"error": "the body is over 500 KB"}')
            status, answer = service.track(self.rfile.read(length), self.headers.get("Authorization", ""))
            self._send(status, json.dumps(answer).encode())

    return Handler
