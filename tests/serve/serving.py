"""The service under test (test modules import the fixtures make_client_fixture
and serve_fixture): in process through Starlette's TestClient, or as a
real `ppdsl serve` (uvicorn) on a free loopback port where a promise needs a
real server: reload, slow clients, kill -9."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed")

from starlette.testclient import TestClient  # noqa: E402

from ppdsl.serve.app import create_app  # noqa: E402
from ppdsl.serve.config import Config  # noqa: E402

LEAD = Path(__file__).resolve().parents[2] / "examples" / "lead_routing.ppflow"
PPDSL = [sys.executable, "-m", "ppdsl"]


def envelope(visitor: str, message_id: str | None, event: str = "click", **more: Any) -> dict[str, Any]:
    env: dict[str, Any] = {"visitor_id": visitor, "track_event": {"event_name": event}, **more}
    if message_id is not None:
        env["message_id"] = message_id
    return env


@pytest.fixture(name="make_client")
def make_client_fixture(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """make_client(**config) -> a started TestClient on lead_routing by default."""
    clients = []

    def make(flow: Path | str = LEAD, raise_server_exceptions: bool = True, **settings: Any) -> TestClient:
        settings.setdefault("watch", False)
        settings.setdefault("store", "memory:")
        app = create_app(Config(flow=str(flow), **settings))
        client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`ppdsl serve` in a subprocess; its log goes to a file."""

    def __init__(
        self, flow: Path, args: list[str], log: Path, host: str | None = None, prefix: list[str] | None = None
    ):
        self.flow, self.args, self.log_path = flow, args, log
        self.host, self.prefix = host, prefix or []  # prefix: e.g. `ip netns exec NS`, to serve from another host
        self.port = free_port()
        self.url = f"http://{host or '127.0.0.1'}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        log = open(self.log_path, "ab")
        store = [] if "--store" in self.args else ["--store", "memory:"]
        host = ["--host", self.host] if self.host else []
        self.proc = subprocess.Popen(
            [*self.prefix, *PPDSL, "serve", str(self.flow), "--port", str(self.port), *store, *self.args, *host],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"ppdsl serve exited:\n{self.log()}"
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"ppdsl serve did not start:\n{self.log()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(name="serve")
def serve_fixture(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """serve(flow, *args) -> a started real server, stopped after the test."""
    servers: list[Server] = []

    def start(flow: Path = LEAD, *args: str) -> Server:
        server = Server(flow, list(args), tmp_path / f"serve-{len(servers)}.log").start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class Load:
    """A bounded load generator: `senders` threads post batches of envelopes
    round-robin to the services at `urls`, each batch again and again (the
    same message ids) until one answers 200, as the tracker does. Statuses
    count the answers: "retry" for an error or a non-200 answer, by status code."""

    def __init__(self, urls: list[str], batches: list[list[dict[str, Any]]], senders: int = 4, deadline: float = 180):
        self.urls, self.batches, self.senders = urls, batches, senders
        self.stop_at = time.monotonic() + deadline
        self.acknowledged: list[int] = []
        self.statuses: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._send, args=(range(k, len(batches), senders),), daemon=True)
            for k in range(senders)
        ]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def join(self) -> Load:
        for thread in self._threads:
            thread.join(max(0.0, self.stop_at - time.monotonic()) + 1)
        return self

    def _send(self, mine: range) -> None:
        with httpx.Client(timeout=15) as client:  # patient enough for a 503 that waited out a cut network
            for attempt, n in enumerate(mine):
                while time.monotonic() < self.stop_at:
                    url = self.urls[(n + attempt) % len(self.urls)]
                    attempt += 1
                    try:
                        answer = client.post(url + "/v1/track", json={"batch": self.batches[n]})
                    except httpx.HTTPError:
                        answer = None
                    if answer is None or answer.status_code != 200:
                        with self._lock:
                            self.statuses[str(answer.status_code) if answer is not None else "unreachable"] += 1
                        time.sleep(0.05)
                        continue
                    with self._lock:
                        self.acknowledged.append(n)
                        self.statuses.update(r["status"] for r in answer.json()["results"])
                    break
