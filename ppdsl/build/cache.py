"""The on-disk cache of compiled modules. Light on imports on purpose: a cache
hit must not load textX, Jinja2 or the compiler.

An entry is KEY.py (the generated source, readable and shown in tracebacks)
and KEY.bin (its marshalled code objects, with the file's rendered warnings;
for a big module, the sources of its flow functions instead of their code,
see compile_module). The key covers the source text, the file name (it
appears in comments), the ppdsl version with the timestamps of the package's
own files (so a development checkout never reads a stale entry) and the
Python version.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import re
import sys
import types

from ..engine.files import write_bytes_atomically
from ..version import __version__
from .lazy import Deferred

Warnings = tuple[tuple[str, str], ...]  # each warning of the file, rendered plain and in colour
Piece = types.CodeType | Deferred
Code = tuple[Piece, ...]  # a module's code, run piece after piece in its namespace (loader.module_from_code)
Entry = tuple[Code, Warnings]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cache_dir() -> str:
    base = os.environ.get("PPDSL_CACHE_DIR")
    if base:
        return base
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "ppdsl")


def package_stamp() -> str:
    """Names and modification times of every file the compiler is made of, in
    every subfolder of the package, so an edit anywhere invalidates entries."""
    stamps = []
    for folder, dirs, files in os.walk(_PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".j2", ".tx")):
                path = os.path.join(folder, name)
                stamps.append(f"{os.path.relpath(path, _PACKAGE)}:{os.stat(path).st_mtime_ns}")
    return ";".join(stamps)


def key(source: str, filename: str) -> str:
    h = hashlib.sha256()
    for part in (__version__, package_stamp(), sys.version, os.path.basename(filename), source):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def lookup(source: str, filename: str) -> tuple[str, Entry | None]:
    """(entry path without suffix, (code object, warnings) or None on a miss).
    An entry that another user could have written is not trusted: it would run as code."""
    base = os.path.join(cache_dir(), key(source, filename))
    try:
        with open(base + ".bin", "rb") as f:
            info = os.fstat(f.fileno())
            if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
                return base, None
            entry = marshal.loads(f.read())
    except (OSError, ValueError, EOFError, TypeError):
        return base, None
    return base, entry if _is_entry(entry) else None


def _is_entry(entry: object) -> bool:
    return (
        type(entry) is tuple
        and len(entry) == 2
        and type(entry[0]) is tuple
        and len(entry[0]) > 0
        and isinstance(entry[0][0], types.CodeType)
        and all(isinstance(c, types.CodeType) or _is_deferred(c) for c in entry[0])
        and type(entry[1]) is tuple
        and all(type(w) is tuple and len(w) == 2 and all(type(t) is str for t in w) for w in entry[1])
    )


def _is_deferred(piece: object) -> bool:
    """(name, line, source) of one of the generated functions, named in its own `def`."""
    if not (type(piece) is tuple and len(piece) == 3 and type(piece[1]) is int and type(piece[2]) is str):
        return False
    match = _DEFERRED.match("\n" + piece[2])
    return match is not None and match.group(1) == piece[0]


def store(base: str, code_text: str, warnings: Warnings = ()) -> Code:
    """Compile generated source for the entry at `base`, save it with the
    file's warnings, return the code. A cache that can't be written only costs speed."""
    path = base + ".py"
    code = compile_module(code_text, path)
    try:
        os.makedirs(os.path.dirname(base), mode=0o700, exist_ok=True)
        write_bytes_atomically(path, code_text.encode("utf-8"), mode=0o600)
    except OSError:
        return code
    replace(base, code, warnings)
    return code


def replace(base: str, code: Code, warnings: Warnings) -> None:
    """Write the code of the entry at `base` (whose source is written):
    its first version, or one with more of a big module's functions compiled."""
    try:
        write_bytes_atomically(base + ".bin", marshal.dumps((code, warnings)), mode=0o600)
    except OSError:
        pass


LAZY_LINES = 20_000
_DEFERRED = re.compile(r"\ndef (_(?:flow|seg)_[0-9]+)\(")  # (searching with `^` and re.M is 7 times slower)
_TOP_LEVEL = re.compile(r"\n(?=\S)")


def compile_module(text: str, path: str) -> Code:
    """The code of a generated module, as pieces to run in order. A module
    of LAZY_LINES lines or more (about 1,300 flows) is compiled without its
    flow and segment functions, which become Deferred pieces that compile
    when first called (build/lazy.py): an event needs only its own flows,
    and compiling 25,000 of them took longer than checking their file.
    Pieces are padded with empty lines, so line numbers stay those of the file.

    Cuts are safe in generated code: its strings are repr() literals, on one
    line, so a line that starts with `def _flow_N(` is a top-level def, and
    the first line after it that isn't indented ends it."""
    if text.count("\n") < LAZY_LINES or "from __future__" in text:
        return (compile(text, path, "exec"),)
    pieces: list[Piece] = []
    done, line = 0, 1  # how far the text is cut, and the line there
    for match in _DEFERRED.finditer(text):
        start = match.start() + 1
        if start < done:
            continue
        end = _TOP_LEVEL.search(text, start)
        stop = end.start() + 1 if end else len(text)
        eager = text[done:start]
        if eager.strip():
            pieces.append(compile("\n" * (line - 1) + eager, path, "exec"))
        line += eager.count("\n")
        source = text[start:stop]
        pieces.append((match.group(1), line, source))
        done, line = stop, line + source.count("\n")
    pieces.append(compile("\n" * (line - 1) + text[done:], path, "exec"))
    return tuple(pieces)
