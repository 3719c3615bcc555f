"""The Diagnostic structure and how it is shown: rustc-style text, the
summary line, and CompileError, which carries every diagnostic of a file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from .messages import MESSAGES


def printable(text: str, keep: str = "\t") -> str:
    """Show control characters visibly so hostile input (file names, source
    lines, event data) can't drive the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch in keep or ch.isprintable() else "\ufffd" for ch in text)


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


class SyntaxProblem(Exception):
    """Raised by the stages before checking (decoding, lexing, parsing): the
    one diagnostic that stops reading a file."""

    def __init__(self, diag: Diagnostic):
        super().__init__(diag.message)
        self.diag = diag


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
