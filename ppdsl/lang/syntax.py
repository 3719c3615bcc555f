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
from typing import Any, Optional

from . import messages as m
from .diagnostics import Diagnostic, Label, diagnostic
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
    """Names in any script compare after NFKC normalization, as Python's do (docs/language.md section 2.4)."""
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
    keywords = [w.strip("'") for w in expected if w.strip("'") in KEYWORDS]
    msg: Message = m.SYNTAX
    args: dict[str, Any] = {}
    if {"reply", "if", "let"} <= set(keywords):
        expected = [w for w in expected if w.strip("'") not in STATEMENT_WORDS and w != "'{'"] + ["a statement"]
        msg, args = m.SYNTAX_STATEMENT, {"words": ", ".join(STATEMENT_WORDS)}
    if "a string" in expected and "a name" in expected and "'('" in expected:
        expected = ["an expression"] + [w for w in expected if w not in _LITERAL_WORDS and w != "a name"]
    what = " or ".join(expected) if len(expected) <= 2 else ", ".join(expected[:-1]) + " or " + expected[-1]
    found_txt = "end of file" if found is None else f"'{found}'"
    span = source.span(pos, pos + len(found or " "))
    hint = _hint(found, text, pos, expected, keywords)
    if hint is not None:
        msg, args = hint
    if found is None and "'}'" in expected:
        opened = _unclosed(text)
        if opened is not None:  # point at the brace that was never closed, not at the end
            end_label = Label(source.span(max(0, pos - 1), pos), "the file ends here")
            return diagnostic(m.SYNTAX_UNCLOSED, source.span(opened), labels=[end_label], bracket=text[opened])
    fix = args["suggestion"] if msg is m.SYNTAX_DID_YOU_MEAN else None
    return diagnostic(msg, span, replacement=fix, detail=f"expected {what}, found {found_txt}", **args)


def _hint(
    found: Optional[str], text: str, pos: int, expected: list[str], keywords: list[str]
) -> Optional[tuple[Message, dict[str, Any]]]:
    """The help for a syntax error a Python or JavaScript habit, or a typo, explains."""
    previous = text[:pos].rstrip()
    after = text[pos : pos + 2]
    if found is None:
        return None
    if found.lower().rstrip("s") in _UNIT_WORDS and previous[-1:].isdigit():
        return m.SYNTAX_DURATION_WORDS, {}
    if found in KEYWORDS and "a name" in expected:
        return m.SYNTAX_KEYWORD_AS_NAME, {"found": found}
    if found == "is":
        return m.SYNTAX_IS, {}
    if found == "(" and (method := re.search(r"\.\s*(\w+)$", previous)):
        return m.SYNTAX_METHOD_CALL, {"name": method[1]}
    if found == "/" and after == "//":
        return m.SYNTAX_SLASH_COMMENT, {}
    if found in "&|" and after != found * 2:
        return m.SYNTAX_BITWISE, {"found": found, "word": "and" if found == "&" else "or", "symbol": found * 2}
    if found == ">" and previous.endswith("<"):
        return m.SYNTAX_PY2_NOT_EQUAL, {}
    if found == "=" and after == "=>":
        return m.SYNTAX_ARROW_GE, {}
    if found == "=" and ("an operator" in expected or "'=='" in expected):
        return m.SYNTAX_SINGLE_EQUALS, {}
    number = _number_hint(found, previous)
    if number is not None:
        return number
    if found.isidentifier() and found not in KEYWORDS:
        # a typo keeps the first letter: `asign`, `repyl` (but `send` is not `end`)
        same_start = [k for k in keywords if k[0] == found[0]]
        close = [_SLIPS[found]] if found in _SLIPS else difflib.get_close_matches(found, same_start, n=1, cutoff=0.75)
        if close:
            return m.SYNTAX_DID_YOU_MEAN, {"suggestion": close[0]}
        if "'event'" in expected and "'any'" in expected:
            return m.SYNTAX_RULE_START, {"found": found}
    return None


def _number_hint(found: str, previous: str) -> Optional[tuple[Message, dict[str, Any]]]:
    """Number spellings ppflow doesn't take: 1e3, 1_000, 0x10, 8., 1.5h."""
    if re.fullmatch(r"[0-9]+[eE][0-9]+", found):
        mantissa, exponent = re.split("[eE]", found)
        shown = str(int(mantissa) * 10 ** int(exponent)) if int(exponent) <= 15 else "the digits"
        return m.SYNTAX_NUMBER_FORM, {"found": found, "fix": f"write {shown} out in full"}
    if re.fullmatch(r"[0-9]+(_[0-9]+)+", found):
        return m.SYNTAX_NUMBER_FORM, {"found": found, "fix": f"write {found.replace('_', '')} without underscores"}
    if re.fullmatch(r"0[xXoObB][0-9A-Fa-f]+", found):
        try:
            return m.SYNTAX_NUMBER_FORM, {"found": found, "fix": f"write it in decimal: {int(found, 0)}"}
        except ValueError:
            return None
    if re.search(r"[0-9]\.$", previous) and found[:1].isdigit() and found[-1:] in "smhdw":  # 1.5h
        return m.SYNTAX_DECIMAL_DURATION, {}
    point = re.search(r"(?<![\w.])([0-9]+)\.(\s+\w+)?$", previous)  # `8.`, read as 8 and a member
    if point:
        return m.SYNTAX_NUMBER_FORM, {"found": f"{point[1]}.", "fix": f"write {point[1]}.0"}
    return None


def _unclosed(text: str) -> Optional[int]:
    """Where the last bracket that is never closed opens (strings skipped)."""
    stack: list[int] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            match = STRING.match(text, i)
            i = match.end() if match else i + 1
            continue
        if ch in "([{":
            stack.append(i)
        elif ch in ")]}" and stack:
            stack.pop()
        i += 1
    return stack[-1] if stack else None


_TOKEN = re.compile(r"\w+|\S")


def with_depth(fn: Any) -> Any:
    # Arpeggio recurses once per grammar level; MAX_BRACKETS keeps this bounded.
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        return fn()
    finally:
        sys.setrecursionlimit(old)
