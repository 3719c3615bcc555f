"""The typed program that passes from the checker to the code generator.

Every node keeps its source location (line, col), so any stage can point back
at the `.ppflow` text. The checker fills in the resolution fields (`ty`,
`binding`, `seq`, ...) that the code generator reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union


@dataclass(frozen=True)
class Loc:
    line: int
    col: int
    length: int = 1


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
    loc: Loc
    ty: Ty = field(default=Ty("any"), init=False, compare=False)


@dataclass
class Lit(Expr):
    kind: str  # int float str bool null duration
    value: Any  # duration: seconds as int


@dataclass
class ListExpr(Expr):
    items: list[Expr]


@dataclass
class Var(Expr):
    name: str
    # set by the checker: ("event", name), ("stat", kind, seq), ("system", name, type)
    # (also extra_field_*), ("field", name, type), ("segment", name), ("let", slot)
    binding: Optional[tuple] = field(default=None, init=False)


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
    loc: Loc
    parts: list[Union[str, Expr]]


# --------------------------------------------------------------- statements


@dataclass
class Stmt:
    loc: Loc


@dataclass
class If(Stmt):
    branches: list[tuple[Expr, Stmt]]
    orelse: Optional[Stmt]


@dataclass
class Case:
    loc: Loc
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
    name_loc: Loc
    value: Expr
    slot: int = field(default=0, init=False)  # set by the checker


@dataclass
class End(Stmt):
    pass


@dataclass
class Reply(Stmt):
    agent: str
    agent_loc: Loc
    text: Optional[Template]


@dataclass
class Assign(Stmt):
    target: Optional[str]  # None for `assign any`
    target_loc: Loc
    group: bool


@dataclass
class SetField(Stmt):
    field: str
    field_loc: Loc
    value: Expr
    field_type: str = field(default="json", init=False)  # set by the checker


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
    loc: Loc
    seq: Optional[int]
    name: Optional[str]
    resolved: Optional[int] = field(default=None, init=False)


@dataclass
class Rule:
    loc: Loc
    events: Optional[list[EventRef]]  # None: any event
    body: Stmt
    seqs: list[int] = field(default_factory=list, init=False)  # set by the checker


@dataclass
class Flow:
    loc: Loc
    name: str
    name_loc: Loc
    priority: int
    inactive: bool
    rules: list[Rule]
    implicit: bool = False


@dataclass
class EventDecl:
    loc: Loc
    seq: int
    seq_loc: Loc
    name: str
    name_loc: Loc
    uuid: Optional[str]
    uuid_loc: Optional[Loc]
    description: Optional[str]
    description_loc: Optional[Loc]


@dataclass
class NamedDecl:
    """An agent, group, field (display = type name) or segment declaration."""

    loc: Loc
    kind: str
    name: str
    name_loc: Loc
    display: Optional[str] = None
    type_loc: Optional[Loc] = None
    expr: Optional[Expr] = None


@dataclass
class Program:
    filename: str
    events: list[EventDecl]
    agents: list[NamedDecl]
    groups: list[NamedDecl]
    fields: list[NamedDecl]
    segments: list[NamedDecl]
    flows: list[Flow]  # in file order; the implicit `main` stands where its first rule is
