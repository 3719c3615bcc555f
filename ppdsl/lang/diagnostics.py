"""A diagnostic is data: a message from the registry, its arguments, a
primary span, secondary labels ("first declared here") and a help. Each
output format is a renderer over that data: text (rustc-style, for people),
JSON (for tools) and the LSP's shape. Nothing parses rendered text back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from . import messages
from .messages import Message
from .printable import printable
from .span import Span, display_width


@dataclass(frozen=True)
class Label:
    span: Span
    text: str


_NO_HELP: Any = object()


@dataclass(frozen=True, eq=False)
class Diagnostic:
    msg: Message
    span: Span
    args: dict[str, object] = field(default_factory=dict)
    help: Optional[str] = None
    labels: tuple[Label, ...] = ()
    replacement: Optional[str] = None  # text that replaces `span` to fix the problem (a did-you-mean, a straight quote)

    @property
    def code(self) -> str:
        return self.msg.code

    @property
    def message(self) -> str:
        return self.msg.format(self.args)

    @property
    def severity(self) -> str:
        return self.msg.severity

    @property
    def is_error(self) -> bool:
        return self.msg.severity == "error"

    @property
    def file(self) -> str:
        return self.span.source.name

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def col(self) -> int:
        return self.span.col

    @property
    def length(self) -> int:
        return self.span.length

    def sort_key(self) -> tuple[int, int]:
        return self.span.start, self.span.end


def diagnostic(
    msg: Message,
    span: Span,
    *,
    help: Optional[str] = _NO_HELP,
    labels: Sequence[Label] = (),
    replacement: Optional[str] = None,
    **args: object,
) -> Diagnostic:
    """A diagnostic for `msg` at `span`. Without `help`, the registry's help
    (formatted with the same arguments) is used. `replacement` is the text
    that replaces `span` to fix it, for editors' quick fixes."""
    text = msg.format_help(args) if help is _NO_HELP else help
    return Diagnostic(msg, span, args, text, tuple(labels), replacement)


class Reporter:
    """Collects diagnostics; every stage that finds problems reports through it."""

    def __init__(self) -> None:
        self.diags: list[Diagnostic] = []

    def report(
        self,
        msg: Message,
        span: Span,
        *,
        help: Optional[str] = _NO_HELP,
        labels: Sequence[Label] = (),
        replacement: Optional[str] = None,
        **args: object,
    ) -> Diagnostic:
        diag = diagnostic(msg, span, help=help, labels=labels, replacement=replacement, **args)
        self.diags.append(diag)
        return diag


class SyntaxProblem(Exception):
    """Raised by the stages before checking (decoding, lexing, parsing): the
    one diagnostic that stops reading a file."""

    def __init__(self, diag: Diagnostic):
        super().__init__(diag.message)
        self.diag = diag


# ----------------------------------------------------------------- text


def render(diag: Diagnostic, *, location: bool = True, color: bool = False) -> str:
    """rustc-style text: the headline, the source line with a caret under the
    spot, each secondary label under its own line, and the help. Without
    `location`, the headline leaves out FILE:LINE:COL (for hosts that print it).
    With `color`, the headline has ANSI colours: errors red, warnings yellow, the code bold."""
    severity, code = diag.severity, diag.code
    if color:
        severity = f"\x1b[{31 if diag.is_error else 33}m{severity}\x1b[0m"
        code = f"\x1b[1m{code}\x1b[0m"
    head = f"{severity}[{code}]: {printable(diag.message)}"
    if location:
        head = f"{printable(diag.file)}:{diag.line}:{diag.col}: {head}"
    gutter = len(str(max([diag.line] + [label.span.line for label in diag.labels])))
    out = [head]
    out += _snippet(diag.span, "^", "", gutter)
    for label in diag.labels:
        out += _snippet(label.span, "-", " " + printable(label.text), gutter)
    if diag.help:
        out.append(f"{' ' * (gutter + 1)}= help: {printable(diag.help)}")
    return "\n".join(out)


_WINDOW = 100


def _snippet(span: Span, mark: str, note: str, gutter: int) -> list[str]:
    index = span.source.index
    line, col = index.line_col(span.start)
    if not 1 <= line <= len(index.starts):
        return []
    text = printable(index.line_text(line).rstrip("\r"))
    if len(text) > 3 * _WINDOW:  # a huge line: only the part around the caret
        start = max(0, col - 1 - _WINDOW)
        text = ("..." if start else "") + text[start : col - 1 + _WINDOW] + "..."
        col = col - start + (3 if start else 0)
    pad = " " * gutter
    before = text[: col - 1]
    # tabs stay tabs, and wide characters take two cells, so the caret lines up
    lead = "".join("\t" if ch == "\t" else " " * display_width(ch) for ch in before)
    under = text[col - 1 : col - 1 + span.length] or " "
    marks = mark * max(1, display_width(under))
    return [f"{pad} |", f"{str(line).rjust(gutter)} | {text}", f"{pad} | {lead}{marks}{note}"]


def summary(diags: Sequence[Diagnostic]) -> str:
    errors = sum(d.is_error for d in diags)
    warnings = len(diags) - errors
    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ----------------------------------------------------------------- JSON and LSP


def to_json(diag: Diagnostic) -> dict[str, Any]:
    """The object of `ppdsl check --format json`: 1-based lines and columns."""
    end_line, end_col = diag.span.end_line_col
    return {
        "file": diag.file,
        "line": diag.line,
        "column": diag.col,
        "end_line": end_line,
        "end_column": end_col,
        "severity": diag.severity,
        "code": diag.code,
        "message": diag.message,
        "help": diag.help,
        "labels": [{"line": label.span.line, "column": label.span.col, "message": label.text} for label in diag.labels],
    }


def lsp_range(span: Span) -> dict[str, Any]:
    """An LSP Range: 0-based lines, UTF-16 columns."""
    index = span.source.index
    (l1, c1), (l2, c2) = index.utf16(span.start), index.utf16(max(span.start, span.end))
    return {"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}}


def to_lsp(diag: Diagnostic, uri: str) -> dict[str, Any]:
    """An LSP Diagnostic: 0-based lines, UTF-16 columns, labels as related
    information, and the replacement that fixes the range as `data.replacement`."""
    message = diag.message + (f"\nhelp: {diag.help}" if diag.help else "")
    extra = {"data": {"replacement": diag.replacement}} if diag.replacement is not None else {}
    return {
        **extra,
        "range": lsp_range(diag.span),
        "severity": 1 if diag.is_error else 2,
        "code": diag.code,
        "source": "ppdsl",
        "message": message,
        "relatedInformation": [
            {"location": {"uri": uri, "range": lsp_range(label.span)}, "message": label.text} for label in diag.labels
        ],
    }


# ----------------------------------------------------------------- errors


class CompileError(Exception):
    """A `.ppflow` file has errors; `diagnostics` lists every one of them."""

    def __init__(self, filename: str, source: str, diagnostics: Sequence[Diagnostic]):
        self.filename = filename
        self.source = source
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        first = errors[0] if errors else None
        where = f"{self.filename}:{first.line}:{first.col}: {first.message}" if first else self.filename
        hint = f"; {first.help}" if first and first.help else ""
        super().__init__(f"{where}{hint} ({summary(self.diagnostics)}; .report() shows them all)")

    def report(self) -> str:
        """Every diagnostic as `ppdsl check` prints it."""
        return "\n".join(render(d) for d in self.diagnostics)


__all__ = [
    "CompileError",
    "Diagnostic",
    "Label",
    "Reporter",
    "SyntaxProblem",
    "diagnostic",
    "lsp_range",
    "messages",
    "render",
    "summary",
    "to_json",
    "to_lsp",
]
