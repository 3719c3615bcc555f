"""The `ppdsl` command group. Each command lives in its own module."""

from __future__ import annotations

import click

from ..version import __version__
from .check import check
from .compile import compile
from .eval import eval_
from .explain import explain
from .fmt import fmt
from .graph import graph
from .lsp import lsp
from .replay import replay
from .run import run
from .serve import serve
from .test import test
from .visitors import visitors


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="ppdsl", message="%(prog)s %(version)s")
def main() -> None:
    """Write, check, test and run PPMessage event-flow rules.

    \b
    A .ppflow file holds a website's tracked events and the flows that
    react to them:
        on event 1,2 -> if count(2)>8 and count(3)>8 reply agent_a else reply agent_b

    \b
    Start with:
        ppdsl check examples/lead_routing.ppflow
        ppdsl run examples/lead_routing.ppflow --event view_pricing --json
    """


for command in (check, compile, fmt, run, replay, serve, visitors, test, graph, eval_, explain, lsp):
    main.add_command(command)
