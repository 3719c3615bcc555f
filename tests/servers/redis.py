"""Real Redis servers for the store tests (a plugin that tests/conftest.py
loads): one redis-server, and a Redis Cluster of three masters made with
`redis-cli --cluster create`, each on free loopback ports in a tmp folder,
started once per session (per xdist worker) and stopped by pid at its end.

A test names its own store inside a shared server with `url(kind, folder)`:
a key prefix made from its tmp folder, so tests never see each other's keys."""

from __future__ import annotations

import hashlib
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser.harness import free_port
from conftest import need

ADDRESSES: dict[str, str] = {}
"""The running servers, by the name of their fixture: host:port[,host:port...]."""


class RedisServer:
    """One redis-server process; `stop()` and `start()` again on the same port and folder."""

    def __init__(self, folder: Path, *options: str, port: int = 0):
        need(bool(shutil.which("redis-server")), "redis-server (apt-get install redis-server)")
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.options, self.port = folder, options, port or free_port()
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.folder / f"redis-{self.port}.log", "ab")  # noqa: SIM115
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        args += ["--save", "", "--appendonly", "no", *self.options]
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        for _ in range(500):
            if self.cli("PING").stdout.split()[:1] in (["PONG"], ["NOAUTH"]):  # up, with a password or not
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start: see {self.folder}/redis-{self.port}.log")

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        self.process = None


def _cluster_port() -> int:
    """A free port for a cluster node: Redis wants its cluster bus at port + 10000, free too,
    so the port must be at most 55535, below the ephemeral ports that free_port() gives."""
    rng = random.Random()
    while True:
        port = rng.randrange(20000, 28000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
                return port
        except OSError:
            continue


def start_cluster(folder: Path) -> list[RedisServer]:
    """Three masters, no replicas, with every slot assigned and the cluster's state ok."""
    options = ("--cluster-enabled", "yes", "--cluster-node-timeout", "5000")
    nodes = [RedisServer(folder / f"node{n}", *options, port=_cluster_port()) for n in range(3)]
    try:
        made = subprocess.run(
            ["redis-cli", "--cluster", "create", *(n.address for n in nodes), "--cluster-replicas", "0"]
            + ["--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stdout + made.stderr
        for _ in range(500):
            if all("cluster_state:ok" in n.cli("CLUSTER", "INFO").stdout for n in nodes):
                return nodes
            time.sleep(0.02)
        raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
    except BaseException:
        for node in nodes:
            node.stop()
        raise


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    ADDRESSES["redis_server"] = server.address
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RedisServer]]:
    nodes = start_cluster(tmp_path_factory.mktemp("redis-cluster"))
    ADDRESSES["redis_cluster"] = ",".join(n.address for n in nodes)
    yield nodes
    for node in nodes:
        node.stop()


def url(server: str, folder: Path) -> str:
    """The URL of a test's own store in a running server (by its fixture's name)."""
    prefix = "t" + hashlib.sha1(str(folder).encode()).hexdigest()[:12]
    return f"redis://{ADDRESSES[server]}/?prefix={prefix}"


@pytest.fixture
def start_redis(tmp_path: Path) -> Iterator[Any]:
    """A test's own redis-server, with extra options (`start_redis("--requirepass", "s")`), stopped at its end."""
    started: list[RedisServer] = []

    def start(*options: str) -> RedisServer:
        server = RedisServer(tmp_path / f"redis{len(started)}", *options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
