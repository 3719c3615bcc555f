"""The options of `ppdsl run`, once: run.py makes click options of them and
fast_run.py parses plain calls with them. No click here, so the fast path
can read the table without loading click."""

from __future__ import annotations

STORE_URLS = "a file path (SQLite), sqlite:///PATH, memory:, postgresql://USER:PASSWORD@HOST/DB or redis://HOST:PORT/"
"""The store URLs every --store takes (replay, run, serve; docs/operations.md)."""


class Option:
    """One option of `run`. A plain class: dataclasses would cost the fast path its import time."""

    __slots__ = ("names", "dest", "kind", "help", "metavar", "required", "existing_file", "once", "fast")

    def __init__(
        self,
        names: tuple[str, ...],
        dest: str,
        kind: str,  # "value", "flag" or "multiple"
        help: str,
        metavar: str | None = None,
        required: bool = False,
        existing_file: bool = False,  # the value must name an existing file
        once: bool = False,  # given twice is an error (other value options keep the last)
        fast: bool = True,  # False: the fast path hands a call with this option to click (it loads more anyway)
    ):
        self.names, self.dest, self.kind, self.help = names, dest, kind, help
        self.metavar, self.required, self.existing_file, self.once = metavar, required, existing_file, once
        self.fast = fast


RUN_OPTIONS = (
    Option(
        ("-e", "--event"),
        "spec",
        "value",
        "The event: JSON, @file.json (@- reads stdin), an event number or an event name.",
        metavar="SPEC",
        required=True,
        once=True,
    ),
    Option(
        ("--visitor",),
        "visitor",
        "value",
        "The visitor's state: a JSON object of PPMessage variables.",
        existing_file=True,
    ),
    Option(
        ("--save",),
        "save",
        "flag",
        "Write the updated visitor back to the --visitor file, in one step and locked against other runs "
        "(FILE.lock); a read-only file is refused.",
    ),
    Option(
        ("--at",), "at", "value", "The event's time when it carries none: ISO-8601 or epoch seconds.", metavar="TIME"
    ),
    Option(
        ("--fail",),
        "fail",
        "multiple",
        "Make actions aimed at agent or group NAME fail, to try the `on failure` paths (repeatable). "
        "--fail ticket fails every ticket, --fail any every `assign any`.",
        metavar="NAME",
    ),
    Option(
        ("--store",),
        "store",
        "value",
        f"Run against a visitor in a store ({STORE_URLS}) and commit "
        "the new state there; needs --visitor-id. The event may carry a message_id: a repeated one changes nothing.",
        metavar="URL",
        fast=False,
    ),
    Option(("--visitor-id",), "visitor_id", "value", "The visitor of --store.", metavar="ID", fast=False),
    Option(("--json",), "as_json", "flag", "Print the result as one JSON object."),
    Option(
        ("--explain",),
        "explain",
        "flag",
        "Also show, flow by flow, the rule chosen, each condition with its operands' values, "
        'and the action or reason that ended the flow (with --json: an "explain" list).',
        fast=False,
    ),
    Option(("-q", "--quiet"), "quiet", "flag", "Print no warnings (of the file, --fail or --at); errors still show."),
)
