"""Reading .ppflow files and turning them into ready modules, through the
cache when possible. Light on imports: on a cache hit nothing of the
compiler (textX, Jinja2, the checker) is loaded."""

from __future__ import annotations

import os
import types

from . import cache


def read_source(path: str | os.PathLike[str]) -> str:
    """The text of a .ppflow file; bytes that aren't UTF-8 raise CompileError."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        from ..lang.diagnostics import CompileError, SyntaxProblem
        from ..lang.source import decode_source

        try:
            decode_source(data, os.fspath(path))
        except SyntaxProblem as problem:
            raise CompileError(os.fspath(path), problem.diag.span.source.text, [problem.diag]) from None
        raise
    return text[1:] if text.startswith("\ufeff") else text


def generate_or_raise(source: str, filename: str) -> str:
    from .pipeline import compile_source
    from ..lang.diagnostics import CompileError

    result = compile_source(source, filename)
    if result.code is None:
        raise CompileError(filename, source, result.diagnostics)
    return result.code


def module_from_code(code: str | types.CodeType, filename: str) -> types.ModuleType:
    """Execute a compiled module's code (text or code object) as a module."""
    if isinstance(code, str):
        name = f"<ppdsl {filename}>"
        import linecache  # only for source text; cached code objects point at their file

        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        code = compile(code, name, "exec")
    module = types.ModuleType("ppdsl_compiled")
    module.__file__ = code.co_filename
    exec(code, module.__dict__)
    return module


def load(path: str | os.PathLike[str], *, use_cache: bool = True) -> types.ModuleType:
    """Compile a .ppflow file in-process and return a module with `handle`
    and `EVENTS`: the same interface as a module from `ppdsl compile`."""
    filename = os.fspath(path)
    source = read_source(path)
    if not use_cache:
        return module_from_code(generate_or_raise(source, filename), filename)
    base, code = cache.lookup(source, filename)
    if code is not None:
        try:
            return module_from_code(code, filename)
        except Exception:  # a damaged entry: compile afresh below
            pass
    return module_from_code(cache.store(base, generate_or_raise(source, filename)), filename)
