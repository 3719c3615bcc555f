"""The functions of a big generated module, compiled the first time they are
called. A module of 25,000 flows is 25 MB of Python, and compiling all of it
took longer than checking the file; one event calls only the flows that have
something to do for it (`_FLOWS_BY_EVENT`): an eighth or a quarter of them
in the benchmark's file of 25,000 flows over 8 events.

Each flow and segment function of such a module (`def _flow_N`, `def _seg_N`)
starts as a stand-in: a function object with the real one's name in the
module's namespace, whose code compiles the real function's source. It then
takes that code as its own `__code__`, so that the tables that hold it
(`_FLOWS`, `_FLOWS_BY_EVENT`) call the real code from then on, at full
speed, and no wrapper stays in between. Line numbers are those of the
module's source, as if it had been compiled whole. `ppdsl run` then writes
the functions it compiled into the cache entry (loader.save_compiled), so the
next run of that event compiles nothing.

The sources are the generator's own text (build/cache.py finds them); nothing
here makes code of anything else."""

from __future__ import annotations

import types

Deferred = tuple[str, int, str]  # a function compiled on its first call: its name, first line and source


def _stand_in(*args, _ppdsl_compile):  # type: ignore[no-untyped-def]
    return _ppdsl_compile(args)


class Pending:
    """A stand-in (`function`) and what it needs to become the real function.
    Once it has, `code` is the module-level code that defines the real one
    (at its lines), fit to take the source's place in a cache entry."""

    __slots__ = ("function", "line", "source", "path", "code")

    def __init__(self, function: types.FunctionType, line: int, source: str, path: str) -> None:
        self.function, self.line, self.source, self.path = function, line, source, path
        self.code: types.CodeType | None = None

    def __call__(self, args: tuple[object, ...]) -> object:
        function = self.function
        name = function.__name__
        self.code = _moved(compile(self.source, self.path, "exec"), self.line - 1)
        (real,) = (c for c in self.code.co_consts if isinstance(c, types.CodeType) and c.co_name == name)
        function.__code__ = real
        function.__kwdefaults__ = None
        return function(*args)


def _moved(code: types.CodeType, lines: int) -> types.CodeType:
    """The code, `lines` lines further down its file (line tables count from co_firstlineno)."""
    consts = tuple(_moved(c, lines) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + lines, co_consts=consts)


def stand_in(namespace: dict[str, object], deferred: Deferred, path: str) -> Pending:
    """A function named `deferred[0]` in `namespace` that compiles itself
    (the def in `deferred[2]`, starting on line `deferred[1]` of `path`) when first called."""
    name, line, source = deferred
    function = types.FunctionType(_stand_in.__code__, namespace, name)
    function.__qualname__ = name
    pending = Pending(function, line, source, path)
    function.__kwdefaults__ = {"_ppdsl_compile": pending}
    return pending
