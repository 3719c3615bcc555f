"""IR → one readable, standalone Python module. CodeGenerator writes the
rules (statements and expressions, with a line map); the Jinja2 template in
templates/ holds the module's skeleton around them.

Source text never becomes code: names and strings from the `.ppflow` file are
written only as `repr()` literals, generated identifiers are numbered
(`_flow_1`, `_l2`, `_seg_3`), and the `# file:LINE` comments carry a
sanitized file name.
"""

from __future__ import annotations

import io
import re
import tokenize
from functools import cache
from importlib import resources
from collections.abc import Sequence
from pathlib import Path
from typing import Optional, Protocol, TypeVar
from collections.abc import Callable

from .. import runtime
from ..version import __version__
from ..lang import ir
from ..lang.messages import PYTHON_MAX_NESTING
from ..lang.names import FUNCTIONS, SYSTEM_VARS
from ..lang.span import Span
from . import linemap

_EVENT_ATTRS = {
    "track_event_seq": "E.seq",
    "track_event_uuid": "E.uuid",
    "track_event_count": "E.count",
    "track_event_data": "E.data_text",
    "data": "E.data",
    "now": "E.now",
}
_CHAIN_TESTS = {
    "<": "_lt",
    "<=": "_le",
    ">": "_gt",
    ">=": "_ge",
    "==": "_eq",
    "!=": "_ne",
    "in": "_in",
    "not in": "_not_in",
}
_ARITH_HELPERS = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "%": "_mod"}
_SET_CONVERT = {"int": "_int", "float": "_float", "str": "_str", "bool": "_bool", "datetime": "_datetime_text"}


def safe_comment(text: str) -> str:
    """A file name fit for a comment: anything but [A-Za-z0-9._-] becomes '_'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:80] or "_"


def runtime_source() -> str:
    """The runtime's parts as they are pasted into every module (see ppdsl/runtime)."""
    folder = resources.files("ppdsl.runtime")
    parts = [folder.joinpath(f"{name}.py").read_text(encoding="utf-8") for name in runtime.PARTS]
    return "\n\n".join(text.split(runtime.MARKER, 1)[1].strip("\n") for text in parts) + "\n"


class _Located(Protocol):
    """An IR node: it knows where it stands in the .ppflow file."""

    @property
    def span(self) -> Span: ...


# CPython's compiler recurses once per `elif` (an elif is an `if` in the
# else of the one before) and once per `+`, and gives up near 3,000 levels.
# Longer chains are emitted as flat runs of CHAIN arms, longer templates as
# one join; below these sizes the code is as plain as it can be.
CHAIN = 32
JOIN = 32

_Arm = tuple[str, _Located, str, ir.Stmt]  # test code, where it comes from, its kind, the body
_T = TypeVar("_T")


class CodeGenerator:
    """IR → Python, one visitor for all of it: statements are written line by
    line through `writeline`, which records the `.ppflow` node of each line (as
    Jinja2's compiler.py does), and expressions come back as code strings.
    ppdsl.condition uses the expression half alone."""

    def __init__(self, program: ir.Program, source_name: str) -> None:
        self.program = program
        self.source_name = safe_comment(source_name)
        self.constants: dict[str, str] = {}  # code -> module-level name
        self.segment_index = {s.name: i for i, s in enumerate(program.segments, 1)}
        self.flow: Optional[ir.Flow] = None
        self.temps = 0
        self.chains = 0
        self.fast = 0  # numbered temporaries of the comparisons' fast path (_n1, _n2, ...)
        # when set, numeric visitor reads become locals read once (code -> (local, kind)),
        # so that ppdsl.condition can guard a fast path on their types
        self.hoisted: Optional[dict[str, tuple[str, str]]] = None
        self.uses_event = False
        self.targets: set[str] = set()  # agents and groups that actions aim at (for --fail)
        self.lines: list[str] = []
        self.origins: list[tuple[int, int, int, str]] = []  # (index in lines + 1, .ppflow line, col, kind)
        self.depth = 0

    def read(self, code: str, kind: str) -> str:
        if self.hoisted is None or kind not in ("int", "float"):
            return code
        if code not in self.hoisted:
            self.hoisted[code] = (f"_v{len(self.hoisted) + 1}", kind)
        return self.hoisted[code][0]

    # --- writing lines

    def writeline(self, code: str, node: Optional[_Located] = None, kind: str = "") -> None:
        """One line at the current depth; with a node, its `# file:LINE` comment and its line map row."""
        if node is None:
            self.lines.append("    " * self.depth + code)
            return
        line, col = node.span.source.index.line_col(node.span.start)
        self.lines.append(f"{'    ' * self.depth}{code}  # {self.source_name}:{line}")
        self.origins.append((len(self.lines), line, col, kind))

    def blank(self) -> None:
        self.lines += ["", ""]

    def indented(self, s: ir.Stmt) -> None:
        self.depth += 1
        self.stmt(s)
        self.depth -= 1

    # --- module parts

    def segment(self, index: int, seg: ir.SegmentDecl) -> None:
        self.writeline(f"def _seg_{index}(V, E):", seg, "segment")
        self.depth += 1
        self.writeline(f"return {self.expr(seg.expr)}", seg.expr, "expr")
        self.depth -= 1
        self.blank()

    def flow_function(self, index: int, flow: ir.Flow) -> None:
        self.flow, self.temps, self.chains = flow, 0, 0
        self.writeline(f"def _flow_{index}(R, V, E):", flow, "flow")
        self.depth += 1
        self.writeline("seq = E.seq")
        self.chain([rule for rule in flow.rules if rule.seqs], self.rule_arm, None, "")
        self.depth -= 1
        self.blank()

    def rule_arm(self, i: int, rule: ir.Rule) -> _Arm:
        seqs = rule.seqs
        test = f"seq == {seqs[0]}" if len(seqs) == 1 else f"seq in {tuple(seqs)!r}"
        return test, rule, "rule", rule.body

    # --- statements

    def stmt(self, s: ir.Stmt) -> None:
        getattr(self, "s_" + type(s).__name__)(s)

    def chain(
        self, items: Sequence[_T], arm: Callable[[int, _T], _Arm], orelse: Optional[ir.Stmt], else_kind: str
    ) -> None:
        """if/elif/else over `items`, `arm(i, item)` giving each arm just before
        its line is written. Past CHAIN arms, the chain goes on as a new `if`
        that a flag lets through only when no earlier arm was taken."""
        flag = ""
        if len(items) > CHAIN:
            self.chains += 1
            flag = f"_c{self.chains}"
            self.writeline(f"{flag} = 0")
        for i, item in enumerate(items):
            test, node, kind, body = arm(i, item)
            if i == 0:
                self.writeline(f"if {test}:", node, kind)
            else:
                if i % CHAIN == 0:
                    self.writeline("else:")
                    self.depth += 1
                    self.writeline(f"{flag} = {i}")
                    self.depth -= 1
                    self.writeline(f"if {flag} != {i}:")
                    self.depth += 1
                    self.writeline("pass")
                    self.depth -= 1
                self.writeline(f"elif {test}:", node, kind)
            self.indented(body)
        if orelse is not None and items:
            self.writeline("else:", orelse, else_kind)
            self.indented(orelse)
        elif orelse is not None:
            self.stmt(orelse)

    def s_If(self, s: ir.If) -> None:
        def arm(i: int, branch: tuple[ir.Expr, ir.Stmt]) -> _Arm:
            cond, body = branch
            return self.expr(cond), cond, "elif" if i else "if", body

        self.chain(s.branches, arm, s.orelse, "else")

    def s_Switch(self, s: ir.Switch) -> None:
        self.temps += 1
        temp = f"_s{self.temps}"
        self.writeline(f"{temp} = {self.expr(s.subject)}", s, "switch")

        def arm(i: int, case: ir.Case) -> _Arm:
            return " or ".join(self.equals(temp, ir.Ty("any"), lit) for lit in case.values), case, "case", case.body

        self.chain(s.cases, arm, s.default, "default")

    def s_Block(self, s: ir.Block) -> None:
        for x in s.stmts:
            self.stmt(x)
        if not s.stmts:
            self.writeline("pass", s, "pass")

    def s_Let(self, s: ir.Let) -> None:
        self.writeline(f"_l{s.slot} = {self.expr(s.value)}", s, "let")

    def s_End(self, s: ir.End) -> None:
        self.writeline("return", s, "end")

    def s_ActionStmt(self, s: ir.ActionStmt) -> None:
        assert self.flow is not None
        a, name = s.action, repr(self.flow.name)
        if isinstance(a, ir.SetField):
            self.writeline(f"_set(R, V, {name}, {s.span.line}, {a.field!r}, {self.set_value(a)})", s, "action")
            return
        if isinstance(a, ir.Convert):
            self.writeline(f"_convert(R, V, {name}, {s.span.line}, {a.value!r})", s, "action")
            return
        self.writeline(f"if not _do(R, {self.action(a)}):", s, "action")
        if s.on_failure is None:
            self.depth += 1
            self.writeline("return", s, "failed")
            self.depth -= 1
        else:
            self.indented(s.on_failure)

    # --- pieces of statements

    def action(self, a: ir.Stmt) -> str:
        assert self.flow is not None
        head = f"'flow': {self.flow.name!r}, 'line': {a.span.line}"
        if isinstance(a, ir.Reply):
            self.targets.add(a.agent)
            text = self.template(a.text) if a.text else "None"
            return f"{{{head}, 'type': 'reply', 'agent': {a.agent!r}, 'text': {text}}}"
        if isinstance(a, ir.Assign):
            if a.target is None:
                target = "'any': True"
            else:
                self.targets.add(a.target)
                target = f"{'group' if a.group else 'agent'!r}: {a.target!r}"
            return f"{{{head}, 'type': 'assign', {target}}}"
        assert isinstance(a, ir.Ticket)
        return f"{{{head}, 'type': 'ticket', 'text': {self.template(a.text)}}}"

    def set_value(self, a: ir.SetField) -> str:
        code = self.expr(a.value)
        ty = a.value.ty
        if a.field_type in _SET_CONVERT and not (ty.sure and ty.kind == a.field_type):
            return f"{_SET_CONVERT[a.field_type]}({code})"
        return code

    def template(self, t: ir.Template) -> str:
        pieces = []
        for part in t.parts:
            if isinstance(part, str):
                pieces.append(repr(part))
            elif part.ty.sure and part.ty.kind == "str":
                pieces.append(self.expr(part))
            else:
                pieces.append(f"_fmt({self.expr(part)})")
        if len(pieces) > JOIN:
            return f"''.join([{', '.join(pieces)}])"
        return " + ".join(pieces) if pieces else "''"

    def const(self, code: str) -> str:
        if code not in self.constants:
            self.constants[code] = f"_K{len(self.constants) + 1}"
        return self.constants[code]

    # --- expressions

    def expr(self, e: ir.Expr) -> str:
        return getattr(self, "e_" + type(e).__name__)(e)

    def e_Lit(self, e: ir.Lit) -> str:
        if e.kind == "duration":
            return self.const(f"_timedelta(seconds={int(e.value)!r})")
        return repr(e.value)

    def e_ListExpr(self, e: ir.ListExpr) -> str:
        return "[" + ", ".join(self.expr(x) for x in e.items) + "]"

    def e_Var(self, e: ir.Var) -> str:
        b = e.binding
        if isinstance(b, ir.LetBinding):
            return f"_l{b.slot}"
        if isinstance(b, ir.EventVarBinding):
            self.uses_event = True
            return _EVENT_ATTRS[b.name]
        if isinstance(b, ir.StatBinding):
            return self.stat(b.kind, b.seq)
        if isinstance(b, ir.SegmentBinding):
            return f"_seg_{self.segment_index[b.name]}(V, E)"
        assert isinstance(b, ir.VisitorVarBinding), "the checker resolves every name"
        read = f"V.get({b.name!r})"
        return f"_dt({read})" if b.kind == "datetime" else self.read(read, b.kind)

    def stat(self, kind: str, seq: int) -> str:
        key = f"event_{kind}_{seq}"
        if kind == "count":
            return self.read(f"V.get({key!r}, 0)", "int")
        read = f"V.get({key!r})"
        return f"_dt({read})" if kind in ("first_time", "last_time") else read

    def e_Call(self, e: ir.Call) -> str:
        func = FUNCTIONS[e.func]
        if func.stat:
            assert e.seq is not None
            return self.stat(e.func, e.seq)
        args = [self.expr(a) for a in e.args]
        if e.func == "exists":
            ty = e.args[0].ty
            return repr(ty.kind != "null") if ty.sure or ty.kind == "null" else f"({args[0]} is not None)"
        if e.func == "matches":
            assert e.regex is not None
            return f"_matches({args[0]}, {self.const(f'_re.compile({e.regex!r})')})"
        return f"{func.helper}({', '.join(args)})"

    def e_Member(self, e: ir.Member) -> str:
        return f"_get({self.expr(e.obj)}, {e.name!r})"

    def e_Index(self, e: ir.Index) -> str:
        return f"_idx({self.expr(e.obj)}, {self.expr(e.index)})"

    def e_Unary(self, e: ir.Unary) -> str:
        inner = self.expr(e.operand)
        if e.op == "not":
            return f"(not {inner})"
        return f"(-{inner})" if e.operand.ty.sure and e.operand.ty.kind == "int" else f"_neg({inner})"

    def e_BinOp(self, e: ir.BinOp) -> str:
        left, right = self.expr(e.left), self.expr(e.right)
        if e.ty.sure:  # int + int, int - int: plain Python can't fail
            return f"({left} {e.op} {right})"
        return f"{_ARITH_HELPERS[e.op]}({left}, {right})"

    def e_BoolOp(self, e: ir.BoolOp) -> str:
        return "(" + f" {e.op} ".join(self.expr(x) for x in e.operands) + ")"

    def e_Compare(self, e: ir.Compare) -> str:
        if len(e.ops) > 1:
            # a < b <= c: every operand is evaluated once (expressions are pure,
            # so evaluating all of them up front gives the same result)
            items = [self.expr(e.operands[0])]
            for op, operand in zip(e.ops, e.operands[1:], strict=False):
                items += [_CHAIN_TESTS[op], self.expr(operand)]
            return f"_chain({', '.join(items)})"
        (op,), (a, b) = e.ops, e.operands
        if op in ("==", "!="):
            test = self.equals(self.expr(a), a.ty, b)
            return test if op == "==" else f"(not {test})"
        if op in ("in", "not in"):
            return f"{_CHAIN_TESTS[op]}({self.expr(a)}, {self.expr(b)})"
        if _plain_number(a.ty) and _plain_number(b.ty):
            return f"({self.expr(a)} {op} {self.expr(b)})"
        left, right = self.expr(a), self.expr(b)
        for read, ty, other in ((left, a.ty, b.ty), (right, b.ty, a.ty)):
            if self.hoisted is None and ty.kind in ("int", "float") and _plain_number(other) and _is_read(read):
                # a visitor number against a sure one: plain `>` when the value has its
                # declared type, which it nearly always has; the helper otherwise
                self.fast += 1
                t = f"_n{self.fast}"
                x, y = (t, right) if read is left else (left, t)
                return f"({x} {op} {y} if type({t} := {read}) is {ty.kind} else {_CHAIN_TESTS[op]}({x}, {y}))"
        return f"{_CHAIN_TESTS[op]}({left}, {right})"

    def equals(self, left: str, left_ty: ir.Ty, b: ir.Expr) -> str:
        right = self.expr(b)
        for code, ty, other in ((left, left_ty, b.ty), (right, b.ty, left_ty)):
            if other.kind == "null":  # `x == null`; decided now when x is a literal too
                return repr(ty.kind == "null") if ty.sure or ty.kind == "null" else f"({code} is None)"
        # bool == number is the one case where Python's == disagrees with ppflow's
        if (isinstance(b, ir.Lit) and b.kind == "str") or (_plain_number(left_ty) and _plain_number(b.ty)):
            return f"({left} == {right})"
        return f"_eq({left}, {right})"


def _plain_number(ty: ir.Ty) -> bool:
    return ty.sure and ty.kind in ("int", "float")


def _is_read(code: str) -> bool:
    """A plain read of one visitor variable, `V.get('name')` or `V.get('name', 0)`."""
    return re.fullmatch(r"V\.get\('[A-Za-z0-9_]+'(?:, 0)?\)", code) is not None


@cache
def _environment():  # type: ignore[no-untyped-def]
    """One Jinja2 environment per process: it keeps the compiled template."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["py"] = repr
    return env


# Stand-ins for the generated code in the rendered skeleton: repr() keeps a NUL
# out of every table, so they can't occur anywhere else.
_FLOWS_MARK = "\x00flows\x00"
_MAP_MARK = "\x00line map\x00"


def generate(checked: ir.CheckedProgram, source_name: str) -> str:
    """Python source of the compiled module for a checked program."""
    program = checked.program
    gen = CodeGenerator(program, source_name)
    for i, seg in enumerate(program.segments, 1):
        gen.segment(i, seg)
    active = checked.active_flows
    for i, flow in enumerate(active, 1):
        gen.flow_function(i, flow)
    decls = sorted(program.events, key=lambda e: e.seq)
    events = {e.seq: {"name": e.name, "uuid": e.uuid, "description": e.description} for e in decls}
    template = _environment().get_template("module.py.j2")
    flows_by_event = _dispatch(active)
    skeleton = template.render(
        version=__version__,
        source_name=gen.source_name,
        runtime=runtime_source(),
        events=events,
        names={e.seq: e.name for e in decls},
        uuids={e.seq: e.uuid for e in decls},
        by_name={name: e.seq for e in decls for name in [e.name, *(a.text for a in e.aliases)]},
        by_uuid={e.uuid: e.seq for e in decls if e.uuid},
        declared=bool(program.events),
        targets=tuple(sorted(gen.targets)),
        agents={a.name: a.display or a.name for a in program.agents},
        visitor_keys=tuple(sorted({*SYSTEM_VARS, *(f.name for f in program.fields)})),
        constants=[(name, code) for code, name in gen.constants.items()],
        flows_code=_FLOWS_MARK,
        flow_count=len(active),
        flows_by_event=flows_by_event,
        line_map=_MAP_MARK,
    )
    # the rules go in after _tidy, which has nothing to do for them; the map's
    # line numbers count from where they start
    head, tail = _tidy(skeleton).split(_FLOWS_MARK + "\n")
    if gen.lines:
        lines = "\n".join(gen.lines).rstrip("\n") + "\n"
    else:
        lines, tail = "", tail.lstrip("\n")
    text = head + lines + tail.replace(_MAP_MARK, linemap.dumps(gen.origins, head.count("\n")))
    check_nesting(text)
    return text


def _dispatch(active: Sequence[ir.Flow]) -> dict[int, list[int]]:
    """For each event, the flows (numbers of `_flow_N`, in run order) that have
    something to do for it. A flow is left out of an event's list when it has
    no rule for it, or when the rule that takes it is only `end` (or `{ }`):
    calling it could do nothing. `handle` then calls only these, which keeps
    an event's work to its own flows, and lets a big module compile a flow
    when an event first needs it (ppdsl/build/lazy.py)."""
    runs: dict[int, list[int]] = {}
    for i, flow in enumerate(active, 1):
        for rule in flow.rules:
            if not _does_nothing(rule.body):
                for seq in rule.seqs:
                    runs.setdefault(seq, []).append(i)
    return dict(sorted(runs.items()))


def _does_nothing(body: ir.Stmt) -> bool:
    if isinstance(body, ir.Block):
        return not body.stmts or isinstance(body.stmts[0], ir.End)
    return isinstance(body, ir.End)


class TooDeep(Exception):
    """Generated code would nest more brackets than CPython's parser allows."""

    def __init__(self, line: int):
        super().__init__(f"line {line}")
        self.line = line


def check_nesting(code: str) -> None:
    """Raise TooDeep (with the .ppflow line) for a generated line that CPython
    could not parse. Only lines with many brackets are tokenized."""
    least = PYTHON_MAX_NESTING - 20
    for text in code.splitlines():
        if len(text) < least or sum(text.count(c) for c in "([{") < least:
            continue
        depth = deepest = 0
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.OP and tok.string in "([{":
                depth += 1
                deepest = max(deepest, depth)
            elif tok.type == tokenize.OP and tok.string in ")]}":
                depth -= 1
        if deepest >= PYTHON_MAX_NESTING - 10:
            where = re.search(r"# [A-Za-z0-9._-]+:([0-9]+)$", text)
            raise TooDeep(int(where.group(1)) if where else 1)


def _tidy(text: str) -> str:
    """Drop the blank lines that template blocks leave inside functions."""
    out: list[str] = []
    blanks = 0
    for line in text.splitlines():
        line = line.rstrip()
        if not line:
            blanks += 1
            continue
        if out and not line.startswith(" "):
            out += [""] * min(blanks, 2)
        blanks = 0
        out.append(line)
    return "\n".join(out) + "\n"
