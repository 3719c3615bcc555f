"""IR → ppflow text: expressions with as few parentheses as Python's
precedence allows, string literals and templates. Reading the output back
gives the same IR.

The IR keeps values, not spellings. A `Spelling` of the source gives back
what the user wrote where the IR normalises it (names before NFKC, string
literals with their escapes, numbers with their unit), for `ppdsl fmt`."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Optional

from ..lang import ir
from ..lang.span import Span
from ..lang.syntax import NAME, STRING, normalize_name

# binding power, as in ppdsl.lang.lower: or, and, not, comparisons, + -, * / %, unary -, postfix
_OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _NEG, _POSTFIX, _ATOM = range(1, 10)
_BINARY = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "%": _PRODUCT}
_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60))
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\t": "\\t"}


def expr(e: ir.Expr, quote: str = '"', spelling: Optional[Spelling] = None) -> str:
    """The source text of an expression; string literals use `quote`, or
    their own spelling when `spelling` is given."""
    return _Printer(quote, spelling).text(e, 0)


def string(text: str, quote: str = '"') -> str:
    """A string literal whose value is `text`."""
    out = []
    for ch in text:
        if ch in _ESCAPES or ch == quote:
            out.append(_ESCAPES.get(ch, "\\" + ch))
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            if code > 0xFFFF:  # a UTF-16 pair, as the language reads \u escapes
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
    return quote + "".join(out) + quote


def template_text(t: ir.Template) -> str:
    """A template's value before decoding: its text with `{{ EXPR }}` parts
    (strings in them single-quoted); a literal `{{` comes out as `{{ '{' }}{`."""
    out = []
    for i, part in enumerate(t.parts):
        if not isinstance(part, str):
            out.append("{{ " + expr(part, "'") + " }}")
            continue
        follows = "{" if i + 1 < len(t.parts) and not isinstance(t.parts[i + 1], str) else ""
        for j, ch in enumerate(part):
            brace = ch == "{" and (part[j + 1 : j + 2] or follows) == "{"
            out.append("{{ '{' }}" if brace else ch)
    return "".join(out)


def template(t: ir.Template) -> str:
    """A template as a string literal."""
    return string(template_text(t))


def literal(lit: ir.Lit, quote: str = '"', spelling: Optional[Spelling] = None) -> str:
    if spelling is not None:
        spelled = spelling.literal(lit)
        if spelled is not None:
            return spelled
    value = lit.value
    if lit.kind == "str":
        return string(value, quote)
    if lit.kind == "null":
        return "null"
    if lit.kind == "bool":
        return "true" if value else "false"
    if lit.kind == "duration":
        sign, seconds = ("-" if value < 0 else ""), abs(value)
        for unit, size in _UNITS:
            if seconds and seconds % size == 0:
                return f"{sign}{seconds // size}{unit}"
        return f"{sign}{seconds}s"
    if lit.kind == "float":
        text = format(Decimal(repr(value)), "f")  # never an exponent: the language has none
        return text if "." in text else text + ".0"
    return str(value)


def requote(raw: str) -> str:
    """A string literal with the quote that needs fewer escapes, its own on a
    tie; other escapes stay as written. `"say \\"hi\\""` becomes `'say "hi"'`."""
    units = re.findall(r"\\.|.", raw[1:-1], re.S)
    own, other = raw[0], "'" if raw[0] == '"' else '"'
    costs = {q: sum(u[-1] == q for u in units) for q in (own, other)}
    quote = other if costs[other] < costs[own] else own
    body = "".join(("\\" + u[-1] if u[-1] == quote else u[-1]) if u[-1] in "\"'" else u for u in units)
    return quote + body + quote


_NUMBER = re.compile(r"([0-9]+)(?:\.([0-9]+)|([smhdw]))?")
_BLANKS = re.compile(r"\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Spelling:
    """How one source spells what the IR normalises. `text` is the source
    with comments blanked (as the parser saw it). Each method falls back to
    the IR's value when the source doesn't hold what it expects there."""

    def __init__(self, text: str):
        self.text = text

    def name(self, span: Span, name: str) -> str:
        """A name as written (the IR holds it after NFKC)."""
        found = NAME.match(self.text, span.start)
        return found[0] if found and normalize_name(found[0]) == name else name

    def string_at(self, pos: int) -> Optional[str]:
        """The string literal at `pos` or after blanks, requoted."""
        found = STRING.match(self.text, _BLANKS.match(self.text, pos).end())  # type: ignore[union-attr]
        return requote(found[0]) if found else None

    def literal(self, lit: ir.Lit) -> Optional[str]:
        """A string as written, or a number as written with its unit, leading
        zeros and zeros ending a decimal dropped; None for other literals."""
        if lit.kind == "str":
            return self.string_at(lit.span.start)
        if lit.kind not in ("int", "float", "duration"):
            return None
        found = _NUMBER.search(self.text, lit.span.start, max(lit.span.end, lit.span.start + 1))
        if not found:
            return None
        whole, fraction, unit = found[1].lstrip("0") or "0", found[2], found[3]
        if fraction is not None:
            text = f"{whole}.{fraction.rstrip('0') or '0'}"
            negative = math.copysign(1.0, lit.value) < 0
            same = lit.kind == "float" and float(text) == abs(lit.value)
        else:
            text = whole + (unit or "")
            negative = lit.value < 0
            size = _UNIT_SECONDS[unit] if unit else 1
            same = (lit.kind == "duration") == bool(unit) and int(whole) * size == abs(lit.value)
        return ("-" if negative else "") + text if same else None


class _Printer:
    def __init__(self, quote: str, spelling: Optional[Spelling] = None):
        self.quote, self.spelling = quote, spelling

    def text(self, e: ir.Expr, min_power: int) -> str:
        """`e` printed, in parentheses when it binds less tightly than `min_power`."""
        power, text = self.bare(e)
        return f"({text})" if power < min_power else text

    def bare(self, e: ir.Expr) -> tuple[int, str]:
        if isinstance(e, ir.Lit):
            text = literal(e, self.quote, self.spelling)
            return (_NEG if text.startswith("-") else _ATOM), text
        if isinstance(e, ir.Var):
            return _ATOM, self.name(e.span, e.name)
        if isinstance(e, ir.ListExpr):
            return _ATOM, "[" + self.items(e.items) + "]"
        if isinstance(e, ir.Call):
            return _POSTFIX, f"{self.name(e.span, e.func)}({self.items(e.args)})"
        if isinstance(e, ir.Member):
            return _POSTFIX, f"{self.text(e.obj, _POSTFIX)}.{e.name}"
        if isinstance(e, ir.Index):
            return _POSTFIX, f"{self.text(e.obj, _POSTFIX)}[{self.text(e.index, 0)}]"
        if isinstance(e, ir.Unary):
            if e.op == "not":
                return _NOT, "not " + self.text(e.operand, _NOT)
            return _NEG, "-" + self.text(e.operand, _NEG)
        if isinstance(e, ir.BinOp):
            power = _BINARY[e.op]
            return power, f"{self.text(e.left, power)} {e.op} {self.text(e.right, power + 1)}"
        if isinstance(e, ir.BoolOp):
            power = _AND if e.op == "and" else _OR
            return power, f" {e.op} ".join(self.text(x, power + 1) for x in e.operands)
        assert isinstance(e, ir.Compare), type(e).__name__
        parts = [self.text(e.operands[0], _COMPARE + 1)]
        for op, right in zip(e.ops, e.operands[1:], strict=False):
            parts += [op, self.text(right, _COMPARE + 1)]
        return _COMPARE, " ".join(parts)

    def name(self, span: Span, name: str) -> str:
        return self.spelling.name(span, name) if self.spelling else name

    def items(self, items: list[ir.Expr]) -> str:
        return ", ".join(self.text(x, 0) for x in items)
