"""`ppdsl run`'s two front doors, the click command and the import-light fast
path: one option table, the same answers, and no click on a cached run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import EXAMPLES, ppdsl_command
from ppdsl.cli.fast_run import parse
from ppdsl.cli.run_options import RUN_OPTIONS

LEAD = EXAMPLES / "lead_routing.ppflow"
VISITOR = EXAMPLES / "lead_routing.visitor.json"
HEAVY = ("textx", "jinja2", "arpeggio", "click", "ppdsl.lang.check", "ppdsl.codegen")


def imported_modules(stderr: str) -> set[str]:
    """The modules that -X importtime reports: 'import time: self | cumulative | name'."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_a_cached_run_imports_neither_the_compiler_nor_click(tmp_path):
    env = {**os.environ, "PPDSL_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPROFILEIMPORTTIME": "1"}
    argv = [*ppdsl_command(), "run", str(LEAD), "--event", "view_pricing", "--at", "1795593600", "--json"]
    first, second = (subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120) for _ in range(2))
    assert first.returncode == second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == json.loads(first.stdout)
    assert "textx" in imported_modules(first.stderr)  # the probe sees a compile
    seen = imported_modules(second.stderr)
    assert "ppdsl.engine.one_event" in seen
    assert sorted(m for m in seen if m.startswith(HEAVY)) == []


def test_a_cached_run_prints_the_file_warnings_and_stays_light(tmp_path):
    flow = tmp_path / "warned.ppflow"
    flow.write_text('agent a\nagent unused\non event 1 -> reply a "hi"\n', encoding="utf-8")
    env = {**os.environ, "PPDSL_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPROFILEIMPORTTIME": "1"}
    argv = [*ppdsl_command(), "run", str(flow), "--event", "1", "--json"]
    first, second = (subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120) for _ in range(2))
    assert first.returncode == second.returncode == 0
    warning = f"{flow}:2:7: warning[W202]: agent 'unused' is declared but never used"
    assert warning in first.stderr and warning in second.stderr
    assert sorted(m for m in imported_modules(second.stderr) if m.startswith(HEAVY)) == []


def test_the_help_shows_every_option_of_the_table(cli):
    text = " ".join(cli("run", "--help").stdout.split())
    for option in RUN_OPTIONS:
        assert ", ".join(option.names) in text
        assert " ".join(option.help.split()) in text


def test_the_fast_path_parses_every_option_of_the_table():
    args = [str(LEAD), "-e", "click", "--visitor", str(VISITOR), "--save", "--at=1795593600"]
    args += ["--fail", "a", "--fail=b", "--json", "-q"]
    assert parse(args) == (
        str(LEAD),
        {
            "spec": "click",
            "visitor": str(VISITOR),
            "save": True,
            "at": "1795593600",
            "fail": ("a", "b"),
            "as_json": True,
            "quiet": True,
        },
    )
    assert parse([str(LEAD), "--event", "click"]) == (
        str(LEAD),
        {"spec": "click", "visitor": None, "save": False, "at": None, "fail": (), "as_json": False, "quiet": False},
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--event", "click"],  # no FILE
        ["FILE"],  # no --event
        ["FILE", "--event"],
        ["FILE", "--event", "1", "--event", "2"],
        ["FILE", "--event", "1", "--json=yes"],
        ["FILE", "--event", "1", "-x"],
        ["FILE", "-e=1"],
        ["FILE", "FILE", "--event", "1"],
        ["FILE", "--event", "1", "--visitor", "missing.json"],
        ["missing.ppflow", "--event", "1"],
    ],
)
def test_the_fast_path_leaves_to_click_what_is_not_a_plain_call(args):
    assert parse([str(LEAD) if a == "FILE" else a for a in args]) is None


CLICK_ONLY = "import sys; sys.argv[0] = 'ppdsl'; from ppdsl.cli.app import main; main(prog_name='ppdsl')"


@pytest.mark.parametrize(
    "args",
    [
        ["--event", "view_pricing", "--at", "1795593600", "--visitor", str(VISITOR)],
        ["--event=2", "--at", "2026-11-25T08:00:00Z", "--fail", "agent_a", "--fail", "nobody", "--json"],
        ["-e", "nope", "--at", "1795593600"],
        ["--event", "{bad"],
        ["--event", "click", "--at", "-5"],
        ["--event", "click", "--save"],
        ["--event", "click", "--visitor", "/dev/null", "--save"],
        ["--event", "click", "--event", "signup"],
        ["--event", '{"event_name": "click", "event_timestamp": 1795593600}', "--at", "1795593600", "--json"],
        ["--event", "click", "--at=-5", "-q", "--fail", "nobody"],
        ["--event", "click", "--at", "1795593600", "--fail", "ticket", "--fail", "any", "--fail", "nobody"],
    ],
)
def test_the_fast_path_and_click_give_the_same_answer(tmp_path, args):
    env = {**os.environ, "PPDSL_CACHE_DIR": str(tmp_path), "PYTHONIOENCODING": "utf-8"}
    # cwd: `python -c` imports from the working directory first, and the checkout is not the installed ppdsl
    options = {"capture_output": True, "text": True, "env": env, "cwd": tmp_path, "timeout": 120}
    fast, slow = (
        subprocess.run([*front, "run", str(LEAD), *args], **options)
        for front in (ppdsl_command(), [sys.executable, "-c", CLICK_ONLY])
    )
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr)
