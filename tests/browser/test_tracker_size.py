"""ppmatc.js stays under 5 KB once minified by terser (from npm, installed by
.ci/run into .tools/npm, which git ignores), and the minified file is still
valid JavaScript."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from browser.stub import STATIC
from conftest import ROOT, need

pytestmark = pytest.mark.browser

TERSER = ROOT / ".tools" / "npm" / "node_modules" / ".bin" / "terser"
INSTALL = "npm install --prefix .tools/npm --no-save --no-audit --no-fund terser@5"


def test_the_tracker_is_under_5_kb_minified(tmp_path: Path):
    need(TERSER.exists(), f"terser (run `{INSTALL}` in the checkout)")
    minified = tmp_path / "ppmatc.min.js"
    subprocess.run([str(TERSER), str(STATIC / "ppmatc.js"), "--compress", "--mangle", "-o", str(minified)], check=True)
    assert 1000 < minified.stat().st_size < 5 * 1024
    subprocess.run(["node", "--check", str(minified)], check=True)
