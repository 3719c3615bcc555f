"""Every example in examples/ is checked, replayed and compared.

An example NAME is a set of files in examples/:

- NAME.ppflow         the rules, commented like a real admin would;
- NAME.visitor.json   the visitor before the first event (PPMessage's flat variables);
- NAME.events.json    a list of `{"track_event": {...}}` payloads, replayed in order,
                      each one's updated visitor carried forward to the next;
- NAME.expected.json  the list of results (LANGUAGE.md section 7), one per event;
- NAME.fail.json      optional: agents and groups whose actions fail (the host says
                      so), as `ppdsl run --fail NAME` does, to walk `on failure` paths.

The expected files were checked by hand against LANGUAGE.md. `pytest --update`
rewrites them from the current in-process results: review the diff before keeping it.
"""

from __future__ import annotations

import copy
import os
import shutil
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

import ppdsl
from conftest import EXAMPLES

NAMES = sorted(p.name[: -len(".ppflow")] for p in EXAMPLES.glob("*.ppflow"))

# The compiled module, run by a bare interpreter: `python -I -S` has neither the
# project nor site-packages on its path, so only the standard library can load.
REPLAY_SCRIPT = r"""
import json, sys
folder, module, events_file, visitor_file, fail = sys.argv[1:6]
sys.path.insert(0, folder)
rules = __import__(module)
with open(events_file, encoding="utf-8") as f:
    events = json.load(f)
with open(visitor_file, encoding="utf-8") as f:
    visitor = json.load(f)
fail = set(json.loads(fail))

def effects(action):
    return action.get("agent") not in fail and action.get("group") not in fail

results = []
for payload in events:
    result = rules.handle(payload, visitor, effects if fail else None)
    results.append(result)
    visitor = result["visitor"]
outside = sorted({m.split(".")[0] for m in sys.modules} & {"ppdsl", "textx", "jinja2", "click", "arpeggio"})
print(json.dumps({"results": results, "outside": outside}, ensure_ascii=False))
"""


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def files(name: str) -> dict[str, Path]:
    return {
        kind: EXAMPLES / f"{name}{suffix}"
        for kind, suffix in (
            ("flow", ".ppflow"),
            ("visitor", ".visitor.json"),
            ("events", ".events.json"),
            ("expected", ".expected.json"),
            ("fail", ".fail.json"),
        )
    }


def fail_names(name: str) -> list[str]:
    path = files(name)["fail"]
    return read_json(path) if path.exists() else []


def effects_for(names: list[str]):
    if not names:
        return None

    def effects(action: dict) -> bool:
        return action.get("agent") not in names and action.get("group") not in names

    return effects


@cache
def _replay(name: str) -> str:
    f = files(name)
    rules = ppdsl.load(f["flow"])
    visitor = read_json(f["visitor"])
    effects = effects_for(fail_names(name))
    results = []
    for payload in read_json(f["events"]):
        before = copy.deepcopy(visitor)
        result = rules.handle(payload, visitor, effects)
        assert visitor == before, "handle() must not modify the visitor it is given"
        results.append(result)
        visitor = result["visitor"]
    text = json.dumps(results, ensure_ascii=False, indent=2) + "\n"
    assert json.loads(text) == results, "results must be plain JSON values"
    return text


def replay(name: str) -> list[dict]:
    """In-process results of the example's events, in order (a fresh copy)."""
    return json.loads(_replay(name))


def test_the_examples_are_complete():
    assert {"lead_routing", "oneliner"} <= set(NAMES)
    assert len(NAMES) >= 5
    for name in NAMES:
        f = files(name)
        for kind in ("visitor", "events", "expected"):
            assert f[kind].exists(), f"{f[kind].name} is missing (run pytest --update to create it)"
        assert isinstance(read_json(f["visitor"]), dict)
        events = read_json(f["events"])
        assert 3 <= len(events) <= 6, f"{name}: 3 to 6 events"
        for payload in events:
            assert list(payload) == ["track_event"], payload
            ts = payload["track_event"]["event_timestamp"]
            assert 1795000000 <= ts <= 1796500000, f"{name}: timestamps around 2026-11-25, got {ts}"
        names = fail_names(name)
        assert isinstance(names, list) and all(isinstance(n, str) for n in names)


@pytest.mark.parametrize("name", NAMES)
def test_example_checks_clean(name, cli):
    path = files(name)["flow"]
    done = cli("check", path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error" not in done.stdout + done.stderr
    assert "warning" not in done.stdout + done.stderr
    assert done.stdout.strip().endswith(")") and ": ok (" in done.stdout, done.stdout


@pytest.mark.parametrize("name", NAMES)
def test_example_replay_matches_expected(name, update):
    expected_file = files(name)["expected"]
    text = _replay(name)
    if update:
        expected_file.write_text(text, encoding="utf-8")
        return
    assert expected_file.exists(), f"{expected_file.name} is missing: run pytest --update, then review it"
    expected = read_json(expected_file)
    got = json.loads(text)
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected, strict=False), 1):
        assert g == e, f"{name}: event {i} differs"


@pytest.mark.parametrize("name", NAMES)
def test_compiled_module_and_cli_agree_with_load(name, cli, tmp_path):
    f = files(name)
    in_process = replay(name)
    fail = fail_names(name)

    # 1. ppdsl compile, then the module alone under a bare interpreter
    module = f"{name}_rules"
    out = tmp_path / f"{module}.py"
    done = cli("compile", f["flow"], "-o", out)
    assert done.returncode == 0, done.stderr
    code = out.read_text(encoding="utf-8")
    for line in f["flow"].read_text(encoding="utf-8").splitlines():
        comment = line.partition("#")[2].strip()
        if len(comment) >= 12 and '"' not in line.partition("#")[0]:
            assert comment not in code, "the compiled module must not echo source comments"
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            REPLAY_SCRIPT,
            str(tmp_path),
            module,
            str(f["events"]),
            str(f["visitor"]),
            json.dumps(fail),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        encoding="utf-8",
    )
    assert done.returncode == 0, done.stderr
    compiled = json.loads(done.stdout)
    assert compiled["outside"] == [], "the compiled module must import only the standard library"
    assert compiled["results"] == in_process

    # 2. ppdsl run, event by event, saving the visitor in a copy of its file
    visitor_file = tmp_path / "visitor.json"
    visitor_file.write_text(f["visitor"].read_text(encoding="utf-8"), encoding="utf-8")
    fail_args = [arg for n in fail for arg in ("--fail", n)]
    by_cli = []
    for i, payload in enumerate(read_json(f["events"]), 1):
        event_file = tmp_path / f"event{i}.json"
        event_file.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        done = cli(
            "run", f["flow"], "--event", f"@{event_file}", "--visitor", visitor_file, "--save", "--json", *fail_args
        )
        assert done.returncode == 0, f"event {i}: {done.stderr}"
        assert done.stderr == "", done.stderr
        by_cli.append(json.loads(done.stdout))
        assert read_json(visitor_file) == by_cli[-1]["visitor"], f"event {i}: --save wrote another visitor"
    assert by_cli == in_process


# ----------------------------------------------------------------- compiled modules on older Pythons

MODULE_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")  # services vendor modules into older Pythons


def _find_python(version: str) -> str | None:
    """An interpreter for `version`: one under pyenv's root, or pythonX.Y on the PATH (not a pyenv shim)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(root.glob(f"{version}.*/bin/python"), key=lambda p: p.parent.parent.name)
    if candidates:
        return str(candidates[-1])
    found = shutil.which(f"python{version}")
    return found if found and "shims" not in Path(found).parts else None


@pytest.mark.parametrize("version", MODULE_PYTHONS)
def test_compiled_modules_give_the_same_results_on_every_supported_python(version, cli, tmp_path):
    python = _find_python(version)
    if python is None:
        assert not os.environ.get("CI"), f"CI runs compiled modules on Python {version}, and it is not installed"
        pytest.skip(f"no Python {version} here")
    for name in NAMES:
        f = files(name)
        module = f"{name}_rules"
        assert cli("compile", f["flow"], "-o", tmp_path / f"{module}.py").returncode == 0
        args = [str(tmp_path), module, str(f["events"]), str(f["visitor"]), json.dumps(fail_names(name))]
        done = subprocess.run(
            [python, "-I", "-S", "-c", REPLAY_SCRIPT, *args],
            capture_output=True,
            text=True,
            timeout=60,
            encoding="utf-8",
        )
        assert done.returncode == 0, f"{name} on Python {version}: {done.stderr}"
        assert json.loads(done.stdout)["results"] == replay(name), f"{name} differs on Python {version}"
