"""Reading .ppflow files and turning them into ready modules, through the
cache when possible. Light on imports: on a cache hit nothing of the
compiler (textX, Jinja2, the checker) is loaded."""

from __future__ import annotations

import os
import re
import types
import weakref

from . import cache, lazy
from .cache import Warnings


def read_source(path: str | os.PathLike[str]) -> str:
    """The text of a .ppflow file; bytes that aren't UTF-8 raise CompileError."""
    with open(path, "rb") as f:
        return source_text(f.read(), os.fspath(path))


def source_text(data: bytes, name: str) -> str:
    """The text of .ppflow source bytes, without a byte order mark; bytes that
    aren't UTF-8 raise CompileError, its diagnostic under `name`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        from ..lang.diagnostics import CompileError, SyntaxProblem
        from ..lang.source import decode_source

        try:
            decode_source(data, name)
        except SyntaxProblem as problem:
            raise CompileError(name, problem.diag.span.source.text, [problem.diag]) from None
        raise
    return text[1:] if text.startswith("\ufeff") else text


def generate_or_raise(source: str, filename: str) -> tuple[str, Warnings]:
    """The module's source and the file's warnings; CompileError on errors."""
    from .pipeline import compile_source
    from ..lang.diagnostics import CompileError, render

    result = compile_source(source, filename)
    if result.code is None:
        raise CompileError(filename, source, result.diagnostics)
    return result.code, tuple((render(d), render(d, color=True)) for d in result.diagnostics)


def module_from_code(code: str | cache.Code, filename: str) -> types.ModuleType:
    """Execute a compiled module's code (text, or pieces from the cache) as a
    module named after the file (`ppdsl_flow_lead_routing`)."""
    return _module(code, filename)[0]


def _module(code: str | cache.Code, filename: str) -> tuple[types.ModuleType, list[tuple[int, lazy.Pending]]]:
    """The module, and the stand-ins of its deferred pieces (by index in `code`)."""
    if isinstance(code, str):
        name = f"<ppdsl {filename}>"
        import linecache  # only for source text; cached code objects point at their file

        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        code = cache.compile_module(code, name)
    stem = os.path.splitext(os.path.basename(filename))[0]
    module = types.ModuleType("ppdsl_flow_" + re.sub(r"\W", "_", stem))
    first = code[0]
    assert isinstance(first, types.CodeType), "a module's code starts with its runtime"
    path = module.__file__ = first.co_filename
    namespace = module.__dict__
    waiting = []
    for i, piece in enumerate(code):
        if isinstance(piece, types.CodeType):
            exec(piece, namespace)
        else:
            pending = lazy.stand_in(namespace, piece, path)
            namespace[piece[0]] = pending.function
            waiting.append((i, pending))
    return module, waiting


# modules from cache entries with deferred functions: (entry, its code, warnings, the stand-ins)
_ENTRIES: weakref.WeakKeyDictionary[types.ModuleType, tuple[str, cache.Code, Warnings, list[tuple[int, lazy.Pending]]]]
_ENTRIES = weakref.WeakKeyDictionary()


def save_compiled(module: object) -> None:
    """Write the functions of a big module that compiled since it was loaded
    (build/lazy.py) into its cache entry, in place of their sources, so the
    next load runs them as they are. For one-shot commands: `ppdsl run`
    saves what its event compiled. Two runs that save at once each write a
    whole entry; the functions only the other compiled compile again later."""
    if not isinstance(module, types.ModuleType) or module not in _ENTRIES:
        return
    found = _ENTRIES[module]
    base, code, warnings, waiting = found
    compiled = {i: p.code for i, p in waiting if p.code is not None}
    if compiled:
        code = tuple(compiled.get(i, piece) for i, piece in enumerate(code))
        _ENTRIES[module] = (base, code, warnings, [(i, p) for i, p in waiting if p.code is None])
        cache.replace(base, code, warnings)


def load(path: str | os.PathLike[str], *, use_cache: bool = True) -> types.ModuleType:
    """Compile a .ppflow file in-process and return a module with `handle`
    and `EVENTS`: the same interface as a module from `ppdsl compile`."""
    return load_with_warnings(path, use_cache=use_cache)[0]


def load_with_warnings(path: str | os.PathLike[str], *, use_cache: bool = True) -> tuple[types.ModuleType, Warnings]:
    """load(), and the file's warnings (kept in the cache entry, so a hit
    has them without compiling)."""
    filename = os.fspath(path)
    source = read_source(path)
    if not use_cache:
        code, warnings = generate_or_raise(source, filename)
        return module_from_code(code, filename), warnings
    base, entry = cache.lookup(source, filename)
    if entry is not None:
        try:
            module, waiting = _module(entry[0], filename)
            if callable(getattr(module, "handle", None)) and isinstance(getattr(module, "EVENTS", None), dict):
                if waiting:
                    _ENTRIES[module] = (base, *entry, waiting)
                return module, entry[1]
        except Exception:  # a damaged entry: compile afresh below, and replace it
            pass
    text, warnings = generate_or_raise(source, filename)
    pieces = cache.store(base, text, warnings)
    module, waiting = _module(pieces, filename)
    if waiting:
        _ENTRIES[module] = (base, pieces, warnings, waiting)
    return module, warnings
