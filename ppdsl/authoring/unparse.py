"""IR → ppflow text: expressions with as few parentheses as Python's
precedence allows, string literals and templates. Reading the output back
gives the same IR."""

from __future__ import annotations

from decimal import Decimal

from ..lang import ir

# binding power, as in ppdsl.lang.lower: or, and, not, comparisons, + -, * / %, unary -, postfix
_OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _NEG, _POSTFIX, _ATOM = range(1, 10)
_BINARY = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "%": _PRODUCT}
_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60))
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\t": "\\t"}


def expr(e: ir.Expr, quote: str = '"') -> str:
    """The source text of an expression; string literals use `quote`."""
    return _Printer(quote).text(e, 0)


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


def literal(lit: ir.Lit, quote: str = '"') -> str:
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


class _Printer:
    def __init__(self, quote: str):
        self.quote = quote

    def text(self, e: ir.Expr, min_power: int) -> str:
        """`e` printed, in parentheses when it binds less tightly than `min_power`."""
        power, text = self.bare(e)
        return f"({text})" if power < min_power else text

    def bare(self, e: ir.Expr) -> tuple[int, str]:
        if isinstance(e, ir.Lit):
            text = literal(e, self.quote)
            return (_NEG if text.startswith("-") else _ATOM), text
        if isinstance(e, ir.Var):
            return _ATOM, e.name
        if isinstance(e, ir.ListExpr):
            return _ATOM, "[" + self.items(e.items) + "]"
        if isinstance(e, ir.Call):
            return _POSTFIX, f"{e.func}({self.items(e.args)})"
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

    def items(self, items: list[ir.Expr]) -> str:
        return ", ".join(self.text(x, 0) for x in items)
