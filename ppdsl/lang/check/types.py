"""Static types: every expression gets a `Ty`; operators, comparisons and
function arguments are checked against the types they accept."""

from __future__ import annotations

import re

from .. import ir
from ..diagnostics import make
from ..ir import Ty
from ..names import FUNCTIONS, STAT_FUNCTIONS, STAT_TYPES
from .base import MAX_DEPTH, Scope, suggest
from .resolve import Resolution

ORDERED = {"int": "number", "float": "number", "str": "string", "datetime": "datetime", "duration": "duration"}
UNKNOWN = ("json", "any", "null")
BOOL = Ty("bool", True)


class Types(Resolution):
    def expr(self, e: ir.Expr, scope: Scope, depth: int = 0) -> Ty:
        if depth > MAX_DEPTH:
            if not self.diags or self.diags[-1].code != "E005":  # once per expression
                self.error("E005", e.loc, limit=MAX_DEPTH, help="split the expression with `let` or a segment")
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
                self.error("E124", e.loc, detail=f"{what} needs a JSON value such as data, not {_kind(obj)}")
            return Ty("json")
        if isinstance(e, ir.Unary):
            operand = self.expr(e.operand, scope, depth)
            if e.op == "not":
                return BOOL
            if operand.kind not in ("int", "float", "duration") + UNKNOWN:
                self.error("E124", e.loc, detail=f"can't negate a {_kind(operand)}")
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
                self.compare(op, tys[i], tys[i + 1], e)
            return BOOL
        raise AssertionError(f"unknown expression {e!r}")

    def call(self, e: ir.Call, scope: Scope, depth: int) -> Ty:
        name = e.func
        if name not in FUNCTIONS:
            help = suggest(name, FUNCTIONS, cutoff=0.6) or "functions are: " + ", ".join(FUNCTIONS)
            self.error("E102", e.loc, name=name, help=help)
            for a in e.args:
                self.expr(a, scope, depth)
            return Ty("any")
        low, high = FUNCTIONS[name]
        if not low <= len(e.args) <= high:
            expected = f"{low} argument{'s' if low > 1 else ''}"
            self.error("E119", e.loc, func=name, expected=expected, got=len(e.args))
            if name not in STAT_FUNCTIONS:  # still resolve the names inside
                for a in e.args:
                    self.expr(a, scope, depth)
            return Ty("any")
        if name in STAT_FUNCTIONS:
            arg = e.args[0]
            if isinstance(arg, ir.Lit) and arg.kind == "int":
                e.seq = self.resolve_event(arg.value, None, arg.loc)
            elif isinstance(arg, ir.Var):
                e.seq = self.resolve_event(None, arg.name, arg.loc)
            else:
                self.error("E120", arg.loc, func=name, help=f"for example {name}(2) or {name}(signup)")
            if name == "last_time" and e.seq is not None:
                self.warn_own_last_time(f"{name}({self.show_event(e.seq)})", e.seq, e.loc)
            return self.visitor_type(STAT_TYPES[name])
        tys = [self.expr(a, scope, depth) for a in e.args]
        if name == "matches":
            pattern = e.args[1]
            if not (isinstance(pattern, ir.Lit) and pattern.kind == "str"):
                self.error(
                    "E121",
                    pattern.loc,
                    detail="needs a literal regular expression as its second argument",
                    help='write the pattern as a string, e.g. matches(page_url, "/pricing")',
                )
            else:
                try:
                    re.compile(pattern.value)
                    e.regex = pattern.value
                except (re.error, OverflowError, RecursionError) as exc:
                    self.error("E121", pattern.loc, detail=f"has an invalid regular expression: {exc}")
            self.need(e.args[0], tys[0], ("str",), name)
            return BOOL
        if name in ("lower", "upper", "json", "startswith", "endswith"):
            for a, t in zip(e.args, tys):
                self.need(a, t, ("str",), name)
        elif name == "len":
            self.need(e.args[0], tys[0], ("str", "list"), name)
        elif name == "contains":
            self.need(e.args[0], tys[0], ("str", "list"), name)
        return {
            "len": Ty("int"),
            "lower": Ty("str"),
            "upper": Ty("str"),
            "json": Ty("json"),
            "int": Ty("int"),
            "float": Ty("float"),
            "str": Ty("str"),
        }.get(name, BOOL)

    def need(self, arg: ir.Expr, ty: Ty, kinds: tuple[str, ...], func: str) -> None:
        if ty.kind not in kinds + UNKNOWN:
            wanted = " or ".join(_KIND_NAMES.get(k, k) for k in kinds)
            self.error("E124", arg.loc, detail=f"{func}() takes {wanted}, not {_kind(ty)}")

    def binop(self, e: ir.BinOp, a: Ty, b: Ty) -> Ty:
        op = e.op
        for t, side in ((a, e.left), (b, e.right)):
            if t.kind in ("str", "bool", "list"):
                self.error(
                    "E124",
                    side.loc,
                    detail=f"arithmetic ('{op}') on a {_kind(t)}",
                    help='use a template to join text: "{{ a }}{{ b }}"' if t.kind == "str" else None,
                )
                return Ty("any")
        if a.kind in UNKNOWN or b.kind in UNKNOWN:
            return Ty("any")
        result = _ARITH.get((op, a.kind, b.kind))
        if result is None:
            self.error("E124", e.loc, detail=f"'{op}' doesn't work on {_kind(a)} and {_kind(b)}")
            return Ty("any")
        # int + and - can't fail in Python; * could build numbers too long to print
        return Ty(result, result == "int" and op in "+-" and a.sure and b.sure)

    def compare(self, op: str, a: Ty, b: Ty, e: ir.Compare) -> None:
        if op in ("<", "<=", ">", ">="):
            if a.kind in UNKNOWN or b.kind in UNKNOWN:
                return
            if a.kind not in ORDERED or b.kind not in ORDERED or ORDERED[a.kind] != ORDERED[b.kind]:
                help = None
                if a.kind in ORDERED and b.kind == "str" or b.kind in ORDERED and a.kind == "str":
                    help = "write numbers without quotes: count(2) > 8"
                if {a.kind, b.kind} == {"datetime", "int"}:
                    help = "compare a time with a time, or a difference with a duration: now - last_time(2) < 10m"
                if {a.kind, b.kind} <= {"duration", "int", "float"}:
                    help = "write the number as a duration: 600s, 10m, 2h, 7d or 1w"
                self.error("E124", e.loc, detail=f"can't compare {_kind(a)} with {_kind(b)} using '{op}'", help=help)
        elif op in ("==", "!="):
            self.warn_never_equal(a, b, e.loc, op)
        else:  # in / not in
            if b.kind in UNKNOWN:
                return
            if b.kind not in ("str", "list"):
                self.error("E124", e.loc, detail=f"'{op}' needs a string or a list on its right, not {_kind(b)}")
            elif b.kind == "str" and a.kind not in ("str",) + UNKNOWN:
                self.error("E124", e.loc, detail=f"'{op}' on a string looks for a string, not {_kind(a)}")

    def warn_never_equal(self, a: Ty, b: Ty, loc: ir.Loc, op: str) -> None:
        if a.kind in UNKNOWN or b.kind in UNKNOWN:
            return
        if _EQ_CLASS.get(a.kind, a.kind) != _EQ_CLASS.get(b.kind, b.kind):
            self.diags.append(
                make(
                    "W203",
                    loc.line,
                    loc.col,
                    loc.length,
                    result="false" if op == "==" else "true",
                    left=_kind(a),
                    right=_kind(b),
                )
            )

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
