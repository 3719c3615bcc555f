"""A Spark standalone cluster on loopback for the tests of `ppdsl replay
--engine spark` (a pytest plugin that tests/conftest.py loads): one master and
two workers of one core and 1 GiB each, started with the `spark-class` that
the pyspark package carries, on free ports in a temporary folder, and stopped
by pid when the session ends. Executors run this Python (PYSPARK_PYTHON)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import need

WORKERS = 2
STARTUP = 90.0  # seconds: a JVM each, on a busy machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spark_home() -> Path | None:
    """The Spark that pyspark brings (its bin/spark-class), or None without pyspark."""
    try:
        import pyspark
    except ImportError:
        return None
    return Path(pyspark.__file__).resolve().parent


def spark_env() -> dict[str, str]:
    """What the cluster and a driver talking to it need: loopback, and this Python on the executors."""
    return {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}


class Cluster:
    def __init__(self, home: Path, folder: Path):
        self.home, self.folder = home, folder
        self.port, self.ui = free_port(), free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen] = []

    def _start(self, name: str, *args: str) -> None:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115
        env = {**spark_env(), "SPARK_HOME": str(self.home), "SPARK_LOG_DIR": str(self.folder)}
        self.processes.append(
            subprocess.Popen(
                [str(self.home / "bin" / "spark-class"), *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.folder,
                start_new_session=True,
            )
        )
        log.close()

    def start(self) -> None:
        self._start(
            "master",
            "org.apache.spark.deploy.master.Master",
            *("--host", "127.0.0.1", "--port", str(self.port), "--webui-port", str(self.ui)),
        )
        for n in range(WORKERS):
            work = self.folder / f"worker{n}"
            work.mkdir()
            self._start(
                f"worker{n}",
                "org.apache.spark.deploy.worker.Worker",
                *("--host", "127.0.0.1", "--webui-port", str(free_port()), "--cores", "1", "--memory", "1g"),
                *("--work-dir", str(work), self.url),
            )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + STARTUP
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a Spark process ended ({process.returncode}): {self.logs()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.ui}/json/", timeout=2) as reply:
                    if json.load(reply).get("aliveworkers", 0) >= WORKERS:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the Spark cluster did not come up in {STARTUP:.0f} s: {self.logs()}")

    def logs(self) -> str:
        return " | ".join(p.read_text(errors="replace")[-600:] for p in sorted(self.folder.glob("*.log")))

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A running standalone cluster: `.url` is its master URL."""
    need(shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME")), "Java (for Spark)")
    home = spark_home()
    need(home is not None, "pyspark (the spark extra)")
    assert home is not None
    cluster = Cluster(home, tmp_path_factory.mktemp("spark"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
