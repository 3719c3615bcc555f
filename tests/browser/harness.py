"""Fixtures of the browser tests (a plugin that tests/conftest.py loads, so
that no second conftest module shadows the first): Debian's Chromium driven
by Playwright, the service (the real `ppdsl serve` when it can be imported,
else the stub of stub.py), and a customer's site on another origin that
carries the snippet.

Playwright's own browser downloads are not used: the tests launch
/usr/bin/chromium (`apt-get install chromium`), or $PPDSL_CHROMIUM."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

import pytest

from .stub import STATIC, StubService

HERE = Path(__file__).resolve().parent
TRAIL = HERE / "trail.ppflow"
CHROMIUM = os.environ.get("PPDSL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_TOKEN = "browser-tests-admin"


class Service(Protocol):
    url: str

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def state(self, visitor_id: str) -> dict[str, Any]: ...


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def real_service_available() -> bool:
    """The real service runs when its module and the serve extra are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("ppdsl.serve.app", "starlette", "uvicorn"))


class RealService:
    """`ppdsl serve` in a child process with an SQLite store, so that a
    stop (kill -9) and start keeps what was committed."""

    def __init__(self, flow: Path, port: int, store: Path, write_key: str | None = None):
        self.command = [sys.executable, "-m", "ppdsl", "serve", str(flow), "--port", str(port)]
        self.command += ["--store", str(store), "--admin-token", ADMIN_TOKEN]
        self.command += ["--write-key", write_key] if write_key else []
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ppdsl serve exited: {self.process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("ppdsl serve did not answer /healthz within 30 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def state(self, visitor_id: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}/v1/visitors/{visitor_id}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return dict(json.load(answer)["state"])
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return {}
            raise


@pytest.fixture
def service_for(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Starts a service for a flow file (and a write key); every one is stopped after the test."""
    started: list[Service] = []

    def start(flow: Path, write_key: str | None = None) -> Service:
        port = free_port()
        service: Service
        if real_service_available():
            service = RealService(flow, port, tmp_path / f"visitors-{port}.db", write_key)
        else:
            service = StubService(flow, port, write_key)
        service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


class Site:
    """A customer's site on http://localhost (another origin than the service
    on 127.0.0.1), serving its own pages and a copy of the tracker, so that
    its pages load while the service is down."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        tracker = (STATIC / "ppmatc.js").read_bytes()
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/ppmatc.js":
                    body, kind = tracker, "text/javascript"
                elif self.path in pages:
                    body, kind = pages[self.path].encode(), "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, path: str, service: Service, before: str = "", config: str = "") -> str:
        """Adds a page that configures the tracker for `service`, runs the
        script `before` (pushes made before the tracker loads), then loads it."""
        self.pages[path] = f"""<!doctype html><html><body><h1>shop</h1><script>
window._ppmatc_config = {{endpoint: "{service.url}/v1/track", {config}
  onResult: function (r) {{ (window.results = window.results || []).push(r); }}}};
window._ppmatc = window._ppmatc || [];
{before}
</script><script src="/ppmatc.js"></script></body></html>"""
        return self.url + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    """A browser for one test: Playwright's sync API keeps an asyncio loop
    running while it is open, which would break the asyncio tests (the
    language server's) that run later in the same process."""
    from conftest import need

    need(os.access(CHROMIUM, os.X_OK), f"chromium ({CHROMIUM}; apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 820})
    yield context.new_page()
    context.close()


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, what: str = "the condition", page: Any = None) -> Any:
    """Polls until `condition()` is truthy and returns it. With a `page`, it
    waits on the page, so that Playwright runs its routes and events meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            assert value, f"timed out after {timeout} s waiting for {what}"
            return value
        if page is not None:
            page.wait_for_timeout(100)
        else:
            time.sleep(0.1)
