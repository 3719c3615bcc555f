"""Wide programs: thousands of `elif` arms, `case`s or template parts. CPython
nests an elif chain (and a chain of `+`) in its AST and stops compiling near
3,000 levels, so the generator writes long chains as flat runs of arms and
long templates as one join; the module must compile and answer as before."""

from __future__ import annotations

import types

import pytest

from ppdsl.build.pipeline import compile_source
from ppdsl.codegen.linemap import line_map
from ppdsl.codegen.python import CHAIN, JOIN

T0 = 1795593600
WIDE = 10_000


def module(source: str) -> tuple[str, types.ModuleType]:
    result = compile_source(source, "wide.ppflow")
    assert result.code is not None, [d.message for d in result.diagnostics][:3]
    mod = types.ModuleType("ppdsl_wide")
    exec(compile(result.code, "<wide>", "exec"), mod.__dict__)
    return result.code, mod


def replies(rules: types.ModuleType, x: object) -> list:
    result = rules.handle({"event_seq": 1, "event_timestamp": T0, "event_data": {"x": x}})
    return [a["text"] for a in result["actions"]]


def elif_program(n: int) -> str:
    arms = "".join(f'  elif data.x == {i} reply a "{i}"\n' for i in range(1, n))
    return (
        f'agent a\non event 1 -> {{\n  if data.x == 0 reply a "0"\n{arms}  else reply a "none"\n  reply a "after"\n}}\n'
    )


def switch_program(n: int) -> str:
    cases = "".join(f'  case {i} -> reply a "{i}"\n' for i in range(n))
    return (
        f'agent a\non event 1 -> {{\n switch data.x {{\n{cases}  default -> reply a "none"\n }}\n reply a "after"\n}}\n'
    )


def template_program(n: int) -> str:
    return 'agent a\non event 1 -> reply a "' + "-{{ data.x }}" * n + '"\n'


def test_ten_thousand_elif_arms():
    code, rules = module(elif_program(WIDE))
    for x in (0, 1, CHAIN - 1, CHAIN, CHAIN + 1, 5_000, WIDE - 1):
        assert replies(rules, x) == [str(x), "after"]
    assert replies(rules, WIDE) == ["none", "after"]
    arms = [o for o in line_map(code) if o.kind in ("if", "elif")]
    assert [o.source_line for o in arms] == list(range(3, 3 + WIDE))


def test_ten_thousand_cases():
    code, rules = module(switch_program(WIDE))
    for x in (0, CHAIN, 7_777, WIDE - 1):
        assert replies(rules, x) == [str(x), "after"]
    assert replies(rules, "0") == ["none", "after"]
    assert [o.source_line for o in line_map(code) if o.kind == "case"] == list(range(4, 4 + WIDE))


def test_ten_thousand_template_parts():
    _, rules = module(template_program(WIDE))
    assert replies(rules, 7) == ["-7" * WIDE]


@pytest.mark.parametrize("n", [1, 2, CHAIN - 1, CHAIN, CHAIN + 1, 2 * CHAIN, 2 * CHAIN + 1, 3 * CHAIN + 5])
def test_chains_around_the_run_length(n):
    _, rules = module(elif_program(n))
    for x in range(n + 1):
        assert replies(rules, x) == [str(x) if x < n else "none", "after"]
    _, rules = module(switch_program(n))
    for x in range(n + 1):
        assert replies(rules, x) == [str(x) if x < n else "none", "after"]


@pytest.mark.parametrize("n", [0, 1, JOIN, JOIN + 1])
def test_templates_around_the_join_length(n):
    _, rules = module(template_program(n) if n else 'agent a\non event 1 -> reply a ""\n')
    assert replies(rules, "x") == ["-x" * n]


def test_nested_long_chains():
    """Chains inside chains: each level adds at most CHAIN to CPython's nesting."""
    levels, arms = 24, 100
    body = 'reply a "deep"'
    for _ in range(levels):
        chain = ['if data.x == 0 reply a "0"'] + [f'elif data.x == {i} reply a "{i}"' for i in range(1, arms - 1)]
        body = "\n".join([*chain, f"elif data.x == {arms - 1} {{\n{body}\n}}"])
    _, rules = module("agent a\non event 1 -> {\n" + body + "\n}\n")
    assert replies(rules, arms - 1) == ["deep"]
    assert replies(rules, 5) == ["5"]
