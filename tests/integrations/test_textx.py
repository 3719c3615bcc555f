"""`textx check` and `textx generate` through ppdsl's registration: the same
diagnostics as `ppdsl check`, from the same data, and the same modules."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TEXTX = Path(sys.executable).parent / "textx"
pytestmark = pytest.mark.skipif(not TEXTX.exists() and not shutil.which("textx"), reason="textx is not installed")


def textx(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    command = str(TEXTX) if TEXTX.exists() else "textx"
    return subprocess.run([command, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("content", [b"", b"# only a comment\n", b"\n\n"])
def test_check_an_empty_or_comment_only_file(tmp_path, content):
    (tmp_path / "e.ppflow").write_bytes(content)
    result = textx("check", "e.ppflow", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "OK" in result.stderr


def test_check_accepts_a_bom_and_shows_warnings(tmp_path):
    (tmp_path / "b.ppflow").write_bytes(b"\xef\xbb\xbfagent a\nagent b\non event 1 -> reply a\n")
    result = textx("check", "b.ppflow", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "b.ppflow:2:7: warning[W202]: agent 'b' is declared but never used" in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("agent a\non event 1 -> reply a “hi”\n".encode(), "q.ppflow:2:23: error[E002]: typographic quote “"),
        (b"agent a\xff\n", "q.ppflow:1:8: error[E004]: the file is not valid UTF-8 text: byte 0xff at offset 7"),
        (b"agent a\non event 1 -> reply b\n", "q.ppflow:2:21: error[E104]: unknown agent 'b'"),
    ],
)
def test_check_gives_ppdsls_diagnostics(tmp_path, content, expected):
    (tmp_path / "q.ppflow").write_bytes(content)
    result = textx("check", "q.ppflow", cwd=tmp_path)
    assert result.returncode == 1
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert "= help:" in result.stderr


@pytest.mark.parametrize("output", ["out", "out/"])
def test_generate_several_files_into_a_new_folder(tmp_path, output):
    for name in ("a", "b"):
        (tmp_path / f"{name}.ppflow").write_text("agent x\non event 1 -> reply x\n", encoding="utf-8")
    args = ["a.ppflow", "b.ppflow"] if output == "out" else ["a.ppflow"]
    result = textx("generate", *args, "--target", "python", "-o", output, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out").is_dir()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{a[0]}.py" for a in args)


def test_generate_an_empty_file(tmp_path):
    (tmp_path / "e.ppflow").write_text("", encoding="utf-8")
    result = textx("generate", "e.ppflow", "--target", "python", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "def handle" in (tmp_path / "e.py").read_text(encoding="utf-8")
