"""Text → IR: parse a `.ppflow` source with the grammar's Arpeggio parser
(textX builds it) and lower the parse tree into the typed IR of
`ppdsl.lang.ir`, keeping source locations. A file is parsed and lowered one
top-level item at a time, so memory holds the IR and one item's parse tree.

The parser stops at the first syntax error, so this stage reports at most one
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
from .syntax import abstract_rules, normalize_name, parse_tree, repeated_attrs, syntax_diagnostic, top_items

# --------------------------------------------------------------- text → IR


def parse(source: Source) -> tuple[ir.Program, list[Diagnostic]]:
    """Parse a whole file into IR and the diagnostics found while lowering it
    (string escapes, templates). A syntax error raises SyntaxProblem."""
    from arpeggio import NoMatch

    scan = prescan(source)
    lower = _Lower(source)
    try:
        items = lower.lowered(scan.text)
    except NoMatch as err:
        raise SyntaxProblem(syntax_diagnostic(err, source)) from None
    program = assemble(source.name, items)
    program.comments = scan.comments
    lower.diags[:0] = scan.warnings
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
    where = where or list(range(start, start + len(text) + 1))
    exprs = _parse_exprs(text, source, where)
    if len(exprs) != 1:
        raise SyntaxProblem(diagnostic(m.TEMPLATE_TWO_EXPRESSIONS, source.span(start)))
    lower = _Lower(source, where=where)
    expr = lower.expr(exprs[0])
    if lower.diags:
        raise SyntaxProblem(lower.diags[0])
    return expr


def _parse_exprs(text: str, source: Source, where: Optional[list[int]]) -> list[Any]:
    """The Expr nodes of `text` read with the Exprs rule (expressions
    separated by ';'); `where` places a syntax error in the source."""
    from arpeggio import NoMatch

    try:
        tree = parse_tree(text, "Exprs")
    except NoMatch as err:
        offset = where[min(err.position, len(text))] if where else 0
        raise SyntaxProblem(syntax_diagnostic(err, source, offset=offset, template=True)) from None
    return _listed(tree[0][0])


def _listed(node: Any) -> list[Any]:
    """The values of a list assignment (`a+=X[',']`), without separators."""
    return [child for child in node if child.rule_name != "sep"]


def _fields(node: Any) -> dict[str, Any]:
    """A rule node's assignments by attribute name, as textX would set them:
    a node (or a string, for a match) for `a=X`, a list for `a+=X`, `a*=X`
    and `a=X` inside a repetition, True for `a?=X`."""
    abstract, repeated = abstract_rules(), repeated_attrs()
    out: dict[str, Any] = {}
    for child in node:
        name = getattr(child.rule, "_attr_name", None)
        if name is None:
            continue  # keywords and punctuation
        kind = child.rule_name
        if kind == "__asgn_plain" and (node.rule_name, name) in repeated:
            out.setdefault(name, []).append(_value(child[0], abstract))
        elif kind == "__asgn_plain":
            out[name] = _value(child[0], abstract)
        elif kind == "__asgn_optional":
            out[name] = True
        else:
            out.setdefault(name, []).extend([_value(c, abstract) for c in child if c.rule_name != "sep"])
    return out


def _end(node: Any) -> int:
    """Where a node ends: Arpeggio's position_end, without its recursion
    (a statement nested 500 deep would exceed Python's limit)."""
    while isinstance(node, list):  # a NonTerminal ends where its last child does
        node = node[-1]
    return node.position + len(node.value)  # type: ignore[no-any-return]


def _value(node: Any, abstract: frozenset[str]) -> Any:
    """What textX would store for a node: a match's text (names normalized),
    or a rule's node, the chosen one for an abstract rule such as Stmt."""
    if not isinstance(node, list):  # a Terminal
        return normalize_name(node.value) if node.rule_name == "Name" else node.value
    chosen: Any = node
    while chosen.rule_name in abstract:
        chosen = chosen[0]
    return chosen


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
    """Turns parse-tree nodes into IR nodes. For a template expression,
    `where` maps each position of the text that was parsed (less `shift`,
    where the expression starts in a batch) to its offset in the source:
    escapes in the string make the two differ."""

    def __init__(self, source: Source, where: Optional[list[int]] = None, shift: int = 0, base: int = 0):
        """`base`: where the parsed text starts in the source (a part of a file, see reparse.py)."""
        super().__init__()
        self.source, self.text, self.where, self.shift, self.base = source, source.text, where, shift, base
        # template expressions still to parse: (parts list, position in it, text, source offsets)
        self.pending: list[tuple[list, int, str, list[int]]] = []

    def at(self, pos: int) -> int:
        """The source offset of a position in the parsed text."""
        return pos + self.base if self.where is None else self.where[min(pos - self.shift, len(self.where) - 1)]

    def parse_templates(self) -> None:
        """Parse the file's template expressions in one parser call (each has
        a fixed cost), each distinct text once (templates repeat:
        `{{ user_fullname }}`), then lower every occurrence at its own place.
        On a syntax error, parse them one by one so each error is reported."""
        if not self.pending:
            return
        texts = list(dict.fromkeys(inner for _parts, _i, inner, _at in self.pending))
        joined, starts = "", {}
        for inner in texts:
            starts[inner] = len(joined)
            joined += inner + "\n;"
        try:
            exprs = _parse_exprs(joined[:-1], self.source, None)
            parsed = dict(zip(texts, exprs, strict=False)) if len(exprs) == len(texts) else None
        except SyntaxProblem:
            parsed = None
        lower = _Lower(self.source)  # one for all, its `where` and `shift` set for each
        for parts, i, inner, where in self.pending:
            try:
                if parsed is not None:
                    lower.where, lower.shift, lower.diags = where, starts[inner], []
                    parts[i] = lower.expr(parsed[inner])
                    self.diags += lower.diags
                else:
                    parts[i] = parse_expression(inner, where[0], self.source, where)
            except SyntaxProblem as problem:
                self.diags.append(problem.diag)
        self.pending = []

    def span(self, node: Any) -> Span:
        return self.source.span(self.at(node.position), self.at(_end(node)))

    def text_of(self, node: Any) -> tuple[str, Span, list[int]]:
        """A Text or StrLit node's string, its span and each character's offset in it."""
        span = self.span(node)
        raw = node[0][0].value
        try:
            value, offsets = decode_string(raw, span)
        except SyntaxProblem as problem:
            self.diags.append(problem.diag)
            return raw[1:-1], span, list(range(1, len(raw)))
        return value, span, offsets

    def lowered(self, text: str) -> list[Item]:
        """The top-level items of `text` (the file's, or a part of it that
        starts at `base` and at an item), lowered in file order. A syntax error
        raises Arpeggio's NoMatch (its position in `text`); an error found while
        lowering is put off until the rest has parsed: a syntax error later in
        the text comes first. (item() is called straight from the loop, so that
        nesting takes as many frames as it always did; RecursionError is an
        error too.)"""
        out: list[Item] = []
        problem: Optional[BaseException] = None
        for node in top_items(text):
            if problem is None:
                try:
                    out.append(self.item(node[0]))
                except (SyntaxProblem, RecursionError) as exc:
                    problem = exc
        if problem is not None:
            raise problem
        return out

    def item(self, node: Any) -> Item:
        """A top-level item: a declaration, a flow or a loose rule."""
        kind = node.rule_name
        f = _fields(node)
        if kind == "EventDecl":
            uuid = self.text_of(f["uuid"]) if "uuid" in f else None
            desc = self.text_of(f["description"]) if "description" in f else None
            aliases = [
                ir.Alias(span, normalize_name(text)) for text, span, _ in map(self.text_of, f.get("aliases", []))
            ]
            at = self.at(node.position)
            keyword = _AFTER_EVENT_KEYWORD.match(self.text, at)
            seq_at = keyword.end() if keyword else at
            seq_span = self.source.span(seq_at, seq_at + len(f["seq"]))
            return ir.EventDecl(
                self.span(node),
                self.int_value(f["seq"], seq_span),
                seq_span,
                _name(f["name"]),
                self.span(f["name"]),
                uuid[0] if uuid else None,
                uuid[1] if uuid else None,
                desc[0] if desc else None,
                desc[1] if desc else None,
                aliases,
            )
        if kind == "AgentDecl":
            display = self.text_of(f["display"])[0] if "display" in f else None
            return ir.AgentDecl(self.span(node), _name(f["name"]), self.span(f["name"]), display)
        if kind == "GroupDecl":
            display = self.text_of(f["display"])[0] if "display" in f else None
            return ir.GroupDecl(self.span(node), _name(f["name"]), self.span(f["name"]), display)
        if kind == "FieldDecl":
            name, type_ = f["name"], f["type"]
            return ir.FieldDecl(self.span(node), _name(name), self.span(name), _name(type_), self.span(type_))
        if kind == "SegmentDecl":
            return ir.SegmentDecl(self.span(node), _name(f["name"]), self.span(f["name"]), self.expr(f["expr"]))
        if kind == "Flow":
            prio = 0
            if "priority" in f:
                start = self.at(node.position)
                keyword = _PRIORITY_KEYWORD.search(self.text, start)
                at = keyword.end() if keyword else start
                prio = self.int_value(f["priority"], self.source.span(at, at + len(f["priority"])))
            rules = [self.rule(r) for r in f.get("rules", [])]
            return ir.Flow(self.span(node), _name(f["name"]), self.span(f["name"]), prio, "inactive" in f, rules)
        return self.rule(node)  # a rule outside any flow

    def int_value(self, tok: str, where: Any) -> int:
        """An integer token; `where` is its Span or the node that holds it.
        More than MAX_DIGITS digits is an error (E126), and then the value is 0."""
        digits = tok.lstrip("-")
        if len(digits) > MAX_DIGITS:
            span = where if isinstance(where, Span) else self.span(where)
            shown = tok if len(tok) <= 24 else tok[:20] + "..."
            self.report(m.NUMBER_TOO_LARGE, span, value=shown)
            return 0
        return int(tok)

    def rule(self, node: Any) -> ir.Rule:
        r = _fields(node)
        events = None
        if "any" not in r:
            events = []
            for ref in r["refs"]:
                f = _fields(ref)
                seq = self.int_value(f["seq"], ref) if "seq" in f else None
                events.append(ir.EventRef(self.span(ref), seq, f.get("name")))
        return ir.Rule(self.span(node), events, self.stmt(r["body"]))

    # statements

    def stmt(self, node: Any) -> ir.Stmt:
        kind = node.rule_name
        span = self.span(node)
        s = _fields(node)
        # (the recursion is as deep as before the parse tree was lowered directly, for RecursionError)
        if kind == "IfStmt":
            branches = [(self.expr(s["cond"]), self.stmt(s["then"]))]
            elifs = [_fields(e) for e in s.get("elifs", [])]
            branches += [(self.expr(e["cond"]), self.stmt(e["body"])) for e in elifs]
            return ir.If(span, branches, self.stmt(s["orelse"]) if "orelse" in s else None)
        if kind == "SwitchStmt":
            fields = [(c, _fields(c)) for c in s["cases"]]
            cases = [
                ir.Case(self.span(c), [self.case_value(v) for v in f["values"]], self.stmt(f["body"]))
                for c, f in fields
            ]
            return ir.Switch(span, self.expr(s["subject"]), cases, self.stmt(s["default"]) if "default" in s else None)
        if kind == "Block":
            return ir.Block(span, [self.stmt(x) for x in s.get("stmts", [])])
        if kind == "LetStmt":
            return ir.Let(span, _name(s["name"]), self.span(s["name"]), self.expr(s["value"]))
        if kind == "EndStmt":
            return ir.End(span)
        action = self.action(s["action"])
        return ir.ActionStmt(action.span, action, self.stmt(s["handler"]) if "handler" in s else None)

    def action(self, node: Any) -> ir.Action:
        kind = node.rule_name
        span = self.span(node)
        a = _fields(node)
        kw_span = span.at(span.start, span.start + (len(kind) if kind != "SetAction" else 3))
        if kind == "Reply":
            text = self.template(a["text"]) if "text" in a else None
            return ir.Reply(kw_span, _name(a["agent"]), self.span(a["agent"]), text)
        if kind == "Assign":
            target = None if "any" in a else _name(a["target"])
            return ir.Assign(kw_span, target, self.span(a["target"]) if "target" in a else span, "group" in a)
        if kind == "SetAction":
            return ir.SetField(kw_span, _name(a["field"]), self.span(a["field"]), self.expr(a["value"]))
        if kind == "Convert":
            return ir.Convert(kw_span, self.text_of(a["value"])[0])
        return ir.Ticket(kw_span, self.template(a["text"]))

    def case_value(self, node: Any) -> ir.Lit:
        v = _fields(node)
        lit = self.literal(v["value"])
        if "neg" in v:
            if lit.kind not in ("int", "float"):
                raise SyntaxProblem(diagnostic(m.NEGATIVE_NON_NUMBER, lit.span))
            lit.value = -lit.value
        return lit

    def template(self, t: Any) -> ir.Template:
        """Split a string into literal text and `{{ EXPR }}` parts."""
        value, span, offsets = self.text_of(t)
        start = self.at(t.position)
        parts: list[Union[str, ir.Expr]] = []
        text: list[str] = []
        literal_from = 0  # where the current run of literal text starts in `value`
        i = 0
        while i < len(value):
            if value.startswith("{{", i):
                close = _find_close(value, i + 2)
                at = span.at(start + offsets[i], start + offsets[i] + 2)
                if close < 0:
                    other = "'" if t[0][0].value[0] == '"' else '"'  # the form that works inside this string
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
        return getattr(self, "x_" + e.rule_name)(e)  # type: ignore[no-any-return]

    def between(self, start: int, end: int) -> Span:
        """The span between two positions in the parsed text."""
        return self.source.span(self.at(start), self.at(end))

    def x_Expr(self, e: Any) -> ir.Expr:
        tokens: list[tuple] = []
        for child in e:  # operands=Operand (ops=BinaryOp operands=Operand)*
            if child.rule._attr_name == "ops":
                op = child[0].value
                tokens.append(("binary", _BINARY_NAMES.get(op, op if not op.startswith("not") else "not in")))
                continue
            part = child[0]
            f = _fields(part)
            prefixes = f.get("prefix", [])
            if len(prefixes) > MAX_BRACKETS:
                span = self.between(part.position, part.position + 3)
                raise SyntaxProblem(diagnostic(m.TOO_MANY_PREFIXES, span, limit=MAX_BRACKETS))
            for prefix in prefixes:
                tokens.append(("prefix", "-" if prefix == "-" else "not", part.position))
            operand = self.operand(part, f)
            tokens.append(("operand", operand, f["base"].position, _end(part)))
        node, _, _ = _Climb(tokens, self).parse(0)
        return node

    def operand(self, e: Any, f: dict[str, Any]) -> ir.Expr:
        """An atom and its `.member` / `[index]` trailers (prefixes are the caller's)."""
        result = self.expr(f["base"])
        for t in f.get("trailers", []):
            span = self.between(e.position, _end(t))
            trailer = _fields(t)
            if "member" in trailer:
                result = ir.Member(span, result, trailer["member"])
            else:
                result = ir.Index(span, result, self.expr(trailer["index"]))
        return result

    def x_Paren(self, e: Any) -> ir.Expr:
        return self.expr(_fields(e)["expr"])

    def x_ListLit(self, e: Any) -> ir.Expr:
        return ir.ListExpr(self.span(e), [self.expr(x) for x in _fields(e).get("items", [])])

    def x_NameAtom(self, e: Any) -> ir.Expr:
        f = _fields(e)
        name = f["name"]
        if "call" not in f:
            return ir.Var(self.span(e), name)
        args = _fields(f["call"]).get("args", [])
        return ir.Call(self.between(e.position, e.position + len(name)), name, [self.expr(x) for x in args])

    def literal(self, e: Any) -> ir.Lit:
        return self.expr(e)  # type: ignore[return-value]

    def x_NumberLit(self, e: Any) -> ir.Expr:
        text = e[0][0].value
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
        word = e[0][0].value
        if word in ("null", "None"):
            return ir.Lit(self.span(e), "null", None)
        return ir.Lit(self.span(e), "bool", word.lower() == "true")


def _name(node: Any) -> str:
    """The name of an Id node, normalized."""
    return normalize_name(node[0][0].value)


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
