"""Every message ppdsl can report about a `.ppflow` file, and how it is shown.

All codes live in MESSAGES, in the manner of mypy's message registry, so that
the wording stays consistent and each code is documented in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from .terminal import printable

# code -> (severity, message template)
MESSAGES: dict[str, tuple[str, str]] = {
    # lexical and syntax
    "E001": ("error", "syntax error: {detail}"),
    "E006": ("error", "string is not closed on this line"),
    "E002": ("error", "typographic quote {quote} is not a string delimiter"),
    "E003": ("error", "invalid escape sequence {escape} in string"),
    "E004": ("error", "the file is not valid UTF-8 text: {detail}"),
    "E005": ("error", "the file is too deeply nested to read (more than {limit} levels)"),
    # names
    "E101": ("error", "unknown name '{name}'"),
    "E102": ("error", "unknown function '{name}'"),
    "E103": ("error", "unknown event '{name}'"),
    "E104": ("error", "unknown agent '{name}'"),
    "E105": ("error", "unknown group '{name}'"),
    "E106": ("error", "{kind} '{name}' is declared more than once"),
    "E107": ("error", "event number {seq} is declared more than once"),
    "E108": ("error", "event uuid {uuid} is declared more than once"),
    "E109": ("error", "event number {seq} is out of range: events are numbered 1 to 8"),
    "E110": ("error", "too many events: a website tracks at most 8, this file declares {count}"),
    "E111": ("error", "{kind} name '{name}' is {size} characters long; the limit is {limit}"),
    "E112": ("error", "event description is {size} characters long; the limit is 128"),
    "E113": ("error", "event uuid must not be empty"),
    "E114": ("error", "unknown field type '{name}'"),
    "E115": ("error", "flow 'main' is declared, but rules outside any flow already form the implicit flow 'main'"),
    "E116": ("error", "'{name}' is already {what}; a {kind} can't reuse that name"),
    "E117": ("error", "segment '{name}' refers to itself through {path}"),
    "E118": ("error", "can't set '{name}': {why}"),
    "E119": ("error", "{func}() takes {expected}, got {got}"),
    "E120": ("error", "{func}() takes an event number or event name"),
    "E121": ("error", "matches() {detail}"),
    "E122": ("error", "case value {value} already appears in this switch"),
    "E123": ("error", "template: {detail}"),
    "E124": ("error", "type error: {detail}"),
    "E126": ("error", "number {value} is too large"),
    # warnings
    "W201": ("warning", "this rule can never run: {detail}"),
    "W202": ("warning", "{kind} '{name}' is declared but never used"),
    "W203": ("warning", "comparison is always {result}: {left} and {right} values are never equal"),
    "W204": ("warning", "{what} is the time of this very event here: statistics are updated before flows run"),
}


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    line: int
    col: int
    length: int = 1
    help: Optional[str] = None

    @property
    def severity(self) -> str:
        return MESSAGES[self.code][0]

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def make(code: str, line: int, col: int, length: int = 1, help: Optional[str] = None, **args: object) -> Diagnostic:
    return Diagnostic(code, MESSAGES[code][1].format(**args), line, col, max(1, length), help)


def render(diag: Diagnostic, filename: str, source: str) -> str:
    """rustc-style text: the headline, the source line and a caret under the spot."""
    head = f"{printable(filename)}:{diag.line}:{diag.col}: {diag.severity}[{diag.code}]: {printable(diag.message)}"
    lines = source.split("\n")  # as the parser counts lines; not str.splitlines()
    out = [head]
    if 1 <= diag.line <= len(lines):
        text = printable(lines[diag.line - 1].rstrip("\r"))
        col = diag.col
        if len(text) > 3 * _WINDOW:  # a huge line: only the part around the caret
            start = max(0, col - 1 - _WINDOW)
            text = ("..." if start else "") + text[start : col - 1 + _WINDOW] + "..."
            col = col - start + (3 if start else 0)
        num = str(diag.line)
        pad = " " * len(num)
        # keep tabs so the caret lines up under the same columns
        lead = "".join(ch if ch == "\t" else " " for ch in text[: col - 1])
        width = max(1, min(diag.length, len(text) - col + 1))
        out += [f"{pad} |", f"{num} | {text}", f"{pad} | {lead}{'^' * width}"]
    if diag.help:
        out.append(f"{' ' * (len(str(diag.line)) + 1)}= help: {diag.help}")
    return "\n".join(out)


_WINDOW = 100


def summary(diags: Sequence[Diagnostic]) -> str:
    errors = sum(d.is_error for d in diags)
    warnings = len(diags) - errors
    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class CompileError(Exception):
    """A `.ppflow` file has errors; `diagnostics` lists every one of them."""

    def __init__(self, filename: str, source: str, diagnostics: Sequence[Diagnostic]):
        self.filename = filename
        self.source = source
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        first = errors[0] if errors else None
        where = f"{filename}:{first.line}:{first.col}: {first.message}" if first else filename
        hint = f"; {first.help}" if first and first.help else ""
        super().__init__(f"{where}{hint} ({summary(self.diagnostics)}; .report() shows them all)")

    def report(self) -> str:
        """Every diagnostic as `ppdsl check` prints it."""
        return "\n".join(render(d, self.filename, self.source) for d in self.diagnostics)
