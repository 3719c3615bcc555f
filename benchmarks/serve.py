"""`ppdsl serve` under load on loopback, as ratios against baselines measured
in the same run (issue 9's table; benchmarks/README.md has the figures).

    python benchmarks/serve.py            # about 2 minutes
    python benchmarks/serve.py --quick    # shorter runs, for a smoke test

The server runs pinned to CPU 0 and this load generator to CPU 1: a bounded
asyncio HTTP/1.1 client over keep-alive connections (no library: httpx would
be the bottleneck). Every request carries new message ids, so nothing is a
duplicate. Measured:
  batch       events/s of `ppdsl serve` (SQLite, 1 worker) with 10-event
              batches, against `ppdsl replay` in memory on the same events
  single      requests/s with one event per request, against a hand-written
              Starlette endpoint that runs the same handle() and commits to
              SQLite for every request (benchmarks/serve_baseline.py)
  p99         latency of a 10-event batch sent at a fixed rate of half the
              maximum throughput (open loop: lateness counts)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FLOW = ROOT / "examples" / "lead_routing.ppflow"
VISITORS = 5000
EVENTS = ("click", "view_pricing", "signup")


def envelope(n: int) -> dict:
    return {
        "visitor_id": f"v{n % VISITORS}",
        "message_id": f"bench-{n}",
        "track_event": {"event_name": EVENTS[n % 3], "event_data": {"page": "/pricing"}},
    }


class Load:
    """Request bodies with fresh message ids: `per` events each."""

    def __init__(self, per: int, start: int = 0):
        self.per, self.n = per, start

    def body(self) -> bytes:
        n, self.n = self.n, self.n + self.per
        items = [envelope(i) for i in range(n, n + self.per)]
        return json.dumps({"batch": items} if self.per > 1 else items[0]).encode()


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, body: bytes) -> int:
    writer.write(
        b"POST /v1/track HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (port, len(body), body)
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


async def closed_loop(port: int, load: Load, seconds: float, connections: int = 32) -> tuple[float, list[float]]:
    """Each connection sends its next request when the last one is answered;
    requests/s and the latencies."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < stop:
            started = time.perf_counter()
            assert await _request(reader, writer, port, load.body()) == 200
            latencies.append(time.perf_counter() - started)
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return len(latencies) / (time.perf_counter() - began), latencies


async def open_loop(port: int, load: Load, rate: float, seconds: float, connections: int = 64) -> list[float]:
    """Requests due at a fixed rate; each latency counts from when it was due."""
    due: asyncio.Queue[float] = asyncio.Queue()
    latencies: list[float] = []
    count = int(rate * seconds)
    began = time.perf_counter()
    for i in range(count):
        due.put_nowait(began + i / rate)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while not due.empty():
            when = due.get_nowait()
            wait = when - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            assert await _request(reader, writer, port, load.body()) == 200
            latencies.append(time.perf_counter() - when)
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A server process pinned to CPU 0."""

    def __init__(self, argv: list[str], port: int):
        self.port = port
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=lambda: os.sched_setaffinity(0, {0})
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("the server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


def ppdsl_serve(store: str) -> Server:
    port = free_port()
    ppdsl = [sys.executable, "-m", "ppdsl", "serve", str(FLOW), "--store", store, "--port", str(port), "--no-reload"]
    return Server(ppdsl, port)


def baseline_server(store: str) -> Server:
    port = free_port()
    return Server([sys.executable, str(HERE / "serve_baseline.py"), str(FLOW), store, str(port)], port)


def replay_rate(count: int, folder: str) -> float:
    """Events/s of `ppdsl replay` in memory (a dry run) on `count` of the same
    envelopes, less the time of a one-event replay (start-up)."""

    def timed(n: int) -> float:
        path = os.path.join(folder, f"events-{n}.jsonl")
        with open(path, "w") as f:
            for i in range(n):
                f.write(json.dumps(envelope(i)) + "\n")
        argv = [sys.executable, "-m", "ppdsl", "replay", str(FLOW), path, "--json", "--no-progress"]
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, preexec_fn=lambda: os.sched_setaffinity(0, {0}))
            best = min(best, time.perf_counter() - started)
        return best

    return count / (timed(count) - timed(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("this benchmark needs two CPUs: one for the server, one for the load")
    os.sched_setaffinity(0, {1})
    seconds = 3.0 if args.quick else 10.0
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        replay = replay_rate(20_000 if args.quick else 200_000, folder)

        server = ppdsl_serve(os.path.join(folder, "batch.db"))
        try:
            asyncio.run(closed_loop(server.port, Load(10, 10**9), 1.0))  # warm up
            rate, _ = asyncio.run(closed_loop(server.port, Load(10), seconds))
            events = rate * 10
            half = rate / 2
            latencies = asyncio.run(open_loop(server.port, Load(10, 2 * 10**9), half, seconds))
        finally:
            server.stop()
        rows.append(("serve, 10-event batches, SQLite (events/s)", events, "replay in memory (events/s)", replay))
        rows.append(
            ("p99 of a 10-event batch at half the maximum (ms)", quantile(latencies, 0.99) * 1000, "target (ms)", 20.0)
        )
        rows.append(("p50 of the same (ms)", quantile(latencies, 0.5) * 1000, "target for the p99 (ms)", 20.0))

        single = {}
        for name, start in (("ppdsl serve", ppdsl_serve), ("hand-written", baseline_server)):
            server = start(os.path.join(folder, f"single-{name[:4]}.db"))
            try:
                asyncio.run(closed_loop(server.port, Load(1, 10**9), 1.0))
                single[name], _ = asyncio.run(closed_loop(server.port, Load(1), seconds))
            finally:
                server.stop()
        rows.append(
            (
                "serve, one event a request (requests/s)",
                single["ppdsl serve"],
                "hand-written, commit per request",
                single["hand-written"],
            )
        )
    load = os.getloadavg()
    print(f"load average before the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; Python {sys.version.split()[0]}")
    print(f"{'measure':52} {'value':>10}  {'baseline':36} {'value':>10} {'ratio':>6}")
    for name, value, base_name, base in rows:
        print(f"{name:52} {value:10.1f}  {base_name:36} {base:10.1f} {value / base:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
