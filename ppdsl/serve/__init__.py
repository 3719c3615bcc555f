"""The HTTP ingest service (`ppdsl serve`): browsers post envelopes, the
engine applies them to the store in shared commits, actions go out as signed
webhooks. The extra `ppdsl[serve]` brings its libraries; `missing_extra()`
says which one is absent before anything imports them."""

from __future__ import annotations

import importlib.util

EXTRA_MODULES = ("starlette", "uvicorn", "httpx", "prometheus_client", "watchfiles", "standardwebhooks", "limits")


def missing_extra() -> str | None:
    """The first library of the serve extra that is not installed, or None."""
    for name in EXTRA_MODULES:
        if importlib.util.find_spec(name) is None:
            return name
    return None
