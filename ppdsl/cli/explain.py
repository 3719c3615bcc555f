"""`ppdsl explain CODE`: the long help for one diagnostic code, from
ppdsl/lang/explanations.py, with what `check` says about its example."""

from __future__ import annotations

from typing import Optional

import click

_EXAMPLE = "example.ppflow"


@click.command()
@click.argument("code", required=False)
def explain(code: Optional[str]) -> None:
    """Explain a diagnostic code: what it means, a file that triggers it, what
    `check` says about that file, the fix, and the file fixed. Without CODE,
    list every code with its title.

    \b
    Examples:
        ppdsl explain E103
        ppdsl explain w204
        ppdsl explain                 # every code
    """
    from ..lang.explanations import EXPLANATIONS
    from ..lang.messages import SEVERITY
    from ..lang.printable import printable

    if code is None:
        for e in EXPLANATIONS.values():
            click.echo(f"{e.code}  {SEVERITY[e.code]:<7}  {e.title}")
        click.echo("\n`ppdsl explain CODE` shows what a code means, an example and the fix.")
        return
    entry = EXPLANATIONS.get(code.strip().upper())
    if entry is None:
        raise click.UsageError(f"unknown code '{printable(code)}'; the codes are: {', '.join(EXPLANATIONS)}")
    out = [
        f"{entry.code} ({SEVERITY[entry.code]}): {entry.title}",
        "",
        entry.text,
        "",
        "Example:" if entry.bad_encoding == "utf-8" else f"Example (saved as {entry.bad_encoding.upper()}):",
        "",
        _indent(entry.bad),
        "",
        f"`ppdsl check {_EXAMPLE}` says:",
        "",
        _indent(_check(entry.bad.encode(entry.bad_encoding))),
        "",
        f"Fix: {entry.fix}",
        "",
        _indent(entry.good),
    ]
    click.echo(printable("\n".join(out), keep="\t\n"))  # W205's example holds a form feed


def _indent(text: str) -> str:
    """Each line indented; lines end only at \\n, as in ppflow (not at W205's form feed)."""
    return "\n".join("    " + line for line in text.rstrip("\n").split("\n"))


def _check(data: bytes) -> str:
    """What `ppdsl check` prints for the example (its summary line aside)."""
    from ..build.loader import source_text
    from ..build.pipeline import compile_source
    from ..lang.diagnostics import CompileError, render

    try:
        diagnostics = compile_source(source_text(data, _EXAMPLE), _EXAMPLE, emit=False).diagnostics
    except CompileError as exc:  # not UTF-8
        diagnostics = exc.diagnostics
    return "\n".join(render(d) for d in diagnostics)
