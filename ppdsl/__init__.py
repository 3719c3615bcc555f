"""ppdsl: event-triggered customer-messaging rules for PPMessage, compiled to Python.

    import ppdsl
    rules = ppdsl.load("lead.ppflow")          # raises ppdsl.CompileError on errors
    result = rules.handle({"track_event": {"event_name": "signup"}}, visitor)
"""

__version__ = "0.1.0"

from .diagnostics import CompileError, Diagnostic  # noqa: E402

__all__ = ["CompileError", "Diagnostic", "load", "__version__"]


def load(path, *, cache=True):  # type: ignore[no-untyped-def]
    """Compile a .ppflow file in-process; returns a module with `handle` and `EVENTS`."""
    from .compiler import load as _load

    return _load(path, cache=cache)
