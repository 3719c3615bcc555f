"""`ppdsl fmt`: one canonical layout for `.ppflow` files.

`format_source(text)` returns the formatted text of a file without errors.
It refuses (`FormatError`) a file with any error diagnostic, and checks its
own work every time (`FormatterBug`): the output must compile to the same
checked program (spans aside), keep every comment in order, and come out
unchanged when formatted again.

The layout, with no options:

- Top-level items (declarations, flows, rules of the implicit `main`) one a
  line, in the user's order; nothing is sorted and nothing aligned in
  columns. Parts of a line are separated by one space, operators by one
  space on each side, items of a list and arguments by ", ".
- `flow NAME priority N inactive {`, `priority` only when it isn't 0; rules
  indented by two spaces; `}` alone. An empty flow or block is `{}`.
- After `->` (of a rule, a `case`, `default`, `on failure`): a simple
  statement (an action without `on failure`, `let`, `end`) stays on the
  line; a block opens on it (`-> {`); anything else goes on the next line,
  two spaces deeper.
- `if COND`, `elif COND` and `else` each start a line, their body on the next
  lines two spaces deeper, or `{` on the same line. After a block, `elif`
  and `else` follow the closing brace: `} else {`.
- `switch EXPR {`, one `case V, W ->` or `default ->` a line, then `}`.
- Blocks: one statement a line.
- Expressions: parentheses only where precedence needs them. `&& || !` are
  written `and or not`, `True TRUE` `true`, `False FALSE` `false`, `None`
  `null`: the IR doesn't keep the spelling, and the language documents them
  as exact synonyms, so the formatter writes the one spelling the reference
  uses.
- Names as the user wrote them (not NFKC-normalised: full-width `ｉｆ` would
  become a keyword). Strings, templates included, keep their text and
  escapes; the quote is the user's unless the other one needs fewer
  escapes (`"say \\"hi\\""` becomes `'say "hi"'`). Numbers keep their digits
  and a duration its unit; leading zeros, and zeros ending a decimal beyond
  the first, go (`007` → `7`, `2.50` → `2.5`, `090m` → `90m`).
- No line-length limit: a long line stays one line.
- Comments keep their text (trailing blanks removed). A comment on its own
  line goes before the code that followed it, at that code's indentation
  (inside the block when that code is a closing `}`); one after code stays
  at the end of that code's line, two spaces after it. A comment inside
  code that the layout puts on one line goes before that line, except the
  last one on its first or last source line, which stays at the end.
- Blank lines the user left are kept, at most two between top-level items
  and at most one inside a flow; none after `{`, before `}`, inside a
  statement, or at the start or end of the file.
- Line ends are LF, or CR LF when the file's first line ends so. A byte
  order mark is dropped.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Union

from ..lang import ir
from ..lang.diagnostics import Diagnostic
from ..lang.span import Source, Span
from ..lang.syntax import STRING
from . import unparse


class FormatError(Exception):
    """The file has errors: it is not formatted."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__(f"{len(diagnostics)} diagnostics")
        self.diagnostics = diagnostics


class FormatterBug(Exception):
    """The formatted text would mean something else, lose a comment, or
    change when formatted again: a bug in ppdsl, and nothing is written."""


def format_source(text: str, filename: str = "<stdin>") -> str:
    """The canonical layout of a `.ppflow` source, verified equivalent and stable."""
    from ..build.pipeline import compile_source

    text = text[1:] if text.startswith("\ufeff") else text
    newline = "\r\n" if re.match(r"[^\r\n]*\r\n", text) else "\n"
    before = compile_source(text, filename, emit=False)
    if before.checked is None:
        raise FormatError(before.diagnostics)
    out = layout(before.checked.program)
    after = compile_source(out, filename, emit=False)
    problem = None
    if after.checked is None:
        errors = [f"{d.line}:{d.col}: {d.message}" for d in after.diagnostics if d.is_error]
        problem = "the formatted text has errors (" + "; ".join(errors) + ")"
    elif shape(after.checked) != shape(before.checked):
        problem = "the formatted text compiles to a different program"
    elif _comments(after.checked.program) != _comments(before.checked.program):
        problem = "the formatted text lost or moved a comment"
    elif layout(after.checked.program) != out:
        problem = "formatting the formatted text changes it again"
    if problem:
        raise FormatterBug(f"{filename}: {problem}")
    return out if newline == "\n" else out.replace("\n", newline)


def shape(checked: ir.CheckedProgram) -> str:
    """The checked program without source positions, for comparing two layouts."""
    return _POSITION.sub(r"\1", ir.dump(checked.program, checked=True))


_POSITION = re.compile(r"^( *[A-Z]\w*) \d+:\d+", re.M)  # a node's line:col, after its type


def _comments(program: ir.Program) -> list[str]:
    return [_comment_text(c) for c in program.comments]


def _comment_text(span: Span) -> str:
    return span.source.text[span.start : span.end].rstrip(" \t")


# --------------------------------------------------------------- the layout


@dataclass
class _Line:
    """One line of output, and the source range it shows (its first token's
    start to its last token's end), which decides where comments go."""

    indent: int
    text: str
    start: int
    end: int
    item: bool = False  # starts an item of a sequence: blank lines before it are kept
    top: bool = False  # a top-level item: up to two blank lines
    closes: bool = False  # starts with `}`: comments before it belong inside the block
    opens: bool = False  # ends with `{`
    leading: list[Span] = field(default_factory=list)
    trailing: list[Span] = field(default_factory=list)


TopItem = Union[ir.EventDecl, ir.AgentDecl, ir.GroupDecl, ir.FieldDecl, ir.SegmentDecl, ir.Flow, ir.Rule]


def layout(program: ir.Program) -> str:
    """The program in the canonical layout, with the comments of its source."""
    return _Layout(program).render()


class _Layout:
    def __init__(self, program: ir.Program):
        self.program = program
        self.comments = program.comments
        self.source = _source_of(program)
        self.src = self.source.text
        self.text = _blank_comments(self.src, self.comments)  # what the parser saw
        self.spell = unparse.Spelling(self.text)
        self.comment_starts = [c.start for c in self.comments]
        self.lines: list[_Line] = []

    # ---- output lines

    def add(self, indent: int, text: str, start: int, end: int, *, opens: bool = False, closes: bool = False) -> None:
        self.lines.append(_Line(indent, text, start, end, opens=opens, closes=closes))

    def item(self, emit: int, top: bool = False) -> None:
        """Mark the first line emitted since `emit` (an index) as an item's start."""
        if emit < len(self.lines):
            self.lines[emit].item = True
            self.lines[emit].top = top

    def top_items(self) -> list[TopItem]:
        p = self.program
        items: list[TopItem] = [*p.events, *p.agents, *p.groups, *p.fields, *p.segments]
        for flow in p.flows:
            items += flow.rules if flow.implicit else [flow]
        return sorted(items, key=lambda item: item.span.start)

    def build(self) -> None:
        for item in self.top_items():
            emit = len(self.lines)
            if isinstance(item, ir.Flow):
                self.flow(item)
            elif isinstance(item, ir.Rule):
                self.rule(item, 0)
            else:
                self.add(0, self.declaration(item), item.span.start, item.span.end)
            self.item(emit, top=True)

    # ---- source positions the IR doesn't keep

    def before(self, pos: int) -> int:
        """Just past the last token before `pos`."""
        while pos > 0 and self.text[pos - 1].isspace():
            pos -= 1
        return pos

    def expr_start(self, e: ir.Expr) -> int:
        """Where an expression starts, with parentheses around it."""
        pos = e.span.start
        while pos > 0 and (self.text[pos - 1].isspace() or self.text[pos - 1] == "("):
            pos -= 1
        return pos

    def expr_end(self, e: ir.Expr) -> int:
        """Where an expression ends, with the parentheses that close after it
        (a call's span is its name, a parenthesised expression's the inside)."""
        if isinstance(e, ir.Call):
            if e.args:
                pos = self.expr_end(e.args[-1])
            else:
                pos = self.text.index("(", e.span.end) + 1
        else:
            pos = e.span.end
        while True:
            after = pos
            while after < len(self.text) and self.text[after].isspace():
                after += 1
            if after == len(self.text) or self.text[after] != ")":
                return pos
            pos = after + 1

    def has_comment(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.comment_starts, start)
        return i < len(self.comment_starts) and self.comment_starts[i] < end

    def code_before(self, pos: int) -> bool:
        """Whether code stands before `pos` on its line."""
        while pos > 0 and self.text[pos - 1] != "\n":
            pos -= 1
            if not self.text[pos].isspace():
                return True
        return False

    # ---- declarations and flows

    def declaration(self, d: Union[ir.EventDecl, ir.AgentDecl, ir.GroupDecl, ir.FieldDecl, ir.SegmentDecl]) -> str:
        name = self.spell.name(d.name_span, d.name)
        if isinstance(d, ir.EventDecl):
            parts = ["event", str(d.seq), name]
            parts += [f"alias {self.string(a.span.start, a.text)}" for a in d.aliases]
            if d.uuid is not None and d.uuid_span is not None:
                parts.append(f"uuid {self.string(d.uuid_span.start, d.uuid)}")
            if d.description is not None and d.description_span is not None:
                parts.append(self.string(d.description_span.start, d.description))
            return " ".join(parts)
        if isinstance(d, (ir.AgentDecl, ir.GroupDecl)):
            kind = "agent" if isinstance(d, ir.AgentDecl) else "group"
            display = "" if d.display is None else " " + self.string(d.name_span.end, d.display)
            return f"{kind} {name}{display}"
        if isinstance(d, ir.FieldDecl):
            return f"field {name} {self.spell.name(d.type_span, d.type_name)}"
        return f"segment {name} = {self.expr(d.expr)}"

    def flow(self, f: ir.Flow) -> None:
        head = "flow " + self.spell.name(f.name_span, f.name)
        if f.priority:
            head += f" priority {f.priority}"
        if f.inactive:
            head += " inactive"
        brace, close = self.text.index("{", f.name_span.end), f.span.end - 1
        if not f.rules and not self.has_comment(brace, close):
            self.add(0, head + " {}", f.span.start, f.span.end)
            return
        self.add(0, head + " {", f.span.start, brace + 1, opens=True)
        for rule in f.rules:
            emit = len(self.lines)
            self.rule(rule, 2)
            self.item(emit)
        self.add(0, "}", close, close + 1, closes=True)

    def rule(self, r: ir.Rule, indent: int) -> None:
        if r.events is None:
            head = "on any event ->"
        else:
            refs = [str(e.seq) if e.seq is not None else self.spell.name(e.span, e.name or "") for e in r.events]
            head = "on event " + ", ".join(refs) + " ->"
        self.attach(head, r.span.start, self.before(r.body.span.start), r.body, indent, inline=True)

    # ---- statements

    def attach(self, head: str, start: int, end: int, body: ir.Stmt, indent: int, *, inline: bool) -> None:
        """`head` then a statement: on the same line when `inline` and it is
        simple, a block opened on the line, or else on the next lines."""
        if inline and _simple(body):
            text, body_end = self.simple(body)
            self.add(indent, f"{head} {text}", start, body_end)
        elif isinstance(body, ir.Block):
            self.block(body, indent, head + " ", start)
        else:
            self.add(indent, head, start, end)
            self.stmt(body, indent + 2)

    def block(self, b: ir.Block, indent: int, prefix: str, start: int) -> None:
        close = b.span.end - 1
        if not b.stmts and not self.has_comment(b.span.start, close):
            self.add(indent, prefix + "{}", start, b.span.end)
            return
        self.add(indent, prefix + "{", start, b.span.start + 1, opens=True)
        for s in b.stmts:
            emit = len(self.lines)
            self.stmt(s, indent + 2)
            self.item(emit)
        self.add(indent, "}", close, close + 1, closes=True)

    def stmt(self, s: ir.Stmt, indent: int) -> None:
        if _simple(s):
            text, end = self.simple(s)
            self.add(indent, text, s.span.start, end)
        elif isinstance(s, ir.ActionStmt):
            assert s.on_failure is not None
            text, _ = self.simple(s)
            handler = s.on_failure
            self.attach(
                text + " on failure ->", s.span.start, self.before(handler.span.start), handler, indent, inline=True
            )
        elif isinstance(s, ir.Block):
            self.block(s, indent, "", s.span.start)
        elif isinstance(s, ir.If):
            self.if_(s, indent)
        else:
            assert isinstance(s, ir.Switch), type(s).__name__
            self.switch(s, indent)

    def if_(self, s: ir.If, indent: int) -> None:
        clauses: list[tuple[str, int, int, ir.Stmt]] = []
        for i, (cond, body) in enumerate(s.branches):
            start = s.span.start if i == 0 else self.expr_start(cond) - len("elif")
            clauses.append((("if " if i == 0 else "elif ") + self.expr(cond), start, body.span.start, body))
        if s.orelse is not None:
            end = self.before(s.orelse.span.start)
            clauses.append(("else", end - len("else"), s.orelse.span.start, s.orelse))
        for i, (head, start, body_start, body) in enumerate(clauses):
            last = self.lines[-1]
            if i and isinstance(clauses[i - 1][3], ir.Block) and last.text == "}" and last.closes:
                self.lines.pop()  # `} else`
                head, start = "} " + head, last.start
            emit = len(self.lines)
            self.attach(head, start, self.before(body_start), body, indent, inline=False)
            if head.startswith("}"):
                self.lines[emit].closes = True

    def switch(self, s: ir.Switch, indent: int) -> None:
        first = s.cases[0].span.start
        self.add(indent, f"switch {self.expr(s.subject)} {{", s.span.start, self.before(first), opens=True)
        for case in s.cases:
            values = ", ".join(unparse.literal(v, spelling=self.spell) for v in case.values)
            emit = len(self.lines)
            self.attach(
                f"case {values} ->",
                case.span.start,
                self.before(case.body.span.start),
                case.body,
                indent + 2,
                inline=True,
            )
            self.item(emit)
        if s.default is not None:
            arrow = self.before(s.default.span.start)
            start = self.before(arrow - 2) - len("default")
            emit = len(self.lines)
            self.attach("default ->", start, arrow, s.default, indent + 2, inline=True)
            self.item(emit)
        close = s.span.end - 1
        self.add(indent, "}", close, close + 1, closes=True)

    def simple(self, s: ir.Stmt) -> tuple[str, int]:
        """The text of a one-line statement (an action without its handler,
        `let`, `end`) and where it ends in the source."""
        if isinstance(s, ir.End):
            return "end", s.span.end
        if isinstance(s, ir.Let):
            return f"let {self.spell.name(s.name_span, s.name)} = {self.expr(s.value)}", s.span.end
        assert isinstance(s, ir.ActionStmt), type(s).__name__
        a = s.action
        if isinstance(a, ir.Reply):
            agent = self.spell.name(a.agent_span, a.agent)
            if a.text is None:
                return f"reply {agent}", a.agent_span.end
            return f"reply {agent} {self.template(a.text)}", a.text.span.end
        if isinstance(a, ir.Assign):
            if a.target is None:
                return "assign any", a.target_span.end
            group = "group " if a.group else ""
            return f"assign {group}{self.spell.name(a.target_span, a.target)}", a.target_span.end
        if isinstance(a, ir.SetField):
            return f"set {self.spell.name(a.field_span, a.field)} = {self.expr(a.value)}", self.expr_end(a.value)
        if isinstance(a, ir.Convert):
            return f"convert {self.string(a.span.end, a.value)}", self.string_end(a.span.end)
        assert isinstance(a, ir.Ticket), type(a).__name__
        return f"ticket {self.template(a.text)}", a.text.span.end

    # ---- expressions and literals

    def expr(self, e: ir.Expr) -> str:
        return unparse.expr(e, spelling=self.spell)

    def string(self, pos: int, value: str) -> str:
        """The string literal at `pos` (or after blanks) as written."""
        return self.spell.string_at(pos) or unparse.string(value)

    def string_end(self, pos: int) -> int:
        found = STRING.search(self.text, pos)
        return found.end() if found else pos

    def template(self, t: ir.Template) -> str:
        return self.spell.string_at(t.span.start) or unparse.template(t)

    # ---- comments and blank lines

    def place_comments(self) -> list[Span]:
        """Give each comment to a line, as leading or trailing; those after
        the last line are returned."""
        starts = [line.start for line in self.lines]
        index = self.source.index
        after: list[Span] = []
        for c in self.comments:
            k = bisect.bisect_left(starts, c.start)
            if k and c.start < self.lines[k - 1].end:  # inside code the layout puts on one line
                line = self.lines[k - 1]
                edge = index.line_of(c.start) in (index.line_of(line.start), index.line_of(line.end - 1))
                (line.trailing if edge else line.leading).append(c)
            elif k and self.code_before(c.start):
                self.lines[k - 1].trailing.append(c)
            elif k < len(self.lines):
                self.lines[k].leading.append(c)
            else:
                after.append(c)
        for line in self.lines:  # the last comment may end the line; the others go before it
            if line.trailing:
                ordered = sorted(line.leading + line.trailing, key=lambda c: c.start)
                last = ordered[-1] in line.trailing
                line.leading, line.trailing = (ordered[:-1], ordered[-1:]) if last else (ordered, [])
        return after

    def render(self) -> str:
        self.build()
        after = self.place_comments()
        out: list[str] = []
        blanks = _BlankLines(self.src)
        last_pos = -1  # the source position of what was written last
        last_opens = True  # nothing written yet counts as just after `{`

        def blank(pos: int, allowed: bool, top: bool) -> None:
            if allowed and not last_opens:
                out.extend([""] * min(blanks.between(last_pos, pos), 2 if top else 1))

        for line in self.lines:
            for c in line.leading:
                blank(c.start, line.item or line.closes, line.top)
                out.append(" " * (line.indent + 2 * line.closes) + _comment_text(c))
                last_pos, last_opens = c.end, False
            blank(line.start, line.item and not line.closes, line.top)
            text = " " * line.indent + line.text
            last_pos = line.end
            if line.trailing:
                text += "  " + _comment_text(line.trailing[0])
                last_pos = line.trailing[0].end
            out.append(text)
            last_opens = line.opens
        for c in after:
            blank(c.start, True, True)
            out.append(_comment_text(c))
            last_pos, last_opens = c.end, False
        return "".join(line + "\n" for line in out)


class _BlankLines:
    """Counts the blank source lines between two positions."""

    def __init__(self, text: str):
        self.text = text
        lines = text.split("\n")
        self.starts = [0]
        self.count = [0]  # blank lines among the first n lines
        for line in lines:
            self.starts.append(self.starts[-1] + len(line) + 1)
            self.count.append(self.count[-1] + (not line.strip(" \t")))

    def line_of(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos)

    def between(self, a: int, b: int) -> int:
        if a < 0 or b <= a:
            return 0
        first, last = self.line_of(a), self.line_of(b)
        return max(0, self.count[last - 1] - self.count[first]) if last > first + 1 else 0


def _simple(s: ir.Stmt) -> bool:
    return isinstance(s, (ir.End, ir.Let)) or isinstance(s, ir.ActionStmt) and s.on_failure is None


def _source_of(program: ir.Program) -> Source:
    for node in ir.walk(program):  # the first node with a span has one at once
        if isinstance(getattr(node, "span", None), Span):
            return node.span.source
    return program.comments[0].source if program.comments else Source(program.filename, "")


def _blank_comments(text: str, comments: list[Span]) -> str:
    pieces, last = [], 0
    for c in comments:
        pieces += [text[last : c.start], " " * (c.end - c.start)]
        last = c.end
    return "".join(pieces) + text[last:]
