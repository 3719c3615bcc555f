"""A real PostgreSQL for the store tests (a pytest plugin that
tests/conftest.py loads): Debian's initdb and postgres on 127.0.0.1, on a
free port, in a temporary folder, run as the `postgres` system user when the
tests run as root (PostgreSQL refuses root). fsync is off: the tests kill
clients, never the machine. Each process of the test run (an xdist worker)
starts its own server at first use and stops it, by its pid, at the end.

    url = postgres_database()   # a fresh database on the shared server
    server = PostgresServer().start()   # a private one a test can stop; server.remove() at the end
    def test_x(postgres): ...           # the fixture: a private one on every address, removed after the test
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

PASSWORD = "secret-pw"
USER = "postgres"


def _bindir() -> Optional[Path]:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One PostgreSQL cluster in a folder of its own (pytest's tmp_path is
    closed to the postgres user), stopped and started again as a test wants."""

    def __init__(self, listen: str = "127.0.0.1") -> None:
        from conftest import need

        bindir = _bindir()
        need(bindir is not None, "PostgreSQL (apt-get install postgresql)")
        assert bindir is not None
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="ppdsl-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.listen = listen  # listen_addresses: "*" for the network namespaces' links (tests/servers/netns.py)
        self.process: Optional[subprocess.Popen] = None
        self.user: Optional[str] = None
        if os.geteuid() == 0:
            self.user = USER
            need(_has_user(USER), "the postgres system user (apt-get install postgresql makes it)")

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        return subprocess.run([str(a) for a in args], user=self.user, check=True, capture_output=True, **kwargs)

    def init(self) -> PostgresServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.user:
            os.chown(self.folder, pwd.getpwnam(self.user).pw_uid, -1)
        pwfile = self.folder / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.user:
            os.chown(pwfile, pwd.getpwnam(self.user).pw_uid, -1)
        self._run(
            self.bindir / "initdb", "-D", self.data, "-U", USER, "--pwfile", pwfile, "-E", "UTF8", "--locale=C.UTF-8",
            "--auth-host=scram-sha-256", "--auth-local=trust", "--no-sync",
        )  # fmt: skip
        with open(self.data / "pg_hba.conf", "a") as hba:  # the links of tests/servers/netns.py
            hba.write("host all all 100.64.0.0/10 scram-sha-256\n")
        return self

    def start(self) -> PostgresServer:
        if not self.data.exists():
            self.init()
        args = [
            self.bindir / "postgres", "-D", self.data, "-p", self.port, "-k", self.folder,
            "-c", f"listen_addresses={self.listen}", "-c", "fsync=off", "-c", "full_page_writes=off",
            "-c", "max_connections=300", "-c", "shared_buffers=32MB",
        ]  # fmt: skip
        log = open(self.folder / "postgres.log", "ab")  # noqa: SIM115 - the server writes it while it runs
        self.process = subprocess.Popen([str(a) for a in args], user=self.user, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                if self._ready():
                    return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"postgres didn't start: {(self.folder / 'postgres.log').read_text()[-2000:]}")
            time.sleep(0.05)

    def _ready(self) -> bool:
        import psycopg

        try:
            self.sql("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def sql(self, statement: str, database: str = "postgres") -> list[Any]:
        """Run one statement over the server's socket, as the superuser; its rows."""
        import psycopg  # the postgres extra, in the test extra: imported when a test needs a server

        with psycopg.connect(host=str(self.folder), port=self.port, user=USER, dbname=database, autocommit=True) as c:
            cur = c.execute(statement)
            return cur.fetchall() if cur.description else []

    def stop(self) -> None:
        """A fast shutdown (clients are disconnected), by the server's pid."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str, password: str = PASSWORD, host: str = "127.0.0.1", **options: Any) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return f"postgresql://{USER}:{password}@{host}:{self.port}/{database}" + (f"?{query}" if query else "")

    def database(self, name: Optional[str] = None, **url: Any) -> str:
        """A new, empty database; its URL (url(): host, options)."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
        return self.url(name, **url)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


_shared: dict[str, PostgresServer] = {}


def postgres_server() -> PostgresServer:
    """This process's shared server, started at first use."""
    if "server" not in _shared:
        _shared["server"] = PostgresServer().start()
    return _shared["server"]


def postgres_database(folder: Optional[Path] = None) -> str:
    """A fresh database on the shared server. With `folder`, the same database
    for the same folder (a test names its stores by folders)."""
    server = postgres_server()
    if folder is None:
        return server.database()
    marker = folder / ".postgres-database"
    if not marker.exists():
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(server.database())
    return marker.read_text()


@pytest.fixture
def postgres_url() -> str:
    """The URL of a fresh database on this process's PostgreSQL server."""
    return postgres_database()


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own, which it may stop, listening on every address."""
    server = PostgresServer(listen="*").start()
    yield server
    server.remove()


def pytest_sessionfinish(session: pytest.Session) -> None:
    server = _shared.pop("server", None)
    if server is not None:
        server.remove()
