"""Text → IR: read a `.ppflow` source with the textX grammar and lower the
textX model into the typed IR of `ppdsl.lang.ir`, keeping source locations.

textX stops at the first syntax error, so this stage reports at most one
syntax diagnostic; everything semantic is left to `ppdsl.lang.check`.
"""

from __future__ import annotations

import re
from typing import Any, Optional, Union

from . import ir
from . import messages as m
from .diagnostics import Diagnostic, Reporter, SyntaxProblem, diagnostic
from .messages import MAX_BRACKETS, MAX_DIGITS, MAX_DURATION_DAYS
from .source import decode_string, prescan, typographic_quote
from .span import Source, Span
from .syntax import metamodel, normalize_name, syntax_diagnostic, with_depth

# --------------------------------------------------------------- text → IR


def parse(source: Source) -> tuple[ir.Program, list[Diagnostic]]:
    """Parse a whole file into IR and the diagnostics found while lowering it
    (string escapes, templates). A syntax error raises SyntaxProblem."""
    from textx.exceptions import TextXSyntaxError

    scan = prescan(source)
    try:
        model = with_depth(lambda: metamodel().model_from_str(scan.text))
    except TextXSyntaxError as err:
        raise SyntaxProblem(syntax_diagnostic(err, source)) from None
    lower = _Lower(source)
    lower.diags += scan.warnings
    program = assemble(source.name, lower.items(model))
    program.comments = scan.comments
    lower.parse_templates()
    return program, lower.diags


Item = Union[ir.EventDecl, ir.AgentDecl, ir.GroupDecl, ir.FieldDecl, ir.SegmentDecl, ir.Flow, ir.Rule]


def assemble(filename: str, items: list[Item]) -> ir.Program:
    """A program of top-level items in file order: the rules outside any flow
    form the implicit flow `main`, which stands where its first rule is."""
    prog = ir.Program(filename, [], [], [], [], [], [])
    main: Optional[ir.Flow] = None
    for item in items:
        if isinstance(item, ir.EventDecl):
            prog.events.append(item)
        elif isinstance(item, ir.AgentDecl):
            prog.agents.append(item)
        elif isinstance(item, ir.GroupDecl):
            prog.groups.append(item)
        elif isinstance(item, ir.FieldDecl):
            prog.fields.append(item)
        elif isinstance(item, ir.SegmentDecl):
            prog.segments.append(item)
        elif isinstance(item, ir.Flow):
            prog.flows.append(item)
        else:
            if main is None:
                main = ir.Flow(item.span, "main", item.span, 0, False, [], implicit=True)
                prog.flows.append(main)
            main.rules.append(item)
    return prog


def parse_expression(text: str, start: int, source: Source, where: Optional[list[int]] = None) -> ir.Expr:
    """Parse one expression, `text`, that stands at offset `start` of `source`.
    `where` gives each of its characters' offset in the source when they
    aren't consecutive there (a template expression written with escapes)."""
    from textx.exceptions import TextXSyntaxError

    where = where or list(range(start, start + len(text) + 1))
    try:
        model = with_depth(lambda: metamodel("Exprs").model_from_str(text))
    except TextXSyntaxError as err:
        pos = min(Source("", text).index.offset(err.line, err.col), len(text))
        raise SyntaxProblem(syntax_diagnostic(err, source, offset=where[pos], template=True)) from None
    if len(model.exprs) != 1:
        raise SyntaxProblem(diagnostic(m.TEMPLATE_TWO_EXPRESSIONS, source.span(start)))
    lower = _Lower(source, where=where)
    expr = lower.expr(model.exprs[0])
    if lower.diags:
        raise SyntaxProblem(lower.diags[0])
    return expr


def _find_close(text: str, pos: int) -> int:
    """Index of the `}}` that closes a template expression, skipping strings."""
    quote = None
    i = pos
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif text.startswith("}}", i):
            return i
        i += 1
    return -1


class _Lower(Reporter):
    """Turns textX objects into IR nodes. For a template expression, `where`
    maps each position of the text textX parsed (less `shift`, where the
    expression starts in a batch) to its offset in the source: escapes in the
    string make the two differ."""

    def __init__(self, source: Source, where: Optional[list[int]] = None, shift: int = 0, base: int = 0):
        """`base`: where the text textX parsed starts in the source (a part of a file, see reparse.py)."""
        super().__init__()
        self.source, self.text, self.where, self.shift, self.base = source, source.text, where, shift, base
        # template expressions still to parse: (parts list, position in it, text, source offsets)
        self.pending: list[tuple[list, int, str, list[int]]] = []

    def at(self, pos: int) -> int:
        """The source offset of a position in the text textX parsed."""
        return pos + self.base if self.where is None else self.where[min(pos - self.shift, len(self.where) - 1)]

    def parse_templates(self) -> None:
        """Parse the file's template expressions in one textX pass (each textX
        call has a fixed cost), each distinct text once (templates repeat:
        `{{ user_fullname }}`), then lower every occurrence at its own place.
        On a syntax error, parse them one by one so each error is reported."""
        from textx.exceptions import TextXSyntaxError

        if not self.pending:
            return
        texts = list(dict.fromkeys(inner for _parts, _i, inner, _at in self.pending))
        joined, starts = "", {}
        for inner in texts:
            starts[inner] = len(joined)
            joined += inner + "\n;"
        try:
            model = with_depth(lambda: metamodel("Exprs").model_from_str(joined[:-1]))
            parsed = dict(zip(texts, model.exprs, strict=False)) if len(model.exprs) == len(texts) else None
        except TextXSyntaxError:
            parsed = None
        for parts, i, inner, where in self.pending:
            try:
                if parsed is not None:
                    lower = _Lower(self.source, where, shift=starts[inner])
                    parts[i] = lower.expr(parsed[inner])
                    self.diags += lower.diags
                else:
                    parts[i] = parse_expression(inner, where[0], self.source, where)
            except SyntaxProblem as problem:
                self.diags.append(problem.diag)
        self.pending = []

    def span(self, obj: Any) -> Span:
        return self.source.span(self.at(obj._tx_position), self.at(obj._tx_position_end))

    def text_of(self, obj: Any) -> tuple[str, Span, list[int]]:
        span = self.span(obj)
        try:
            value, offsets = decode_string(obj.raw, span)
        except SyntaxProblem as problem:
            self.diags.append(problem.diag)
            return obj.raw[1:-1], span, list(range(1, len(obj.raw)))
        return value, span, offsets

    def items(self, model: Any) -> list[Item]:
        """The top-level items of a textX model, lowered, in file order."""
        out: list[Item] = []
        for item in model.items if not isinstance(model, str) else ():  # textX gives '' for an empty file
            kind = type(item).__name__
            if kind == "EventDecl":
                uuid = self.text_of(item.uuid) if item.uuid else None
                desc = self.text_of(item.description) if item.description else None
                aliases = [ir.Alias(span, normalize_name(text)) for text, span, _ in map(self.text_of, item.aliases)]
                at = self.at(item._tx_position)
                keyword = _AFTER_EVENT_KEYWORD.match(self.text, at)
                seq_at = keyword.end() if keyword else at
                seq_span = self.source.span(seq_at, seq_at + len(item.seq))
                out.append(
                    ir.EventDecl(
                        self.span(item),
                        self.int_value(item.seq, seq_span),
                        seq_span,
                        item.name.name,
                        self.span(item.name),
                        uuid[0] if uuid else None,
                        uuid[1] if uuid else None,
                        desc[0] if desc else None,
                        desc[1] if desc else None,
                        aliases,
                    )
                )
            elif kind == "AgentDecl":
                display = self.text_of(item.display)[0] if item.display else None
                out.append(ir.AgentDecl(self.span(item), item.name.name, self.span(item.name), display))
            elif kind == "GroupDecl":
                display = self.text_of(item.display)[0] if item.display else None
                out.append(ir.GroupDecl(self.span(item), item.name.name, self.span(item.name), display))
            elif kind == "FieldDecl":
                out.append(
                    ir.FieldDecl(
                        self.span(item), item.name.name, self.span(item.name), item.type.name, self.span(item.type)
                    )
                )
            elif kind == "SegmentDecl":
                out.append(ir.SegmentDecl(self.span(item), item.name.name, self.span(item.name), self.expr(item.expr)))
            elif kind == "Flow":
                prio = 0
                if item.priority:
                    start = self.at(item._tx_position)
                    keyword = _PRIORITY_KEYWORD.search(self.text, start)
                    at = keyword.end() if keyword else start
                    prio = self.int_value(item.priority, self.source.span(at, at + len(item.priority)))
                out.append(
                    ir.Flow(
                        self.span(item),
                        item.name.name,
                        self.span(item.name),
                        prio,
                        item.inactive is not None,
                        [self.rule(r) for r in item.rules],
                    )
                )
            else:  # a rule outside any flow
                out.append(self.rule(item))
        return out

    def int_value(self, tok: str, where: Any) -> int:
        """An integer token; `where` is its Span or the textX object that holds it.
        More than MAX_DIGITS digits is an error (E126), and then the value is 0."""
        digits = tok.lstrip("-")
        if len(digits) > MAX_DIGITS:
            span = where if isinstance(where, Span) else self.span(where)
            shown = tok if len(tok) <= 24 else tok[:20] + "..."
            self.report(m.NUMBER_TOO_LARGE, span, value=shown)
            return 0
        return int(tok)

    def rule(self, r: Any) -> ir.Rule:
        events = None
        if r.any is None:
            events = [
                ir.EventRef(self.span(ref), self.int_value(ref.seq, ref) if ref.seq else None, ref.name)
                for ref in r.refs
            ]
        return ir.Rule(self.span(r), events, self.stmt(r.body))

    # statements

    def stmt(self, s: Any) -> ir.Stmt:
        kind = type(s).__name__
        span = self.span(s)
        if kind == "IfStmt":
            branches = [(self.expr(s.cond), self.stmt(s.then))]
            branches += [(self.expr(e.cond), self.stmt(e.body)) for e in s.elifs]
            return ir.If(span, branches, self.stmt(s.orelse) if s.orelse else None)
        if kind == "SwitchStmt":
            cases = [ir.Case(self.span(c), [self.case_value(v) for v in c.values], self.stmt(c.body)) for c in s.cases]
            return ir.Switch(span, self.expr(s.subject), cases, self.stmt(s.default) if s.default else None)
        if kind == "Block":
            return ir.Block(span, [self.stmt(x) for x in s.stmts])
        if kind == "LetStmt":
            return ir.Let(span, s.name.name, self.span(s.name), self.expr(s.value))
        if kind == "EndStmt":
            return ir.End(span)
        action = self.action(s.action)
        return ir.ActionStmt(action.span, action, self.stmt(s.handler) if s.handler else None)

    def action(self, a: Any) -> ir.Action:
        kind = type(a).__name__
        span = self.span(a)
        kw_span = span.at(span.start, span.start + (len(kind) if kind != "SetAction" else 3))
        if kind == "Reply":
            return ir.Reply(kw_span, a.agent.name, self.span(a.agent), self.template(a.text) if a.text else None)
        if kind == "Assign":
            target = None if a.any else a.target.name
            return ir.Assign(kw_span, target, self.span(a.target) if a.target else span, bool(a.group))
        if kind == "SetAction":
            return ir.SetField(kw_span, a.field.name, self.span(a.field), self.expr(a.value))
        if kind == "Convert":
            return ir.Convert(kw_span, self.text_of(a.value)[0])
        return ir.Ticket(kw_span, self.template(a.text))

    def case_value(self, v: Any) -> ir.Lit:
        lit = self.literal(v.value)
        if v.neg:
            if lit.kind not in ("int", "float"):
                raise SyntaxProblem(diagnostic(m.NEGATIVE_NON_NUMBER, lit.span))
            lit.value = -lit.value
        return lit

    def template(self, t: Any) -> ir.Template:
        """Split a string into literal text and `{{ EXPR }}` parts."""
        value, span, offsets = self.text_of(t)
        start = self.at(t._tx_position)
        parts: list[Union[str, ir.Expr]] = []
        text: list[str] = []
        literal_from = 0  # where the current run of literal text starts in `value`
        i = 0
        while i < len(value):
            if value.startswith("{{", i):
                close = _find_close(value, i + 2)
                at = span.at(start + offsets[i], start + offsets[i] + 2)
                if close < 0:
                    other = "'" if t.raw[0] == '"' else '"'  # the form that works inside this string
                    self.report(m.TEMPLATE_UNCLOSED, at, literal=f"{{{{ {other}{{{{{other} }}}}")
                    return ir.Template(span, parts)
                inner = value[i + 2 : close]
                quote = typographic_quote(inner)
                if not inner.strip():
                    self.report(m.TEMPLATE_EMPTY, at)
                elif quote is not None:
                    self.report(m.TYPOGRAPHIC_QUOTE, span.at(start + offsets[i + 2 + quote]), quote=inner[quote])
                else:
                    if text:
                        parts.append("".join(text))
                        self.check_literal(value, literal_from, i, offsets, start, span)
                        text = []
                    where = [start + offsets[k] for k in range(i + 2, close + 1)]
                    self.pending.append((parts, len(parts), inner, where))
                    parts.append("")  # replaced by the parsed expression in parse_templates()
                    literal_from = close + 2
                i = close + 2
            else:
                text.append(value[i])
                i += 1
        if text:
            parts.append("".join(text))
            self.check_literal(value, literal_from, len(value), offsets, start, span)
        return ir.Template(span, parts)

    def check_literal(self, value: str, a: int, b: int, offsets: list[int], start: int, span: Span) -> None:
        """W206 for literal text value[a:b] that looks meant as an expression:
        `{user_fullname}` or `${user_fullname}`, or a stray `}` after `}}`."""
        for found in _PLACEHOLDER.finditer(value, a, b):
            at = span.at(start + offsets[found.start()], start + offsets[found.end() - 1] + 1)
            self.report(m.TEMPLATE_PLACEHOLDER, at, text=found[0], name=found[1])
        if a and value.startswith("}", a):  # `{{ x }}}`: one brace too many
            self.report(m.TEMPLATE_STRAY_BRACE, span.at(start + offsets[a]))

    # expressions

    def expr(self, e: Any) -> ir.Expr:
        kind = type(e).__name__
        return getattr(self, "x_" + kind)(e)

    def between(self, start: int, end: int) -> Span:
        """The span between two textX positions."""
        return self.source.span(self.at(start), self.at(end))

    def x_Expr(self, e: Any) -> ir.Expr:
        tokens: list[tuple] = []
        for i, part in enumerate(e.operands):
            if i:
                op = e.ops[i - 1]
                tokens.append(("binary", _BINARY_NAMES.get(op, op if not op.startswith("not") else "not in")))
            if len(part.prefix) > MAX_BRACKETS:
                span = self.between(part._tx_position, part._tx_position + 3)
                raise SyntaxProblem(diagnostic(m.TOO_MANY_PREFIXES, span, limit=MAX_BRACKETS))
            for prefix in part.prefix:
                tokens.append(("prefix", "-" if prefix == "-" else "not", part._tx_position))
            operand = self.operand(part)
            tokens.append(("operand", operand, part.base._tx_position, part._tx_position_end))
        node, _, _ = _Climb(tokens, self).parse(0)
        return node

    def operand(self, e: Any) -> ir.Expr:
        """An atom and its `.member` / `[index]` trailers (prefixes are the caller's)."""
        result = self.expr(e.base)
        for t in e.trailers:
            span = self.between(e._tx_position, t._tx_position_end)
            if t.member:
                result = ir.Member(span, result, t.member)
            else:
                result = ir.Index(span, result, self.expr(t.index))
        return result

    def x_Paren(self, e: Any) -> ir.Expr:
        return self.expr(e.expr)

    def x_ListLit(self, e: Any) -> ir.Expr:
        return ir.ListExpr(self.span(e), [self.expr(x) for x in e.items])

    def x_NameAtom(self, e: Any) -> ir.Expr:
        if e.call is None:
            return ir.Var(self.span(e), e.name)
        start = e._tx_position
        return ir.Call(self.between(start, start + len(e.name)), e.name, [self.expr(x) for x in e.call.args])

    def literal(self, e: Any) -> ir.Lit:
        return self.expr(e)  # type: ignore[return-value]

    def x_NumberLit(self, e: Any) -> ir.Expr:
        text = e.value
        if text[-1] in _UNIT_SECONDS:
            seconds = self.int_value(text[:-1], e) * _UNIT_SECONDS[text[-1]]
            if seconds > 86400 * MAX_DURATION_DAYS:
                self.report(m.DURATION_TOO_LARGE, self.span(e), value=text[:20])
                seconds = 0
            return ir.Lit(self.span(e), "duration", seconds)
        if "." in text:
            value = float(text)
            if value == float("inf"):
                self.report(m.NUMBER_TOO_LARGE, self.span(e), value=text[:20] + "...")
            return ir.Lit(self.span(e), "float", value)
        return ir.Lit(self.span(e), "int", self.int_value(text, e))

    def x_StrLit(self, e: Any) -> ir.Expr:
        return ir.Lit(self.span(e), "str", self.text_of(e)[0])

    def x_WordLit(self, e: Any) -> ir.Expr:
        if e.value in ("null", "None"):
            return ir.Lit(self.span(e), "null", None)
        return ir.Lit(self.span(e), "bool", e.value.lower() == "true")


_BINARY_NAMES = {"||": "or", "&&": "and"}
_PLACEHOLDER = re.compile(r"\$?\{\s*([^\W\d]\w*)\s*\}")  # {name} or ${name}, as other template languages write it
_AFTER_EVENT_KEYWORD = re.compile(r"event(?:\s|#[^\n]*)*")  # comments may stand between
_PRIORITY_KEYWORD = re.compile(r"\bpriority(?:\s|#[^\n]*)*")
# binding power of binary operators, as in Python; `not` and unary minus sit between
_POWER = {
    "or": 1,
    "and": 2,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "in": 4,
    "not in": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
_NOT_POWER, _COMPARE_POWER, _NEG_POWER = 3, 4, 7


class _Climb:
    """Precedence climbing over the grammar's flat operand/operator chain."""

    def __init__(self, tokens: list[tuple], lower: _Lower):
        self.tokens, self.lower, self.i = tokens, lower, 0

    def parse(self, min_power: int) -> tuple[ir.Expr, int, int]:
        token = self.tokens[self.i]
        self.i += 1
        if token[0] == "prefix":
            op, start = token[1], token[2]
            if op == "not":
                if min_power > _NOT_POWER:
                    span = self.lower.between(start, start + 3)
                    raise SyntaxProblem(diagnostic(m.MISPLACED_NOT, span))
                operand, _, end = self.parse(_NOT_POWER)
                node: ir.Expr = ir.Unary(self.lower.between(start, end), "not", operand)
            else:
                operand, _, end = self.parse(_NEG_POWER)
                if isinstance(operand, ir.Lit) and operand.kind in ("int", "float", "duration"):
                    node = ir.Lit(self.lower.between(start, end), operand.kind, -operand.value)
                else:
                    node = ir.Unary(self.lower.between(start, end), "-", operand)
        else:
            node, start, end = token[1], token[2], token[3]
        chain: Optional[ir.Compare] = None
        while self.i < len(self.tokens):
            op = self.tokens[self.i][1]
            power = _POWER[op]
            if power < min_power:
                break
            self.i += 1
            right, _, end = self.parse(power + 1)
            span = self.lower.between(start, end)
            if power == _COMPARE_POWER:
                if chain is None:
                    chain = ir.Compare(span, [node, right], [op])
                else:  # a < b <= c, as in Python
                    chain.operands.append(right)
                    chain.ops.append(op)
                    chain.span = span
                node = chain
                continue
            chain = None
            if op in ("and", "or"):
                if isinstance(node, ir.BoolOp) and node.op == op:
                    node.operands.append(right)
                    node.span = span
                else:
                    node = ir.BoolOp(span, op, [node, right])
            else:
                node = ir.BinOp(span, op, node, right)
        return node, start, end


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
