"""The README's examples work as written: every ppflow block checks clean, the
Python block runs, and the replay loop replays an example."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ppdsl

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


@pytest.mark.parametrize("text", blocks("ppflow"))
def test_every_ppflow_block_checks_clean(tmp_path, text):
    path = tmp_path / "readme.ppflow"
    path.write_text(text, encoding="utf-8")
    assert [d.code for d in ppdsl.check_file(path)] == []


def python_block(marker: str) -> str:
    (code,) = [b for b in blocks("python") if marker in b]
    return code


def test_the_python_block_runs(monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(python_block("ppdsl.load("), "README.md", "exec"), namespace)
    assert namespace["result"]["actions"][0]["agent"] == "agent_a"


def test_the_visitor_filter_block_runs():
    namespace: dict = {}
    exec(compile(python_block("compile_filter("), "README.md", "exec"), namespace)
    assert namespace["selected"] == ["li"]
    assert namespace["f"].plan.startswith("pushed down to SQLite")


def test_the_replay_loop_replays_an_example(tmp_path):
    (loop,) = [b for b in blocks("sh") if "while read -r event" in b]
    script = loop.replace("/tmp/visitor.json", str(tmp_path / "visitor.json"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    events = json.loads((ROOT / "examples" / "lead_routing.events.json").read_text(encoding="utf-8"))
    assert done.stdout.count("statistics:") == len(events)
    assert '"event_count_2"' in (tmp_path / "visitor.json").read_text(encoding="utf-8")
