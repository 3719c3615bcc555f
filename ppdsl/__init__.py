"""ppdsl: event-triggered customer-messaging rules for PPMessage, compiled to Python.

    import ppdsl
    rules = ppdsl.load("lead.ppflow")          # raises ppdsl.CompileError on errors
    result = rules.handle({"track_event": {"event_name": "signup"}}, visitor)

Imports are lazy so that running a cached module loads nothing of the compiler.
"""

from __future__ import annotations

import os
from .version import __version__

TYPE_CHECKING = False  # not typing's: a cached load imports nothing it doesn't need
if TYPE_CHECKING:
    from typing import Any
    from collections.abc import Callable

    from .engine.ruleset import Ruleset
    from .lang.diagnostics import CompileError, Diagnostic

__all__ = ["CompileError", "Diagnostic", "Ruleset", "check_file", "compile_condition", "load", "__version__"]
_LAZY = {"CompileError": "lang.diagnostics", "Diagnostic": "lang.diagnostics", "Ruleset": "engine.ruleset"}


def load(path: str | os.PathLike[str], *, cache: bool = True) -> Ruleset:
    """Compile a .ppflow file in-process; returns a module with `handle` and `EVENTS`.
    Compiled modules are cached on disk (see README: the compile cache)."""
    from .build.loader import load as _load

    return _load(path, use_cache=cache)  # type: ignore[return-value]


def check_file(path: str | os.PathLike[str]) -> list[Diagnostic]:
    """Every diagnostic of a .ppflow file, errors and warnings, as `ppdsl check` finds them.
    A file that can't be read raises OSError."""
    from .build.loader import read_source
    from .build.pipeline import compile_source
    from .lang.diagnostics import CompileError

    try:
        source = read_source(path)
    except CompileError as exc:  # not UTF-8
        return exc.diagnostics
    return compile_source(source, os.fspath(path), emit=False).diagnostics


def compile_condition(text: str, *, events: dict[str, int] | None = None) -> Callable[[dict[str, Any]], Any]:
    """Compile one ppflow expression into `f(visitor) -> value` over a flat
    PPMessage visitor dict, e.g. compile_condition("count(2) > 8 and count(3) > 8")."""
    from .codegen.condition import compile_condition as _compile

    return _compile(text, events=events)


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'ppdsl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
