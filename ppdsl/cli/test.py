"""`ppdsl test`: run the cases of NAME.test.json files against their flows.
The work is in ppdsl.authoring.testing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import click


@click.command()
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option(
    "--coverage",
    is_flag=True,
    help="Report, per flow file, the rules, if/elif/else arms, switch cases and action outcomes the cases took.",
)
@click.option(
    "--junit-xml",
    "junit",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the results as JUnit XML, for CI systems.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results (and coverage) as one JSON object.")
@click.option("-k", "pattern", metavar="PATTERN", help="Run only the cases whose name contains PATTERN (any case).")
def test(paths: tuple[str, ...], coverage: bool, junit: Optional[Path], as_json: bool, pattern: Optional[str]) -> None:
    """Run the test cases of NAME.test.json files against their flows.

    Each PATH is a test file, a .ppflow file (its NAME.test.json beside it)
    or a folder, searched for *.test.json files; the default is the
    current folder. Each case prints PASS or FAIL and its name; a failure
    shows what was expected, what happened and the explanation of each
    flow (as `run --explain`). The last line is `N passed, N failed`.

    \b
    Examples:
        ppdsl test examples/
        ppdsl test examples/lead_routing.test.json -k "hot lead"
        ppdsl test examples/ --coverage --junit-xml report.xml

    Exit status: 0 when every case passes, 1 when one fails, 2 for a test
    file that is malformed or for no cases at all.
    """
    from ..authoring import testing
    from .output import json_bytes, write_stdout
    from ..lang.printable import printable

    def stop(message: str) -> None:
        click.echo(f"error: {printable(message)}", err=True)
        sys.exit(2)

    try:
        found = testing.find_test_files(paths)
    except (testing.Malformed, testing.NoTests) as exc:
        stop(str(exc))
    files, problems = [], []
    for path in found:
        try:
            files.append(testing.read_test_file(path))
        except testing.Malformed as exc:
            problems.append(str(exc))
    if problems:
        for problem in problems[:-1]:
            click.echo(f"error: {printable(problem)}", err=True)
        stop(problems[-1])
    try:
        report = testing.run_tests(files, pattern)
    except testing.NoTests as exc:
        stop(str(exc))
    shown = set()
    for f in report.files:  # a flow with errors: its diagnostics once, and its cases fail
        if f.errors and f.test.flow not in shown:
            shown.add(f.test.flow)
            for line in f.errors:
                click.echo(printable(line, keep="\n"), err=True)
    if junit is not None:
        try:
            junit.write_bytes(testing.to_junit_xml(report))
        except OSError as exc:
            stop(f"can't write {junit}: {exc.strerror}")
    if as_json:
        write_stdout(json_bytes(testing.to_json_report(report, coverage), indent=2) + b"\n")
    else:
        click.echo(testing.to_text_report(report, coverage), nl=False)
    sys.exit(0 if report.failed == 0 else 1)
