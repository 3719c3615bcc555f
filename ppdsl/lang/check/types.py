"""Static types: every expression gets a `Ty`; operators, comparisons and
function arguments are checked against the types they accept."""

from __future__ import annotations

import re

from .. import ir
from .. import messages as m
from ..ir import Ty
from ..messages import MAX_EXPRESSION_DEPTH, Message
from ..names import BOOL, FUNCTIONS
from ..span import Span
from .base import Scope, closest, did_you_mean
from .resolve import Resolution

ORDERED = {"int": "number", "float": "number", "str": "string", "datetime": "datetime", "duration": "duration"}
UNKNOWN = ("json", "any", "null")


class Types(Resolution):
    def expr(self, e: ir.Expr, scope: Scope, depth: int = 0) -> Ty:
        if depth > MAX_EXPRESSION_DEPTH:
            if not self.diags or self.diags[-1].msg is not m.TOO_DEEP_EXPRESSION:  # once per expression
                self.report(m.TOO_DEEP_EXPRESSION, e.span, limit=MAX_EXPRESSION_DEPTH)
            return Ty("any")
        ty = self.infer(e, scope, depth + 1)
        e.ty = ty
        return ty

    def infer(self, e: ir.Expr, scope: Scope, depth: int) -> Ty:
        if isinstance(e, ir.Lit):
            return Ty("null") if e.kind == "null" else Ty(e.kind, True)
        if isinstance(e, ir.ListExpr):
            for item in e.items:
                self.expr(item, scope, depth)
            return Ty("list", True)
        if isinstance(e, ir.Var):
            return self.var(e, scope)
        if isinstance(e, ir.Call):
            return self.call(e, scope, depth)
        if isinstance(e, (ir.Member, ir.Index)):
            obj = self.expr(e.obj, scope, depth)
            if isinstance(e, ir.Index):
                self.expr(e.index, scope, depth)
            allowed = ("json", "any", "list", "str") if isinstance(e, ir.Index) else ("json", "any")
            if obj.kind not in allowed and obj.kind != "null":
                what = f"'.{e.name}'" if isinstance(e, ir.Member) else "'[...]'"
                self.report(m.TYPE_ERROR, e.span, detail=f"{what} needs a JSON value such as data, not {_kind(obj)}")
            return Ty("json")
        if isinstance(e, ir.Unary):
            operand = self.expr(e.operand, scope, depth)
            if e.op == "not":
                return BOOL
            if operand.kind not in ("int", "float", "duration") + UNKNOWN:
                self.report(m.TYPE_ERROR, e.span, detail=f"can't negate a {_kind(operand)}")
                return Ty("any")
            return Ty(
                operand.kind if operand.kind in ("int", "float", "duration") else "any",
                operand.sure and operand.kind == "int",
            )
        if isinstance(e, ir.BinOp):
            return self.binop(e, self.expr(e.left, scope, depth), self.expr(e.right, scope, depth))
        if isinstance(e, ir.BoolOp):
            tys = [self.expr(x, scope, depth) for x in e.operands]
            kinds = {t.kind for t in tys}
            return Ty(kinds.pop(), all(t.sure for t in tys)) if len(kinds) == 1 else Ty("any")
        if isinstance(e, ir.Compare):
            tys = [self.expr(x, scope, depth) for x in e.operands]
            for i, op in enumerate(e.ops):
                self.compare(op, tys[i], tys[i + 1], e, e.operands[i : i + 2])
            return BOOL
        raise AssertionError(f"unknown expression {e!r}")

    def call(self, e: ir.Call, scope: Scope, depth: int) -> Ty:
        name = e.func
        func = FUNCTIONS.get(name)
        if func is None:
            close = closest(name, FUNCTIONS, cutoff=0.6)
            help = did_you_mean(close) or m.FUNCTIONS_ARE.format(", ".join(FUNCTIONS))
            self.report(m.UNKNOWN_FUNCTION, e.span, help=help, replacement=close, name=name)
            for a in e.args:
                self.expr(a, scope, depth)
            return Ty("any")
        if len(e.args) != func.arity:
            expected = f"{func.arity} argument{'s' if func.arity > 1 else ''}"
            self.report(m.WRONG_ARITY, e.span, func=name, expected=expected, got=len(e.args))
            if not func.stat:  # still resolve the names inside
                for a in e.args:
                    self.expr(a, scope, depth)
            return Ty("any")
        if func.stat:
            arg = e.args[0]
            if isinstance(arg, ir.Lit) and arg.kind == "int":
                e.seq = self.resolve_event(arg.value, None, arg.span)
            elif isinstance(arg, ir.Var):
                e.seq = self.resolve_event(None, arg.name, arg.span)
            else:
                self.report(m.STAT_ARGUMENT, arg.span, func=name)
            if name == "last_time" and e.seq is not None:
                self.warn_own_last_time(f"{name}({self.show_event(e.seq)})", e.seq, e.span)
            return self.visitor_type(func.result)
        tys = [self.expr(a, scope, depth) for a in e.args]
        checked = list(zip(e.args, tys, func.params, strict=False))
        if name == "matches":
            checked = checked[:1]  # the pattern is checked as a literal here
            pattern = e.args[1]
            if not (isinstance(pattern, ir.Lit) and pattern.kind == "str"):
                self.report(m.MATCHES_LITERAL, pattern.span)
            else:
                try:
                    re.compile(pattern.value)
                    e.regex = pattern.value
                except (re.error, OverflowError, RecursionError) as exc:
                    self.report(m.MATCHES_INVALID, pattern.span, error=str(exc))
        for arg, ty, kinds in checked:
            if kinds:
                self.need(arg, ty, kinds, name)
        return func.result

    def need(self, arg: ir.Expr, ty: Ty, kinds: tuple[str, ...], func: str) -> None:
        if ty.kind not in kinds + UNKNOWN:
            wanted = " or ".join(_KIND_NAMES.get(k, k) for k in kinds)
            self.report(m.TYPE_ERROR, arg.span, detail=f"{func}() takes {wanted}, not {_kind(ty)}")

    def binop(self, e: ir.BinOp, a: Ty, b: Ty) -> Ty:
        op = e.op
        for t, side in ((a, e.left), (b, e.right)):
            if t.kind in ("str", "bool", "list"):
                if t.kind == "str":
                    self.report(m.ARITHMETIC_ON_TEXT, side.span, op=op, kind=_kind(t))
                else:
                    self.report(m.TYPE_ERROR, side.span, detail=f"arithmetic ('{op}') on a {_kind(t)}")
                return Ty("any")
        if a.kind in UNKNOWN or b.kind in UNKNOWN:
            return Ty("any")
        result = _ARITH.get((op, a.kind, b.kind))
        if result is None:
            self.report(m.TYPE_ERROR, e.span, detail=f"'{op}' doesn't work on {_kind(a)} and {_kind(b)}")
            return Ty("any")
        # int + and - can't fail in Python; * could build numbers too long to print
        return Ty(result, result == "int" and op in "+-" and a.sure and b.sure)

    def compare(self, op: str, a: Ty, b: Ty, e: ir.Compare, pair: list[ir.Expr]) -> None:
        if op in ("<", "<=", ">", ">="):
            if a.kind in UNKNOWN or b.kind in UNKNOWN:
                return
            if a.kind not in ORDERED or b.kind not in ORDERED or ORDERED[a.kind] != ORDERED[b.kind]:
                msg: Message = m.COMPARE_MISMATCH
                if {a.kind, b.kind} in ({"str", "int"}, {"str", "float"}):
                    quoted = any(isinstance(x, ir.Lit) and x.kind == "str" and _numeric(x.value) for x in pair)
                    msg = m.COMPARE_QUOTED_NUMBER if quoted else m.COMPARE_TEXT_WITH_NUMBER
                if {a.kind, b.kind} == {"datetime", "int"}:
                    msg = m.COMPARE_TIME_WITH_NUMBER
                if {a.kind, b.kind} <= {"duration", "int", "float"}:
                    msg = m.COMPARE_DURATION_WITH_NUMBER
                self.report(msg, e.span, left=_kind(a), right=_kind(b), op=op)
        elif op in ("==", "!="):
            self.warn_never_equal(a, b, e.span, op)
        else:  # in / not in
            if b.kind in UNKNOWN:
                return
            if b.kind not in ("str", "list"):
                self.report(
                    m.TYPE_ERROR, e.span, detail=f"'{op}' needs a string or a list on its right, not {_kind(b)}"
                )
            elif b.kind == "str" and a.kind not in ("str",) + UNKNOWN:
                self.report(m.TYPE_ERROR, e.span, detail=f"'{op}' on a string looks for a string, not {_kind(a)}")

    def warn_never_equal(self, a: Ty, b: Ty, span: Span, op: str) -> None:
        if a.kind in UNKNOWN or b.kind in UNKNOWN:
            return
        if _EQ_CLASS.get(a.kind, a.kind) != _EQ_CLASS.get(b.kind, b.kind):
            result = "false" if op == "==" else "true"
            self.report(m.NEVER_EQUAL, span, result=result, left=_kind(a), right=_kind(b))

    @staticmethod
    def show(lit: ir.Lit) -> str:
        return repr(lit.value) if lit.kind == "str" else str(lit.value)

    # ------------------------------------------------------------ unused


_EQ_CLASS = {"int": "number", "float": "number"}
_KIND_NAMES = {"str": "string", "json": "JSON value", "any": "value"}


def _kind(ty: Ty) -> str:
    """A type as the language names it in messages."""
    return _KIND_NAMES.get(ty.kind, ty.kind)


_ARITH: dict[tuple[str, str, str], str] = {}
for _a in ("int", "float"):
    for _b in ("int", "float"):
        _num = "int" if _a == _b == "int" else "float"
        for _op in "+-*%":
            _ARITH[(_op, _a, _b)] = _num
        _ARITH[("/", _a, _b)] = "float"
    _ARITH[("*", "duration", _a)] = _ARITH[("*", _a, "duration")] = "duration"
    _ARITH[("/", "duration", _a)] = "duration"
_ARITH.update(
    {
        ("+", "datetime", "duration"): "datetime",
        ("+", "duration", "datetime"): "datetime",
        ("-", "datetime", "duration"): "datetime",
        ("-", "datetime", "datetime"): "duration",
        ("+", "duration", "duration"): "duration",
        ("-", "duration", "duration"): "duration",
        ("/", "duration", "duration"): "float",
    }
)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
