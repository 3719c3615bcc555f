"""Data-driven scenarios: tests/cases/scenarios/NAME.ppflow with NAME.scenario.json.

    {"visitor": {...},
     "steps": [{"event": PAYLOAD, "fail": ["agent_a"],
                "expect": {"actions": [...], "failed": [...], "visitor": {"key": value}}
                       or {"error": "substring of the rejection message"}}]}

The visitor is carried from step to step (a rejected step leaves it as it was).
`expect.visitor`, when given, lists keys whose values must match. `pytest --update`
rewrites the expect parts from the current results.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import ppdsl

SCENARIOS = Path(__file__).resolve().parents[1] / "cases" / "scenarios"
NAMES = sorted(p.name[: -len(".scenario.json")] for p in SCENARIOS.glob("*.scenario.json"))


def effects_for(names):
    if not names:
        return None
    names = set(names)
    return lambda action: action.get("agent") not in names and action.get("group") not in names


def test_there_are_scenarios():
    assert len(NAMES) >= 10
    for name in NAMES:
        assert (SCENARIOS / f"{name}.ppflow").is_file(), name


@pytest.mark.parametrize("name", NAMES)
def test_scenario(name, update):
    spec_path = SCENARIOS / f"{name}.scenario.json"
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    rules = ppdsl.load(SCENARIOS / f"{name}.ppflow", cache=False)
    visitor = copy.deepcopy(spec.get("visitor", {}))
    problems = []
    for number, step in enumerate(spec["steps"], 1):
        expect = step.get("expect", {})
        before = copy.deepcopy(visitor)
        try:
            result = rules.handle(step["event"], visitor, effects_for(step.get("fail")))
        except ValueError as exc:
            message = str(exc)
            if update:
                if not ("error" in expect and expect["error"] in message):
                    step["expect"] = {"error": message}
            elif "error" not in expect:
                problems.append(f"step {number}: rejected: {message}")
            elif expect["error"] not in message:
                problems.append(f"step {number}: message {message!r} lacks {expect['error']!r}")
            if visitor != before:
                problems.append(f"step {number}: a rejected event changed the visitor")
            continue
        if visitor != before:
            problems.append(f"step {number}: handle modified the visitor argument")
        got = {"actions": result["actions"], "failed": result["failed"]}
        if update:
            new = dict(got)
            if "visitor" in expect:
                new["visitor"] = {k: result["visitor"].get(k) for k in expect["visitor"]}
            step["expect"] = new
        else:
            if "error" in expect:
                problems.append(f"step {number}: expected a rejection ({expect['error']!r}), got {got}")
            else:
                for key in ("actions", "failed"):
                    if got[key] != expect.get(key, []):
                        problems.append(
                            f"step {number}: {key}\n  got      {json.dumps(got[key])}\n"
                            f"  expected {json.dumps(expect.get(key, []))}"
                        )
                for key, value in expect.get("visitor", {}).items():
                    if result["visitor"].get(key) != value:
                        problems.append(
                            f"step {number}: visitor[{key!r}] is {result['visitor'].get(key)!r}, expected {value!r}"
                        )
        visitor = result["visitor"]
    if update:
        spec_path.write_text(json.dumps(spec, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert not problems, f"{name}:\n" + "\n".join(problems)
