"""ppdsl: event-triggered customer-messaging rules for PPMessage, compiled to Python.

    import ppdsl
    rules = ppdsl.load("lead.ppflow")          # raises ppdsl.CompileError on errors
    result = rules.handle({"track_event": {"event_name": "signup"}}, visitor)

Imports are lazy so that running a cached module loads nothing of the compiler.
"""

from __future__ import annotations

import os

from .version import __version__

__all__ = ["CompileError", "Diagnostic", "compile_condition", "load", "__version__"]


def load(path: str | os.PathLike[str], *, cache: bool = True) -> object:
    """Compile a .ppflow file in-process; returns a module with `handle` and `EVENTS`.
    Compiled modules are cached on disk (see README: the compile cache)."""
    from .build.loader import load as _load

    return _load(path, use_cache=cache)


def compile_condition(text: str, *, events: dict | None = None) -> object:
    """Compile one ppflow expression into `f(visitor) -> value` over a flat
    PPMessage visitor dict, e.g. compile_condition("count(2) > 8 and count(3) > 8")."""
    from .codegen.condition import compile_condition as _compile

    return _compile(text, events=events)


def __getattr__(name: str) -> object:
    if name in ("CompileError", "Diagnostic"):
        from .lang import diagnostics

        return getattr(diagnostics, name)
    raise AttributeError(f"module 'ppdsl' has no attribute {name!r}")
