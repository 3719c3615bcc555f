"""The typed program that passes from the parser to the checker and on to
the code generator.

Every node keeps its Span (offsets into its Source), so any stage can point
back at the `.ppflow` text. The checker fills in the resolution fields (`ty`,
`binding`, `seq`, ...) and returns a CheckedProgram: only a checked program
reaches the code generator. `walk()` visits every node; `dump()` prints a
tree for stage-level tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Optional, Union

from .span import Span


# --------------------------------------------------------------- types


@dataclass(frozen=True)
class Ty:
    """A static type. `kind` is int float str bool datetime duration list json
    null or any; `sure` means the value is never
    null and always of that kind at run time, so generated code may use plain
    Python operators on it."""

    kind: str
    sure: bool = False

    def __str__(self) -> str:
        return self.kind


# --------------------------------------------------------------- expressions


@dataclass
class Expr:
    span: Span
    ty: Ty = field(default=Ty("any"), init=False, compare=False)


@dataclass
class Lit(Expr):
    kind: str  # int float str bool null duration
    value: Any  # duration: seconds as int


@dataclass
class ListExpr(Expr):
    items: list[Expr]


# --------------------------------------------------------------- what a name is bound to


@dataclass(frozen=True)
class LetBinding:
    slot: int  # numbered per flow: the generated local is _l{slot}


@dataclass(frozen=True)
class EventVarBinding:
    name: str  # track_event_seq, data, now, ...


@dataclass(frozen=True)
class StatBinding:
    kind: str  # count, first_time, last_time, last_data
    seq: int


@dataclass(frozen=True)
class VisitorVarBinding:
    """A visitor variable: a PPMessage system variable, an extra_field_*, or a declared field."""

    name: str
    kind: str  # the value kind it is declared with; "json" when unknown
    declared: bool = False  # a `field` of this file


@dataclass(frozen=True)
class SegmentBinding:
    name: str


Binding = Union[LetBinding, EventVarBinding, StatBinding, VisitorVarBinding, SegmentBinding]


@dataclass
class Var(Expr):
    name: str
    binding: Optional[Binding] = field(default=None, init=False)  # set by the checker


@dataclass
class Call(Expr):
    func: str
    args: list[Expr]
    seq: Optional[int] = field(default=None, init=False)  # for count() and friends
    regex: Optional[str] = field(default=None, init=False)  # for matches()


@dataclass
class Member(Expr):
    obj: Expr
    name: str


@dataclass
class Index(Expr):
    obj: Expr
    index: Expr


@dataclass
class Unary(Expr):
    op: str  # "not" or "-"
    operand: Expr


@dataclass
class BinOp(Expr):
    op: str  # + - * / %
    left: Expr
    right: Expr


@dataclass
class BoolOp(Expr):
    op: str  # and / or
    operands: list[Expr]


@dataclass
class Compare(Expr):
    operands: list[Expr]
    ops: list[str]  # == != < <= > >= in "not in"


@dataclass
class Template:
    span: Span
    parts: list[Union[str, Expr]]


# --------------------------------------------------------------- statements


@dataclass
class Stmt:
    span: Span


@dataclass
class If(Stmt):
    branches: list[tuple[Expr, Stmt]]
    orelse: Optional[Stmt]


@dataclass
class Case:
    span: Span
    values: list[Lit]
    body: Stmt


@dataclass
class Switch(Stmt):
    subject: Expr
    cases: list[Case]
    default: Optional[Stmt]


@dataclass
class Block(Stmt):
    stmts: list[Stmt]


@dataclass
class Let(Stmt):
    name: str
    name_span: Span
    value: Expr
    slot: int = field(default=0, init=False)  # set by the checker


@dataclass
class End(Stmt):
    pass


@dataclass
class Reply(Stmt):
    agent: str
    agent_span: Span
    text: Optional[Template]


@dataclass
class Assign(Stmt):
    target: Optional[str]  # None for `assign any`
    target_span: Span
    group: bool


@dataclass
class SetField(Stmt):
    field_type: str = field(
        default="json", init=False
    )  # set by the checker (declared before `field`, which shadows dataclasses.field here)
    field: str
    field_span: Span
    value: Expr


@dataclass
class Convert(Stmt):
    value: str


@dataclass
class Ticket(Stmt):
    text: Template


Action = Union[Reply, Assign, SetField, Convert, Ticket]


@dataclass
class ActionStmt(Stmt):
    action: Action
    on_failure: Optional[Stmt]


# --------------------------------------------------------------- declarations


@dataclass
class EventRef:
    span: Span
    seq: Optional[int]
    name: Optional[str]
    resolved: Optional[int] = field(default=None, init=False)


@dataclass
class Rule:
    span: Span
    events: Optional[list[EventRef]]  # None: any event
    body: Stmt
    seqs: list[int] = field(default_factory=list, init=False)  # set by the checker


@dataclass
class Flow:
    span: Span
    name: str
    name_span: Span
    priority: int
    inactive: bool
    rules: list[Rule]
    implicit: bool = False


@dataclass
class EventDecl:
    span: Span
    seq: int
    seq_span: Span
    name: str
    name_span: Span
    uuid: Optional[str]
    uuid_span: Optional[Span]
    description: Optional[str]
    description_span: Optional[Span]
    aliases: list[Alias] = field(default_factory=list)


@dataclass
class Alias:
    """Another event_name a page may send for an event (docs/language.md section 3.1)."""

    span: Span
    text: str


@dataclass
class AgentDecl:
    span: Span
    name: str
    name_span: Span
    display: Optional[str]


@dataclass
class GroupDecl:
    span: Span
    name: str
    name_span: Span
    display: Optional[str]


@dataclass
class FieldDecl:
    span: Span
    name: str
    name_span: Span
    type_name: str
    type_span: Span


@dataclass
class SegmentDecl:
    span: Span
    name: str
    name_span: Span
    expr: Expr


Decl = Union[EventDecl, AgentDecl, GroupDecl, FieldDecl, SegmentDecl]


@dataclass
class Program:
    filename: str
    events: list[EventDecl]
    agents: list[AgentDecl]
    groups: list[GroupDecl]
    fields: list[FieldDecl]
    segments: list[SegmentDecl]
    flows: list[Flow]  # in file order; the implicit `main` stands where its first rule is
    comments: list[Span] = field(default_factory=list, repr=False)  # `#` to the end of the line


@dataclass
class CheckedProgram:
    """A program the checker passed without errors, its names resolved and its
    expressions typed. The code generator takes nothing else."""

    program: Program
    segment_types: dict[str, Ty]

    @property
    def active_flows(self) -> list[Flow]:
        """The flows that run, in run order: descending priority, ties in file order."""
        return sorted((f for f in self.program.flows if not f.inactive), key=lambda f: -f.priority)


# --------------------------------------------------------------- walk and dump


def walk(node: Any) -> Iterator[Any]:
    """Every IR node under `node` (itself included), depth first, in field order."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif is_dataclass(item) and not isinstance(item, (Span, Ty)) and not isinstance(item, type):
            yield item
            stack.extend(reversed([getattr(item, f.name) for f in fields(item)]))


def dump(node: Any, *, checked: bool = False) -> str:
    """An indented tree of the IR, one node a line with its line:col. Fields
    the checker fills in (types, bindings, slots) are shown with `checked`."""
    out: list[str] = []
    _dump(node, "", out, checked)
    return "\n".join(out) + "\n"


def _dump(node: Any, pad: str, out: list[str], checked: bool) -> None:
    if isinstance(node, tuple):  # an if branch: (condition, body)
        out.append(pad + "branch")
        for item in node:
            _dump(item, pad + "  ", out, checked)
        return
    if not _is_node(node):
        out.append(pad + repr(node))
        return
    head = type(node).__name__
    if isinstance(getattr(node, "span", None), Span):
        head += f" {node.span.line}:{node.span.col}"
    nested: list[tuple[str, Any]] = []
    for f in fields(node):
        value = getattr(node, f.name)
        if f.name == "span" or f.name.endswith("_span") or not f.repr or (not f.init and not checked):
            continue
        if value is None or value == [] or value is f.default:
            continue
        if isinstance(value, Ty):
            head += f" {f.name}={value.kind}{'!' if value.sure else ''}"
        elif _is_node(value) and not isinstance(value, _BINDINGS) or isinstance(value, list) and not _plain(value):
            nested.append((f.name, value))
        else:
            head += f" {f.name}={value!r}"
    out.append(pad + head)
    for name, value in nested:
        if isinstance(value, list):
            out.append(f"{pad}  {name}:")
            for item in value:
                _dump(item, pad + "    ", out, checked)
        else:
            out.append(f"{pad}  {name}:")
            _dump(value, pad + "    ", out, checked)


_BINDINGS = (LetBinding, EventVarBinding, StatBinding, VisitorVarBinding, SegmentBinding)


def _is_node(value: Any) -> bool:
    return is_dataclass(value) and not isinstance(value, (type, Span))


def _plain(values: list[Any]) -> bool:
    return all(not _is_node(v) and not isinstance(v, tuple) for v in values)
