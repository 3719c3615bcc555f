"""Which `.ppflow` node each generated line came from: the `_LINE_MAP` that
every compiled module carries, written and read here (standard library only,
so tools can read a vendored module without the compiler's dependencies).

Use it to go from a line of the generated module (a traceback's `tb_lineno`,
a `sys.settrace` line event, a coverage report) to the `.ppflow` position, and
back from a rule, an arm or an action to its generated line:

    rules = ppdsl.load("flow.ppflow")
    lines = line_map(rules)
    lines.at(tb.tb_lineno)                 # Origin(line=418, source_line=26, source_col=7, kind='action') or None
    [o.line for o in lines if o.kind == "rule"]        # each rule's generated line
    lines.find(rule.span.line, rule.span.col, "rule")  # from an IR node to its generated line(s)

`kind` names what stands on the line (see KINDS). For coverage: a rule, an
arm (if, elif, else, case, default) was taken when the line right after its
own ran; an action ran when its line ran, and it failed and ended the flow
when its `failed` line ran.

In the module the map is one string, `GEN:LINE:COL:KIND` items separated by
spaces, in generated-line order; a string, as Jinja2 keeps its `debug_info`,
so that the columns (which depend on the length of names in the source)
never change the code's tokens.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Optional, Union

KINDS = {
    "flow": "`def _flow_N`: the flow (the first rule of the implicit main flow)",
    "segment": "`def _seg_N`: the segment declaration",
    "expr": "a segment's `return`: its expression",
    "rule": "`if seq ...` / `elif seq ...`: the rule's `on`",
    "if": "`if COND:`: the condition of an if statement's first arm",
    "elif": "`elif COND:`: the condition of a later arm",
    "else": "`else:`: the statement after `else`",
    "switch": "`_sN = SUBJECT`: the switch statement",
    "case": "`if`/`elif` with the case's values: the `case`",
    "default": "`else:`: the statement after `default ->`",
    "let": "`_lN = VALUE`: the let statement",
    "end": "`return`: the end statement",
    "action": "the action: reply, assign and ticket (`if not _do(...)`), set, convert",
    "failed": "the `return` taken when an action without `on failure` fails: the action",
    "pass": "`pass`: an empty `{ }` block",
}
ROW = 6  # items per line of the string in the module


@dataclass(frozen=True)
class Origin:
    """A generated line and the `.ppflow` node it came from. Lines are
    1-based as tracebacks count them; the column counts characters, 1-based."""

    line: int
    source_line: int
    source_col: int
    kind: str


class LineMap:
    """A module's origins in generated-line order, with lookups both ways."""

    def __init__(self, origins: Iterable[Origin]) -> None:
        self.origins = tuple(origins)
        self._by_line = {o.line: o for o in self.origins}

    def __iter__(self) -> Iterator[Origin]:
        return iter(self.origins)

    def __len__(self) -> int:
        return len(self.origins)

    def at(self, line: int) -> Optional[Origin]:
        """The origin of a generated line; None for the runtime's lines and the glue between rules."""
        return self._by_line.get(line)

    def find(self, source_line: int, source_col: Optional[int] = None, kind: Optional[str] = None) -> list[Origin]:
        """The origins at a `.ppflow` line (and column, and of a kind): from an IR node's span to generated lines."""
        return [
            o
            for o in self.origins
            if o.source_line == source_line
            and (source_col is None or o.source_col == source_col)
            and (kind is None or o.kind == kind)
        ]


def dumps(origins: Iterable[tuple[int, int, int, str]], offset: int = 0) -> str:
    """The `_LINE_MAP = ...` assignment for (generated line, line, col, kind)
    rows, generated lines shifted by `offset`. The rows per line of the
    string depend on their count only, so equal programs wrap alike."""
    items = [f"{offset + gen}:{line}:{col}:{kind}" for gen, line, col, kind in origins]
    if not items:
        return "_LINE_MAP = ''"
    rows = [" ".join(items[i : i + ROW]) for i in range(0, len(items), ROW)]
    body = "".join(f"    {row + ' '!r}\n" for row in rows[:-1]) + f"    {rows[-1]!r}\n"
    return f"_LINE_MAP = (\n{body})"


def loads(text: str) -> LineMap:
    """A LineMap from the value of `_LINE_MAP`."""
    origins = []
    for item in text.split():
        gen, line, col, kind = item.split(":")
        origins.append(Origin(int(gen), int(line), int(col), kind))
    return LineMap(origins)


def line_map(module: Union[types.ModuleType, object, str]) -> LineMap:
    """The line map of a compiled module: the module object (`ppdsl.load`,
    an import of a `ppdsl compile` output) or its source text, which is read
    without running it."""
    if isinstance(module, str):
        start = module.rfind("\n_LINE_MAP = ")
        if start < 0:
            raise ValueError("not a module compiled by ppdsl: no _LINE_MAP")
        code = module[start + len("\n_LINE_MAP = ") :]
        value = ast.literal_eval(code[: code.index("\n)") + 2] if code.startswith("(") else code.split("\n", 1)[0])
    else:
        value = getattr(module, "_LINE_MAP", None)
    if not isinstance(value, str):
        raise ValueError("not a module compiled by ppdsl: no _LINE_MAP")
    return loads(value)
