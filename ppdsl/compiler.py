"""The pipeline, stage by stage: parse → check → emit → load, and the on-disk
cache of compiled modules. `ppdsl.load`, the CLI and the textX generator all
come through here."""

from __future__ import annotations

import hashlib
import linecache
import os
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from . import __version__
from .diagnostics import CompileError, Diagnostic, make


@dataclass
class Result:
    """What compiling one source gives: the module code (None on errors) and
    every diagnostic, errors and warnings alike."""

    filename: str
    source: str
    code: Optional[str]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    flows: int = 0
    rules: int = 0

    @property
    def ok(self) -> bool:
        return self.code is not None


def read_source(path: Union[str, Path]) -> str:
    """The text of a .ppflow file; undecodable bytes raise CompileError."""
    from .parse import SyntaxProblem, decode_source

    data = Path(path).read_bytes()
    try:
        return decode_source(data)
    except SyntaxProblem as problem:
        raise CompileError(str(path), "", [problem.diag]) from None


def compile_source(source: str, filename: str = "<string>", *, emit: bool = True) -> Result:
    """Parse, check and (when there are no errors and `emit`) generate Python."""
    from .check import check
    from .emit import generate
    from .parse import SyntaxProblem, parse

    result = Result(filename, source, None)
    try:
        program, diags = parse(source, filename)
        diags += check(program)
    except SyntaxProblem as problem:
        result.diagnostics = [problem.diag]
        return result
    except RecursionError:
        result.diagnostics = [make("E005", 1, 1, limit=64, help="split deep expressions with `let` or a segment")]
        return result
    result.diagnostics = sorted(diags, key=lambda d: (d.line, d.col))
    result.flows = sum(not f.inactive for f in program.flows)
    result.rules = sum(len(f.rules) for f in program.flows)
    if emit and not any(d.is_error for d in result.diagnostics):
        result.code = generate(program, Path(filename).name)
    return result


def module_from_code(code: str, filename: str) -> types.ModuleType:
    """Execute generated code as a module; linecache lets tracebacks and pdb show it."""
    name = f"<ppdsl {filename}>"
    module = types.ModuleType("ppdsl_compiled")
    module.__file__ = name
    linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    exec(compile(code, name, "exec"), module.__dict__)
    return module


# ----------------------------------------------------------------- cache


def cache_dir() -> Path:
    base = os.environ.get("PPDSL_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "ppdsl"


def cache_key(source: str, filename: str) -> str:
    """Covers the source, the file name (it appears in comments), the ppdsl
    version (with the package files' timestamps, so a development checkout
    never reads a stale entry) and the Python version."""
    h = hashlib.sha256()
    for part in (__version__, _package_stamp(), sys.version, Path(filename).name, source):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def _package_stamp() -> str:
    here = Path(__file__).parent
    stamps = []
    for sub in ("", "templates", "grammar"):
        folder = here / sub
        if folder.is_dir():
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                if entry.is_file() and entry.name.endswith((".py", ".j2", ".tx")):
                    stamps.append(f"{sub}/{entry.name}:{entry.stat().st_mtime_ns}")
    return ";".join(stamps)


def compile_cached(source: str, filename: str) -> tuple[str, bool]:
    """Generated code for a source, from the cache when it can be. Returns
    (code, hit). A source with errors raises CompileError."""
    path = cache_dir() / f"{cache_key(source, filename)}.py"
    try:
        return path.read_text(encoding="utf-8"), True
    except (OSError, UnicodeDecodeError):
        pass
    result = compile_source(source, filename)
    if result.code is None:
        raise CompileError(filename, source, result.diagnostics)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(result.code, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs speed
    return result.code, False


def load(path: Union[str, Path], *, cache: bool = True) -> types.ModuleType:
    """Compile a .ppflow file in-process and return a module with `handle`
    and `EVENTS`, the same interface as a module from `ppdsl compile`."""
    filename = str(path)
    source = read_source(path)
    if cache:
        code, hit = compile_cached(source, filename)
        if hit:
            try:
                return module_from_code(code, filename)
            except Exception:  # a damaged cache entry: compile afresh
                pass
    result = compile_source(source, filename)
    if result.code is None:
        raise CompileError(filename, source, result.diagnostics)
    return module_from_code(result.code, filename)
