"""`ppdsl graph`: draw the flows of a .ppflow file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn, Optional

import click

from .common import FILE, echo_diagnostics, read_file

_SUFFIXES = {
    ".dot": "dot",
    ".gv": "dot",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
    ".svg": "svg",
    ".png": "png",
    ".json": "json",
}


def _fail(message: str, status: int) -> NoReturn:
    from ..lang.diagnostics import printable

    click.echo(f"error: {printable(message)}", err=True)
    sys.exit(status)


@click.command()
@click.argument("file", type=FILE)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(list(dict.fromkeys(_SUFFIXES.values()))),
    help="dot (the default), mermaid, svg, png or json. svg and png need Graphviz's `dot`. "
    "Without it, -o FILE's suffix decides (.dot .gv .mmd .mermaid .svg .png .json).",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Where to write it (default: print it)."
)
@click.option(
    "--coverage",
    "tests",
    metavar="TESTS",
    help="Run the `ppdsl test` cases of this file in TESTS (a test file or a folder) "
    "and colour the branches they took green, the rest grey.",
)
def graph(file: Path, output_format: Optional[str], output: Optional[Path], tests: Optional[str]) -> None:
    """Draw each flow of a .ppflow file as PPMessage's flow editor shows it.

    A start node, a branch node whose edges are the events of the flow's
    rules, logic nodes with TRUE and FALSE edges, reply, assign, convert
    and ticket nodes with SUCCESS and FAILED edges, set and let nodes, and
    end nodes; each node shows its line. Flows appear in the order they
    run; inactive ones are grey.

    \b
    Examples:
        ppdsl graph examples/lead_routing.ppflow | dot -Tsvg > lead.svg
        ppdsl graph examples/lead_routing.ppflow -o lead.png
        ppdsl graph examples/lead_routing.ppflow --format mermaid   # for Markdown
        ppdsl graph examples/lead_routing.ppflow --format json      # nodes and edges
        ppdsl graph examples/lead_routing.ppflow --coverage examples/ -o lead.svg

    Errors in the file are printed as in `check`, and the exit status is 1.
    A malformed test file, or TESTS without cases for FILE, exits 2.
    """
    from ..authoring.graph import GraphvizError, GraphvizMissing, build, render
    from ..build.pipeline import compile_source
    from ..lang.diagnostics import printable, summary

    if output_format is None:
        output_format = _SUFFIXES.get(output.suffix.lower(), "") if output else "dot"
        if not output_format:
            raise click.UsageError(f"can't tell the format from {printable(str(output))}: give --format")
    if output is None and output_format == "png" and sys.stdout.isatty():
        raise click.UsageError("PNG is binary: give -o FILE or pipe the output")
    result = compile_source(read_file(file), str(file), emit=False)
    echo_diagnostics(result.diagnostics, err=True)
    if result.checked is None:
        click.echo(f"{printable(str(file))}: {summary(result.diagnostics)}; nothing drawn", err=True)
        sys.exit(1)
    taken = _coverage(file, tests) if tests is not None else None
    try:
        data = render(build(result.checked), output_format, taken)
    except GraphvizError as exc:
        _fail(str(exc), 2 if isinstance(exc, GraphvizMissing) else 1)
    if output is None:
        click.echo(data, nl=False)
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"can't write {printable(str(output))}: {exc.strerror}")
    click.echo(f"wrote {printable(str(output))}", err=True)


def _coverage(file: Path, tests: str) -> set[tuple[int, int, str]]:
    """The branches that the cases for `file` in TESTS took (graph.py's keys)."""
    from ..authoring import testing

    flow = file.resolve()
    try:
        files = [t for t in map(testing.read_test_file, testing.find_test_files([tests])) if t.flow == flow]
        if not files:
            raise testing.NoTests(f"{tests} has no test cases for {file}")
        report = testing.run_tests(files)
    except (testing.Malformed, testing.NoTests) as exc:
        _fail(str(exc), 2)
    if report.failed:
        click.echo(
            f"warning: {report.failed} of {len(report.cases)} cases failed; the graph shows what every case took",
            err=True,
        )
    return testing.graph_keys(report, flow) or set()
