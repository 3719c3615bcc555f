"""Shared fixtures: the `ppdsl` command, a private compile cache, and the
`--update` flag that rewrites expected files when a change means to alter them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# the browser tests' fixtures (tests/browser/harness.py), the servers some tests start (tests/servers/)
pytest_plugins = ["browser.harness", "servers.netns", "servers.postgres", "servers.redis", "servers.spark"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CASES = Path(__file__).resolve().parent / "cases"


def need(present: bool, what: str) -> None:
    """A system tool some tests need (.ci/run installs it): missing in CI is a
    failure, missing on a developer's machine a skip that says what to install."""
    if not present:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing in CI (.ci/run installs it)")
        pytest.skip(f"{what} is not installed")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update", action="store_true", help="rewrite expected files from the current output")


@pytest.fixture
def update(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update"))


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["PPDSL_CACHE_DIR"] = str(tmp_path_factory.mktemp("ppdsl-cache"))


def ppdsl_command() -> list[str]:
    script = Path(sys.executable).parent / "ppdsl"
    if script.exists():
        return [str(script)]
    found = shutil.which("ppdsl")
    return [found] if found else [sys.executable, "-m", "ppdsl"]


@pytest.fixture
def cli():
    """Run the installed `ppdsl` command: cli("check", path) -> CompletedProcess."""

    def run(*args: object, cwd: Path | None = None, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*ppdsl_command(), *map(str, args)],
            capture_output=True,
            text=True,
            cwd=cwd,
            input=input,
            timeout=120,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )

    return run
