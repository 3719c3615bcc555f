"""The benchmark script keeps working (a smoke run; nothing here is timed)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_run_reports_every_section(tmp_path):
    out = tmp_path / "results.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--markdown", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    for section in ("Whole event", "Condition alone", "Compile time", "CLI latency"):
        assert section in proc.stdout
    assert "| ppdsl handle |" in out.read_text(encoding="utf-8")


def test_quick_visitors_benchmark_checks_both_paths_select_the_same(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "visitors.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    for line in ("Python", "pushed down", "pushed down, with its index"):
        assert f"  {line} " in proc.stdout


def test_quick_replay_benchmark_checks_its_baselines_and_reports_every_section(tmp_path):
    out = tmp_path / "replay.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "replay.py"), "--quick", "--markdown", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr  # it asserts that the replays end with the same states
    for section in ("Parsing alone", "replay loop", "into SQLite", "Peak memory"):
        assert section in proc.stdout
    assert "ppdsl replay: not available" in proc.stdout or "ppdsl replay (wall time" in proc.stdout
    text = out.read_text(encoding="utf-8")
    assert "| compiled handle, parsed before |" in text and "| careful SQLite |" in text
