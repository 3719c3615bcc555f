"""The grammar and its syntax errors: reading grammar/ppflow.tx (the keywords,
the string pattern and the words that start a statement come from it, checked
on import), building textX metamodels from it, and turning textX's
"expected ..." into a readable diagnostic."""

from __future__ import annotations

import difflib
import re
import sys
import unicodedata
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from . import messages as m
from .diagnostics import Diagnostic, diagnostic
from .messages import Message
from .span import Source


def grammar_text() -> str:
    """The grammar ships inside the package; in a checkout it lives in grammar/."""
    packaged = resources.files("ppdsl").joinpath("grammar/ppflow.tx")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammar" / "ppflow.tx").read_text(encoding="utf-8")


GRAMMAR = grammar_text()
# one rule per line; by name: [0] the line, [2] the body
_RULES = {m[1]: m for m in re.finditer(r"^(\w+): (.*);$", GRAMMAR, re.M)}
_REGEX = re.compile(r"/((?:\\/|[^/])*)/")  # a regex match, as textX reads it


def _regex(rule: str) -> str:
    """The pattern of a rule that is a single regex, such as StringTok."""
    match = _REGEX.fullmatch(_RULES[rule][2])
    assert match, f"grammar rule {rule} is not a single regex"
    return match[1]


def _words() -> set[str]:
    """The words the rules other than Name match: quoted keywords, and the
    words a regex spells out and matches, such as WordLit's `true`."""
    words = set()
    for name, rule in _RULES.items():
        if name != "Name":
            words.update(re.findall(r"'([A-Za-z_]\w*)'", rule[2]))
            for regex in _REGEX.findall(rule[2]):
                spelled = re.findall(r"[A-Za-z_]\w*", re.sub(r"\\.|\[[^]]*\]", " ", regex))
                words.update(w for w in spelled if re.fullmatch(regex, w))
    return words


def _starts(rule: str) -> list[str]:
    """What each alternative of `rule` starts with, in order, through rules
    such as Action: keywords and symbols like `{`."""
    starts: list[str] = []
    depth, first = 0, True
    for token in re.findall(r"'[^']*'|[()|]|[^\s()|]+", _RULES[rule][2]):
        if first:
            word = token.split("=")[-1]  # `action=Action`, `kw='end'`
            starts += [word.strip("'")] if word.startswith("'") else _starts(word)
        depth += (token == "(") - (token == ")")
        first = depth == 0 and token == "|"
    return starts


_NAME = re.fullmatch(r"\(\?!\(([\w|]+)\)\\b\).+", _regex("Name"))
assert _NAME, "grammar/ppflow.tx: Name must be /(?!(keyword|...)\\b)identifier/"
KEYWORDS = frozenset(_NAME[1].split("|"))
assert KEYWORDS == _words(), f"grammar/ppflow.tx: Name must refuse exactly the keywords: {sorted(KEYWORDS ^ _words())}"
NAME = re.compile(_regex("Name"))
STRING = re.compile(_regex("StringTok"))
STATEMENT_WORDS = tuple(w for w in _starts("Stmt") if w in KEYWORDS)


def build_metamodel(root: str = "Program", *, comments: bool = False) -> Any:
    """A textX metamodel that starts at `root`: "Program" reads a file, "Exprs"
    template expressions separated by ';'. Without `comments` it leaves out
    the Comment rule (see the grammar for why)."""
    from textx import metamodel_from_str

    text = GRAMMAR if comments else GRAMMAR.replace(_RULES["Comment"][0], "")
    text = _RULES[root][0] + "\n" + text.replace(_RULES[root][0], "")  # textX starts at the first rule
    mm = metamodel_from_str(text, autokwd=True, memoization=False)
    mm.register_obj_processors({"Name": normalize_name})
    return mm


def normalize_name(name: str) -> str:
    """Names in any script compare after NFKC normalization, as Python's do (LANGUAGE.md section 10)."""
    return name if name.isascii() else unicodedata.normalize("NFKC", name)


metamodel = cache(build_metamodel)  # ppdsl's own parser, one per root


# --------------------------------------------------------------- syntax errors

_WORDS = {
    "EOF": "the end",
    "IntTok": "a number",
    "SignedInt": "a number",
    "StringTok": "a string",
    "Name": "a name",
    "Trailer": "a name",
    "NumberLit": "a number",
    "WordLit": "true, false or null",
    "BinaryOp": "an operator",
    "PrefixOp": "'not'",
}
_RULE_OF_REGEX = {regex: name for name, rule in _RULES.items() for regex in _REGEX.findall(rule[2])}


def _describe(rule: Any) -> str:
    match = getattr(rule, "to_match", "")
    # textX names the rule of a match unless it is inline, as in NumberLit: value=/.../
    name = getattr(rule, "rule_name", "") or _RULE_OF_REGEX.get(match, "")
    return _WORDS.get(name, f"'{match}'")


_SLIPS = {"elseif": "elif", "elsif": "elif", "else_if": "elif"}
_UNIT_WORDS = {"sec", "second", "min", "minute", "hour", "hr", "day", "week", "wk", "ms", "mins", "secs"}
_LITERAL_WORDS = {"a number", "a string", "true, false or null", "'('", "'['", "'-'", "'not'", "'!'"}


def syntax_diagnostic(err: Any, source: Source, offset: int = 0, template: bool = False) -> Diagnostic:
    """E001 for textX's error `err`; `offset` places an error inside a template expression."""
    text = source.text
    pos = offset if offset else source.index.offset(err.line, err.col)
    found_m = _TOKEN.match(text, pos) if pos < len(text) else None
    found = found_m.group() if found_m else None
    if found is None:  # at the end: point just after the last token
        pos = len(text.rstrip())
    expected: list[str] = []
    for rule in err.expected_rules or []:
        word = _describe(rule)
        if template and word in ("';'", "the end"):
            continue  # the separator of the batch parse, not the user's
        if word not in expected:
            expected.append(word)
    msg: Message = m.SYNTAX
    args: dict[str, Any] = {}
    words = {w.strip("'") for w in expected}
    if {"reply", "if", "let"} <= words:
        expected = [w for w in expected if w.strip("'") not in STATEMENT_WORDS and w != "'{'"] + ["a statement"]
        msg, args = m.SYNTAX_STATEMENT, {"words": ", ".join(STATEMENT_WORDS)}
    if "a string" in expected and "a name" in expected and "'('" in expected:
        expected = ["an expression"] + [w for w in expected if w not in _LITERAL_WORDS and w != "a name"]
    what = " or ".join(expected) if len(expected) <= 2 else ", ".join(expected[:-1]) + " or " + expected[-1]
    found_txt = "end of file" if found is None else f"'{found}'"
    previous = text[:pos].rstrip()
    if found and found.lower().rstrip("s") in _UNIT_WORDS and previous[-1:].isdigit():
        msg = m.SYNTAX_DURATION_WORDS
    elif found and found.isidentifier() and found not in KEYWORDS:
        keywords = [w.strip("'") for w in expected if w.strip("'") in KEYWORDS]
        close = [_SLIPS[found]] if found in _SLIPS else difflib.get_close_matches(found, keywords, n=1, cutoff=0.75)
        if close:
            msg, args = m.SYNTAX_DID_YOU_MEAN, {"suggestion": close[0]}
        elif "'event'" in expected and "'any'" in expected:
            msg, args = m.SYNTAX_RULE_START, {"found": found}
    if found in KEYWORDS and "a name" in expected:
        msg, args = m.SYNTAX_KEYWORD_AS_NAME, {"found": found}
    elif found == "=" and ("an operator" in expected or "'=='" in expected):
        msg = m.SYNTAX_SINGLE_EQUALS
    span = source.span(pos, pos + len(found or " "))
    return diagnostic(msg, span, detail=f"expected {what}, found {found_txt}", **args)


_TOKEN = re.compile(r"[A-Za-z_0-9]+|\S")


def with_depth(fn: Any) -> Any:
    # Arpeggio recurses once per grammar level; MAX_BRACKETS keeps this bounded.
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        return fn()
    finally:
        sys.setrecursionlimit(old)
