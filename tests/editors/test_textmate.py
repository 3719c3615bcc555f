"""The TextMate grammar (editors/textmate) against the language: its keywords
are exactly grammar/ppflow.tx's and its function names exactly the prelude's,
so the two never drift apart. (The highlighting itself is tested against the
annotated samples in editors/textmate/tests/ by vscode-tmgrammar-test in CI.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ppdsl.lang.names import FUNCTIONS
from ppdsl.lang.syntax import KEYWORDS

GRAMMAR = Path(__file__).resolve().parents[2] / "editors" / "textmate" / "ppflow.tmLanguage.json"


def _patterns(node: object) -> list[dict]:
    """Every pattern object in the grammar, with its name."""
    if isinstance(node, dict):
        found = [node] if "match" in node else []
        return found + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for item in node for p in _patterns(item)]
    return []


def _words(pattern: str) -> set[str]:
    """The words of each \\b(a|b|c)\\b alternation in a regex."""
    return {w for group in re.findall(r"\\b\(([\w|]+)\)", pattern) for w in group.split("|")}


def test_the_keywords_are_the_grammars():
    grammar = json.loads(GRAMMAR.read_text(encoding="utf-8"))
    keywords = set()
    for p in _patterns(grammar["repository"]):
        name = p.get("name", "")
        if name.startswith(("keyword.", "constant.language.")):
            keywords |= _words(p["match"])
    assert keywords == KEYWORDS, {"missing": sorted(KEYWORDS - keywords), "extra": sorted(keywords - KEYWORDS)}


def test_the_function_names_are_the_preludes():
    grammar = json.loads(GRAMMAR.read_text(encoding="utf-8"))
    assert _words(grammar["repository"]["function"]["match"]) == set(FUNCTIONS)


def test_every_sample_is_a_syntax_test_of_the_grammar():
    samples = sorted((GRAMMAR.parent / "tests").glob("*.ppflow"))
    assert samples
    for sample in samples:
        assert sample.read_text(encoding="utf-8").startswith('# SYNTAX TEST "source.ppflow"'), sample.name
