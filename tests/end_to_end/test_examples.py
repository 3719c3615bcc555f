"""Every example in examples/ is checked, replayed and compared.

An example NAME is a set of files in examples/:

- NAME.ppflow         the rules, commented like a real admin would;
- NAME.test.json      its `ppdsl test` cases (README, `ppdsl test`). The first case is
                      the example's replay: the visitor before the first event
                      (PPMessage's flat variables) and 3 to 6 `{"track_event": {...}}`
                      payloads, each event on the visitor the one before left, each
                      with `fail` (agents and groups whose actions fail, as `ppdsl run
                      --fail`) when the example walks `on failure` paths, and with exact
                      expectations: the result's event, every action and failed
                      action, and the visitor keys the event changed. Later cases show
                      the loose matchers; `ppdsl test examples/` runs them all;
- NAME.visitor.json   the first case's visitor, for `ppdsl run --visitor`
                      (lead_routing.events.json, the first case's events, is the README's).

The replay's expectations were checked by hand against docs/language.md.
`pytest --update` rewrites them from the current in-process results (the other
cases are kept): review the diff before keeping it.
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
# The replay file holds {"visitor": {...}, "events": [payload, ...], "fail": [[name, ...], ...]}.
REPLAY_SCRIPT = r"""
import json, sys
folder, module, replay_file = sys.argv[1:4]
sys.path.insert(0, folder)
rules = __import__(module)
with open(replay_file, encoding="utf-8") as f:
    replay = json.load(f)
visitor = replay["visitor"]

def effects_for(fail):
    return (lambda action: action.get("agent") not in fail and action.get("group") not in fail) if fail else None

results = []
for payload, fail in zip(replay["events"], replay["fail"]):
    result = rules.handle(payload, visitor, effects_for(set(fail)))
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
        for kind, suffix in (("flow", ".ppflow"), ("test", ".test.json"), ("visitor", ".visitor.json"))
    }


def replay_case(name: str) -> dict:
    """The first case of the example's test file: its replay."""
    return read_json(files(name)["test"])["cases"][0]


def replay_input(name: str) -> dict:
    case = replay_case(name)
    return {
        "visitor": case.get("visitor", {}),
        "events": [step["event"] for step in case["events"]],
        "fail": [step.get("fail", []) for step in case["events"]],
    }


def effects_for(names: list[str]):
    if not names:
        return None

    def effects(action: dict) -> bool:
        return action.get("agent") not in names and action.get("group") not in names

    return effects


@cache
def _replay(name: str) -> str:
    given = replay_input(name)
    rules = ppdsl.load(files(name)["flow"])
    visitor = given["visitor"]
    results = []
    for payload, fail in zip(given["events"], given["fail"], strict=True):
        before = copy.deepcopy(visitor)
        result = rules.handle(payload, visitor, effects_for(fail))
        assert visitor == before, "handle() must not modify the visitor it is given"
        results.append(result)
        visitor = result["visitor"]
    text = json.dumps(results, ensure_ascii=False, indent=2) + "\n"
    assert json.loads(text) == results, "results must be plain JSON values"
    return text


def replay(name: str) -> list[dict]:
    """In-process results of the example's events, in order (a fresh copy)."""
    return json.loads(_replay(name))


def _exactly(a, b) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def expectations(results: list[dict], visitor: dict) -> list[dict]:
    """Exact `expect` objects for a replay's results: the event, every action and
    failed action, and the visitor keys each event added or changed."""
    out = []
    before = visitor
    for result in results:
        after = result["visitor"]
        assert set(before) <= set(after), "an event never removes a visitor key"
        changed = {k: v for k, v in after.items() if k not in before or not _exactly(before[k], v)}
        out.append(
            {"event": result["event"], "actions": result["actions"], "failed": result["failed"], "visitor": changed}
        )
        before = after
    return out


def expected_results(case: dict) -> list[dict]:
    """The full results a replay case's exact expectations stand for."""
    visitor = case.get("visitor", {})
    out = []
    for step in case["events"]:
        expect = step["expect"]
        visitor = {**visitor, **expect["visitor"]}
        out.append(
            {"event": expect["event"], "actions": expect["actions"], "failed": expect["failed"], "visitor": visitor}
        )
    return out


def _plain(value) -> bool:
    """No matcher anywhere: the replay's expectations are exact."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("contains", "matches", "absent", "equals"):
            return False
        return all(_plain(v) for v in value.values())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return True


def dumps_test_file(data: dict) -> str:
    """A test file as the examples keep it: JSON indented by 2, with whatever fits
    in 120 columns on one line."""
    return _dumps(data, 0) + "\n"


def _dumps(value, indent: int) -> str:
    compact = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if len(compact) + indent <= 120 or not isinstance(value, (dict, list)) or not value:
        return compact
    pad = " " * (indent + 2)
    if isinstance(value, list):
        items = [pad + _dumps(v, indent + 2) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {_dumps(v, indent + 2)}" for k, v in value.items()]
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"


def test_the_examples_are_complete():
    assert {"lead_routing", "oneliner"} <= set(NAMES)
    assert len(NAMES) >= 5
    for name in NAMES:
        f = files(name)
        for kind in ("test", "visitor"):
            assert f[kind].exists(), f"{f[kind].name} is missing"
        data = read_json(f["test"])
        assert data["flow"] == f["flow"].name
        case = data["cases"][0]
        assert case["visitor"] == read_json(f["visitor"]), f"{name}: the replay starts from NAME.visitor.json"
        events = replay_input(name)["events"]
        assert 3 <= len(events) <= 6, f"{name}: 3 to 6 events"
        for payload in events:
            assert list(payload) == ["track_event"], payload
            ts = payload["track_event"]["event_timestamp"]
            assert 1795000000 <= ts <= 1796500000, f"{name}: timestamps around 2026-11-25, got {ts}"
        for fail in replay_input(name)["fail"]:
            assert isinstance(fail, list) and all(isinstance(n, str) for n in fail)
        for step in case["events"]:
            assert set(step["expect"]) == {"event", "actions", "failed", "visitor"}, f"{name}: exact expectations"
            assert _plain(step["expect"]), f"{name}: the replay's expectations are exact values"
    # the README plays lead_routing.events.json through `ppdsl run --save`
    assert read_json(EXAMPLES / "lead_routing.events.json") == replay_input("lead_routing")["events"]


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
    test_file = files(name)["test"]
    got = replay(name)
    if update:
        data = read_json(test_file)
        case = data["cases"][0]
        for step, expect in zip(case["events"], expectations(got, case.get("visitor", {})), strict=True):
            step["expect"] = expect
        test_file.write_text(dumps_test_file(data), encoding="utf-8")
        return
    expected = expected_results(replay_case(name))
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected, strict=False), 1):
        assert g == e, f"{name}: event {i} differs"


def test_ppdsl_test_passes_every_example_case(cli):
    done = cli("test", EXAMPLES)
    assert done.returncode == 0, done.stdout + done.stderr
    cases = sum(len(read_json(test)["cases"]) for test in EXAMPLES.rglob("*.test.json"))  # what-if/ too
    assert done.stdout.splitlines()[-1] == f"{cases} passed, 0 failed"
    assert done.stdout.count("\nPASS ") == cases and "FAIL" not in done.stdout


@pytest.mark.parametrize("name", NAMES)
def test_compiled_module_and_cli_agree_with_load(name, cli, tmp_path):
    f = files(name)
    in_process = replay(name)
    given = replay_input(name)
    replay_file = tmp_path / "replay.json"
    replay_file.write_text(json.dumps(given, ensure_ascii=False), encoding="utf-8")

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
        [sys.executable, "-I", "-S", "-c", REPLAY_SCRIPT, str(tmp_path), module, str(replay_file)],
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
    visitor_file.write_text(json.dumps(given["visitor"], ensure_ascii=False), encoding="utf-8")
    by_cli = []
    for i, (payload, fail) in enumerate(zip(given["events"], given["fail"], strict=True), 1):
        event_file = tmp_path / f"event{i}.json"
        event_file.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        fail_args = [arg for n in fail for arg in ("--fail", n)]
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
        replay_file = tmp_path / f"{name}.replay.json"
        replay_file.write_text(json.dumps(replay_input(name), ensure_ascii=False), encoding="utf-8")
        args = [str(tmp_path), module, str(replay_file)]
        done = subprocess.run(
            [python, "-I", "-S", "-c", REPLAY_SCRIPT, *args],
            capture_output=True,
            text=True,
            timeout=60,
            encoding="utf-8",
        )
        assert done.returncode == 0, f"{name} on Python {version}: {done.stderr}"
        assert json.loads(done.stdout)["results"] == replay(name), f"{name} differs on Python {version}"
