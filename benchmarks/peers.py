"""Third-party rule/expression engines to benchmark ppdsl against.

Every peer evaluates the same condition over a flat visitor dict
(a missing key counts as 0):

    event_count_2 > 8 and event_count_3 > 8

Each callable is built once (rule parsed/compiled up front); a call only
evaluates. What each peer is asked to do (see also ``describe()``):

| peer (PyPI)                | per call                                       | rule given to the engine                                 |
|----------------------------|------------------------------------------------|----------------------------------------------------------|
| zen-engine                 | zen.compile_expression(s).evaluate(v)          | (event_count_2 ?? 0) > 8 and (event_count_3 ?? 0) > 8    |
| rule-engine                | rule_engine.Rule(s, ctx).matches(v)            | event_count_2 > 8 and event_count_3 > 8; default_value=0 |
| panzi-json-logic           | json_logic.jsonLogic(logic, v)                 | {"and": [{">": [{"var": ["event_count_2", 0]}, 8]}, ..]} |
| common-expression-language | cel.compile(s).execute({**zeros, **v})         | event_count_2 > 8 && event_count_3 > 8                   |
| business-rules             | run_all([rule], Variables(v), actions, True)   | {"all": [{name, "greater_than", 8} x 2]}, no actions     |

Install the peers with ``pip install -r benchmarks/requirements-peers.txt``;
any peer that is missing or fails to build is skipped with a reason.

Self-check: ``python benchmarks/peers.py [--time]``.
"""

from __future__ import annotations

import importlib.metadata
import sys
import timeit
from collections.abc import Callable
from functools import partial
from typing import Any

Visitor = dict[str, Any]
Predicate = Callable[[Visitor], bool]

CONDITION = "event_count_2 > 8 and event_count_3 > 8"
KEYS = ("event_count_2", "event_count_3")

# The exact rule handed to each engine.
ZEN_EXPR = "(event_count_2 ?? 0) > 8 and (event_count_3 ?? 0) > 8"
RULE_ENGINE_EXPR = CONDITION
JSON_LOGIC_RULE: dict[str, Any] = {"and": [{">": [{"var": [k, 0]}, 8]} for k in KEYS]}
CEL_EXPR = "event_count_2 > 8 && event_count_3 > 8"
BUSINESS_RULE: dict[str, Any] = {
    "conditions": {"all": [{"name": k, "operator": "greater_than", "value": 8} for k in KEYS]},
    "actions": [],
}


def _zen() -> Predicate:
    import zen

    # A missing key is null, and `null > 8` raises in zen, so the
    # default is written in the expression itself with `??`.
    return zen.compile_expression(ZEN_EXPR).evaluate


def _rule_engine() -> Predicate:
    import rule_engine

    # default_value makes unknown symbols resolve to 0 instead of raising.
    ctx = rule_engine.Context(default_value=0)
    return rule_engine.Rule(RULE_ENGINE_EXPR, context=ctx).matches


def _json_logic() -> Predicate:
    from json_logic import jsonLogic

    # {"var": [key, 0]} supplies the default; the rule is plain data, and
    # jsonLogic interprets it on every call (there is no compile step).
    rule = JSON_LOGIC_RULE
    return lambda visitor: jsonLogic(rule, visitor)


def _cel() -> Predicate:
    import cel

    program = cel.compile(CEL_EXPR)
    # CEL raises on an undeclared top-level name and has no default for it
    # (has() works only on map fields, and is ~2.5x slower here), so the
    # callable pre-fills zeros; the whole visitor dict is still passed.
    zeros = dict.fromkeys(KEYS, 0)
    return lambda visitor: program.execute({**zeros, **visitor})


def _business_rules() -> Predicate:
    from business_rules import run_all
    from business_rules.actions import BaseActions
    from business_rules.variables import BaseVariables, numeric_rule_variable

    class Variables(BaseVariables):
        # The library reads facts through methods of a per-object class;
        # the defaults live here, as a user of the library would write them.
        def __init__(self, visitor: Visitor) -> None:
            self.visitor = visitor

        @numeric_rule_variable
        def event_count_2(self) -> int:
            return self.visitor.get("event_count_2", 0)

        @numeric_rule_variable
        def event_count_3(self) -> int:
            return self.visitor.get("event_count_3", 0)

    actions = BaseActions()  # the rule has no actions: we only want the match
    rules = [BUSINESS_RULE]
    return lambda visitor: run_all(rules, Variables(visitor), actions, True)


# peer name -> (PyPI distribution, factory)
FACTORIES: dict[str, tuple[str, Callable[[], Predicate]]] = {
    "zen-engine": ("zen-engine", _zen),
    "rule-engine": ("rule-engine", _rule_engine),
    "json-logic": ("panzi-json-logic", _json_logic),
    "cel": ("common-expression-language", _cel),
    "business-rules": ("business-rules", _business_rules),
}

_DESCRIPTIONS: dict[str, str] = {
    "zen-engine": f"zen.compile_expression({ZEN_EXPR!r}).evaluate(visitor)",
    "rule-engine": f"rule_engine.Rule({RULE_ENGINE_EXPR!r}, context=Context(default_value=0)).matches(visitor)",
    "json-logic": f"json_logic.jsonLogic({JSON_LOGIC_RULE!r}, visitor)",
    "cel": f"cel.compile({CEL_EXPR!r}).execute({{**zeros, **visitor}})",
    "business-rules": f"business_rules.run_all([{BUSINESS_RULE!r}], "
    "Variables(visitor), BaseActions(), stop_on_first_trigger=True)",
}


def describe() -> dict[str, str]:
    """Peer name -> exactly what that peer is asked to evaluate, per call."""
    return dict(_DESCRIPTIONS)


def versions() -> dict[str, str | None]:
    """Peer name -> installed distribution version (None if not installed)."""
    out: dict[str, str | None] = {}
    for name, (dist, _) in FACTORIES.items():
        try:
            out[name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def build_peers(skipped: dict[str, str] | None = None) -> dict[str, Predicate]:
    """Build every available peer once. Peers that are not installed or fail
    to import/compile are left out; pass a dict as ``skipped`` to receive
    ``{name: reason}`` for them."""
    peers: dict[str, Predicate] = {}
    for name, (dist, factory) in FACTORIES.items():
        try:
            # Check the distribution first: other packages also ship a
            # `json_logic` module, and we want the one named here.
            importlib.metadata.version(dist)
            peers[name] = factory()
        except importlib.metadata.PackageNotFoundError:
            if skipped is not None:
                skipped[name] = f"{dist} is not installed"
        except Exception as exc:  # noqa: BLE001 - optional peer: record, go on
            if skipped is not None:
                first_line = (str(exc).splitlines() or [""])[0]
                skipped[name] = f"{dist}: {type(exc).__name__}: {first_line}"
    return peers


# (visitor, expected) pairs every peer must agree on.
CASES: list[tuple[Visitor, bool]] = [
    ({"event_count_2": 9, "event_count_3": 12, "user_fullname": "Li Lei"}, True),
    ({"event_count_2": 9, "event_count_3": 3}, False),
    ({}, False),
]


def _main(argv: list[str]) -> int:
    calls = 20_000  # calls per timing repeat
    skipped: dict[str, str] = {}
    peers = build_peers(skipped)
    vers = versions()
    failed = 0
    for name, fn in peers.items():
        try:
            for visitor, expected in CASES:
                got = fn(visitor)
                if got is not expected:
                    raise AssertionError(f"{visitor!r}: got {got!r}")
            status = "ok"
        except Exception as exc:  # noqa: BLE001 - report any failure
            failed += 1
            status = f"FAIL {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
        line = f"{name:15} {vers[name] or '-':10} {status}"
        if "--time" in argv and status == "ok":
            best = min(timeit.repeat(partial(fn, CASES[0][0]), number=calls, repeat=3))
            line += f"  {best / calls * 1e6:6.2f} us/call"
        print(line)
    for name, reason in skipped.items():
        print(f"{name:15} {vers[name] or '-':10} SKIP {reason}")
    print(f"{len(peers) - failed} passed, {failed} failed, {len(skipped)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
