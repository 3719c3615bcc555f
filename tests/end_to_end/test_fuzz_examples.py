"""A small seeded fuzz over the examples: token-level mutations of every
examples/*.ppflow must compile to diagnostics or to valid code that keeps
user text inside string literals and handles events without a traceback."""

from __future__ import annotations

import random
import re

from conftest import EXAMPLES
from hostile import T0, assert_contained, module
from ppdsl.build.pipeline import compile_source


FUZZ_WORDS = [
    "event",
    "agent",
    "group",
    "field",
    "segment",
    "flow",
    "on",
    "any",
    "if",
    "elif",
    "else",
    "switch",
    "case",
    "default",
    "reply",
    "assign",
    "set",
    "let",
    "convert",
    "ticket",
    "end",
    "failure",
    "and",
    "or",
    "not",
    "in",
    "true",
    "null",
    "count",
    "data",
    "now",
    "priority",
    "inactive",
    "uuid",
]


FUZZ_PUNCT = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    "->",
    "=",
    "==",
    "!=",
    "<",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    ".",
    "!",
    "&&",
    "||",
    "#",
    '"',
    "'",
    "\\",
    "{{",
    "}}",
    '"{{ x }}"',
    "*",
    "1",
    "0",
    "99999999999",
    "1.5",
    "10m",
    '"\\u0000"',
    '"\\q"',
    "\u201c",
    "\x00",
    "\r",
    "\n",
    "é",
    "\ufeff",
]


TOKEN_RE = re.compile(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|#[^\n]*|[A-Za-z_0-9]+|->|[=!<>]=|&&|\|\||\s+|.")


def mutate(source: str, rng: random.Random) -> str:
    toks = TOKEN_RE.findall(source)
    for _ in range(rng.randint(1, 4)):
        if not toks:
            break
        i = rng.randrange(len(toks))
        op = rng.randrange(7)
        if op == 0:
            del toks[i]
        elif op == 1:
            toks.insert(i, toks[i])
        elif op == 2 and i + 1 < len(toks):
            toks[i], toks[i + 1] = toks[i + 1], toks[i]
        elif op == 3:
            toks.insert(i, " " + rng.choice(FUZZ_WORDS) + " ")
        elif op == 4:
            toks.insert(i, rng.choice(FUZZ_PUNCT))
        elif op == 5:
            toks = toks[:i]
        else:
            j = rng.randrange(len(toks))
            toks[i] = toks[j]
    return "".join(toks)


def test_fuzz_mutated_examples():
    sources = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.ppflow"))]
    assert sources
    rng = random.Random(20261125)
    compiled_ok = 0
    for n in range(300):
        original = sources[n % len(sources)]
        source = mutate(original, rng)
        try:
            result = compile_source(source, "fuzz.ppflow")
        except Exception as exc:  # pragma: no cover - the failure report
            raise AssertionError(f"compile_source raised {type(exc).__name__}: {exc}\n--- source:\n{source}") from exc
        for d in result.diagnostics:
            assert d.line >= 1 and d.col >= 1, (d, source)
        if result.code is None:
            assert any(d.is_error for d in result.diagnostics), source
            continue
        compiled_ok += 1
        try:
            rules = module(result.code)
        except Exception as exc:
            raise AssertionError(f"generated code failed: {type(exc).__name__}: {exc}\n--- source:\n{source}")
        assert_contained(result.code, marker="\x00PWN")
        for seq in (1, 2, 3):
            try:
                rules.handle(
                    {"event_seq": seq, "event_timestamp": T0, "event_data": {"plan": "pro"}},
                    {"user_fullname": "Li", "event_count_2": 9, "event_count_3": 9},
                )
            except ValueError:
                pass
    assert compiled_ok > 10, "the mutations should leave some programs valid"
