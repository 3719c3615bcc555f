"""`ppdsl run` without click, for plain, valid arguments: a cached run then
loads nothing of click (see README, performance)."""

from __future__ import annotations

import os


_VALUE_OPTIONS = {"--event": "spec", "-e": "spec", "--visitor": "visitor", "--at": "at", "--fail": "fail"}
_FLAGS = {"--save": "save", "--json": "as_json"}


def fast_run(args: list) -> int | None:
    """`ppdsl run` without click for plain, valid arguments. Returns None
    whenever click should handle the call instead (help, odd arguments,
    usage errors), which it then reports exactly as usual."""
    options: dict = {"fail": []}
    files = []
    queue = list(args)
    while queue:
        arg = queue.pop(0)
        # --opt=value; a short option keeps an "=" in its value, as click does
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in _VALUE_OPTIONS:
            if not eq:
                if not queue:
                    return None
                value = queue.pop(0)
            key = _VALUE_OPTIONS[name]
            if key == "fail":
                options["fail"].append(value)
            elif key in options:
                return None
            else:
                options[key] = value
        elif arg in _FLAGS:
            options[_FLAGS[arg]] = True
        elif arg.startswith("-"):
            return None
        else:
            files.append(arg)
    if len(files) != 1 or "spec" not in options or not os.path.isfile(files[0]):
        return None
    if "visitor" in options and not os.path.isfile(options["visitor"]):
        return None
    options["fail"] = tuple(options["fail"])
    from .runner import UsageProblem, execute

    try:
        return execute(files[0], **options)
    except UsageProblem:  # raised before anything is written: click reports it
        return None
