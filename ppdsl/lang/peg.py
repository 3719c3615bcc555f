"""A faster way to run the grammar's parser: the parsing expressions that
textX builds from grammar/ppflow.tx are turned into Python source, one
function per expression, which is compiled once. It gives the parse tree
Arpeggio would give (see Node and Leaf) for input that parses, about six
times faster: Arpeggio interprets the expressions, with memoization,
debugging and error bookkeeping at every step. It does no error reporting:
when it fails, syntax.py lets Arpeggio parse the same text, which reports the
error as always. The grammar stays the only copy of the syntax.

Only the expressions this grammar uses are supported (sequences, ordered
choices, optionals, repetitions with or without separators, string and
regex matches); compile_rule raises TypeError on any other (and syntax.py
then parses with Arpeggio alone; tests/lang/test_peg.py fails).

Each function is `pN(text, pos, out) -> end`: it matches at `pos`, appends
what it matched to `out` (flat: Arpeggio's lists are flattened at rule
nodes anyway) and returns where it ended, or -1 (then `out` is as before)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from arpeggio import OneOrMore, Optional, OrderedChoice, RegExMatch, Sequence, StrMatch, ZeroOrMore

Rule = Callable[[str, int, list], int]


class Leaf:
    """A match, as Arpeggio's Terminal: its expression, rule name, offset and text."""

    __slots__ = ("rule", "rule_name", "position", "value")

    def __init__(self, rule: Any, position: int, value: str):
        self.rule, self.rule_name, self.position, self.value = rule, rule.rule_name, position, value


class Node(list):  # type: ignore[type-arg]
    """A rule's node, as Arpeggio's NonTerminal: a list of its children (the
    generated code fills it, then sets the attributes)."""

    __slots__ = ("rule", "rule_name", "position")


def compile_rule(rule: Any, ws: str) -> Rule:
    """The function that parses `rule` (an Arpeggio parsing expression and
    those it refers to) as Arpeggio does, skipping the characters of `ws`
    before each match."""
    gen = _Generator(ws)
    top = gen.name(rule)
    namespace: dict[str, Any] = {"Leaf": Leaf, "Node": Node, **gen.env}
    exec(compile("\n".join(gen.lines), f"<grammar rule {rule.rule_name}>", "exec"), namespace)
    return namespace[top]  # type: ignore[no-any-return]


class _Generator:
    def __init__(self, ws: str):
        self.skip = "[" + re.escape(ws) + "]*" if ws else ""
        self.names: dict[int, str] = {}
        self.env: dict[str, Any] = {}
        self.lines: list[str] = []

    def name(self, e: Any) -> str:
        """The function name for expression `e`, generating it (and those it calls) on first use."""
        key = id(e)
        if key not in self.names:
            self.names[key] = name = f"p{len(self.names)}"
            self.env["E" + name[1:]] = e
            self.function(e, name)
        return self.names[key]

    def function(self, e: Any, name: str) -> None:
        n = name[1:]
        if getattr(e, "ws", None) is not None or getattr(e, "skipws", None) is not None:
            raise TypeError(f"peg.py: no support for a rule's own whitespace (rule {e.rule_name})")
        if e.root and not isinstance(e, (RegExMatch, StrMatch)):
            # a rule (Arpeggio's root expression): what it matches becomes one node
            self.lines += [
                f"def {name}(text, pos, out):",
                "    node = Node()",
                f"    pos = q{n}(text, pos, node)",
                "    if pos >= 0 and node:",
                f"        node.rule, node.rule_name, node.position = E{n}, {e.rule_name!r}, node[0].position",
                "        out.append(node)",
                "    return pos",
                "",
            ]
            name = "q" + n
        self.lines += [f"def {name}(text, pos, out):", *self.body(e, n), ""]

    def body(self, e: Any, n: str) -> list[str]:
        """The statements of the function for `e`."""
        kind = type(e)
        if kind in (RegExMatch, StrMatch):
            pattern = e.regex.pattern if kind is RegExMatch else re.escape(e.to_match)
            if kind is StrMatch and e.ignore_case or re.search(r"\\[1-9]|\(\?P=", pattern):
                raise TypeError(f"peg.py: no support for {pattern!r}")
            flags = e.regex.flags if kind is RegExMatch else re.MULTILINE
            self.env["R" + n] = re.compile(f"{self.skip}({pattern})", flags).match
            return [
                f"    m = R{n}(text, pos)",
                "    if m is None:",
                "        return -1",
                "    if m.end() > m.start(1):",  # Arpeggio makes no node of an empty match
                f"        out.append(Leaf(E{n}, m.start(1), m.group(1)))",
                "    return m.end()",
            ]
        if kind is Sequence:
            lines = ["    mark = len(out)"]
            for child in e.nodes:
                lines += [
                    f"    pos = {self.name(child)}(text, pos, out)",
                    "    if pos < 0:",
                    "        del out[mark:]",
                    "        return -1",
                ]
            return [*lines, "    return pos"]
        if kind is OrderedChoice:
            lines = ["    mark = len(out)"]
            for child in e.nodes:
                # as in Arpeggio, an alternative that matched nothing has failed, unless it is a repetition
                matched = "end >= 0" if isinstance(child, (ZeroOrMore, OneOrMore)) else "end >= 0 and len(out) > mark"
                lines += [
                    f"    end = {self.name(child)}(text, pos, out)",
                    f"    if {matched}:",
                    "        return end",
                    "    del out[mark:]",
                ]
            return [*lines, "    return -1"]
        if kind is Optional:
            (child,) = e.nodes
            return [f"    end = {self.name(child)}(text, pos, out)", "    return pos if end < 0 else end"]
        if kind in (ZeroOrMore, OneOrMore):
            return self.repetition(e, kind is OneOrMore)
        raise TypeError(f"peg.py: no support for {kind.__name__} (rule {e.rule_name})")

    def repetition(self, e: Any, one: bool) -> list[str]:
        """`X*` or `X+`, with a separator or not. As in Arpeggio, a separator
        stays in the result when the item after it fails (the position goes
        back before it), and a match of nothing ends the repetition."""
        (child,) = e.nodes
        lines = ["    first = True", "    while True:", "        start = pos"]
        if e.sep is not None:
            lines += [
                "        if not first:",
                f"            pos = {self.name(e.sep)}(text, pos, out)",
                "            if pos < 0:",
                "                pos = start",
                "                break",
            ]
        lines += [
            "        mark = len(out)",
            f"        end = {self.name(child)}(text, pos, out)",
            "        if end < 0:",
            *(["            if first:", "                return -1"] if one else []),
            "            pos = start",
            "            break",
            "        pos = end",
            "        if len(out) == mark:",
            "            break",
            "        first = False",
            "    return pos",
        ]
        return lines
