"""`ppdsl run` without click, for plain, valid arguments: a cached run then
loads nothing of click (see README, performance). It reads the same option
table as the click command, so the two accept the same options."""

from __future__ import annotations

import os
from .run_options import RUN_OPTIONS

TYPE_CHECKING = False  # typing's costs the import-light `run` path its time
if TYPE_CHECKING:
    from typing import Any, Optional

_BY_NAME = {name: option for option in RUN_OPTIONS for name in option.names}


def fast_run(args: list[str]) -> Optional[int]:
    """Returns None whenever click should handle the call instead (help, odd
    arguments, usage errors), which it then reports exactly as usual."""
    parsed = parse(args)
    if parsed is None:
        return None
    from .runner import UsageProblem, execute

    file, values = parsed
    try:
        return execute(file, **values)
    except UsageProblem:  # raised before anything is written: click reports it
        return None


def parse(args: list[str]) -> Optional[tuple[str, dict[str, Any]]]:
    """(FILE, option values by dest), or None for anything but a plain call
    with existing files and every required option, and none of the options
    that the fast path leaves to click (`fast=False` in the table)."""
    values: dict[str, Any] = {
        o.dest: False if o.kind == "flag" else [] if o.kind == "multiple" else None for o in RUN_OPTIONS if o.fast
    }
    files = []
    queue = list(args)
    while queue:
        arg = queue.pop(0)
        # --opt=value; a short option keeps an "=" in its value, as click does
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        option = _BY_NAME.get(name)
        if option is not None and not option.fast:  # --explain and the like: click's path
            return None
        if option is None:
            if arg.startswith("-"):
                return None
            files.append(arg)
        elif option.kind == "flag":
            if eq:
                return None
            values[option.dest] = True
        else:
            if not eq:
                if not queue:
                    return None
                value = queue.pop(0)
            if option.kind == "multiple":
                values[option.dest].append(value)
            elif values[option.dest] is not None:
                return None
            else:
                values[option.dest] = value
    if len(files) != 1 or not os.path.isfile(files[0]):
        return None
    for option in RUN_OPTIONS:
        if not option.fast:
            continue
        given = values[option.dest]
        if given is None and option.required:
            return None
        if option.existing_file and given is not None and not os.path.isfile(given):
            return None
        if option.kind == "multiple":
            values[option.dest] = tuple(given)
    return files[0], values
