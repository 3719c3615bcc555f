"""Hot reload: watchfiles tells when the flow's file changes (editors often
replace it, so the folder is watched); the file is compiled in a thread and
swapped in only when it has no errors."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from watchfiles import awatch

from .flow import FlowError, load_flow

log = logging.getLogger("ppdsl.serve")


async def watch_flow(service: Any) -> None:
    """Reload service.flow whenever its file changes, until cancelled."""
    path = os.path.abspath(service.flow.file)
    async for changes in awatch(os.path.dirname(path), debounce=200, step=50, recursive=False):
        if not any(os.path.abspath(changed) == path for _, changed in changes):
            continue
        await reload(service)


async def reload(service: Any) -> None:
    """Load the file again; keep the running flow when it can't be used."""
    try:
        flow = await asyncio.to_thread(load_flow, service.flow.file)
    except FlowError as exc:
        log.error("%s\nthe flow was not reloaded: still running version %s", exc, service.flow.version)
        return
    except Exception:
        log.exception("the flow was not reloaded: still running version %s", service.flow.version)
        return
    if flow.version != service.flow.version:
        service.reloaded(flow)
        log.info("reloaded %s: version %s", flow.file, flow.version)
