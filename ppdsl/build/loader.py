"""Reading .ppflow files and turning them into ready modules, through the
cache when possible. Light on imports: on a cache hit nothing of the
compiler (textX, Jinja2, the checker) is loaded."""

from __future__ import annotations

import os
import re
import types

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
    for piece in code:
        if isinstance(piece, types.CodeType):
            exec(piece, namespace)
        else:
            namespace[piece[0]] = lazy.stand_in(namespace, piece, path)
    return module


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
            module = module_from_code(entry[0], filename)
            if callable(getattr(module, "handle", None)) and isinstance(getattr(module, "EVENTS", None), dict):
                return module, entry[1]
        except Exception:  # a damaged entry: compile afresh below, and replace it
            pass
    code, warnings = generate_or_raise(source, filename)
    return module_from_code(cache.store(base, code, warnings), filename), warnings
