"""`ppdsl fmt`: rewrite .ppflow files in the one canonical layout."""

from __future__ import annotations

import difflib
import sys
from typing import Optional

import click

from .common import echo_diagnostics, ppflow_files


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, allow_dash=True))
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when a file would change, listing it.")
@click.option("--diff", is_flag=True, help="Write nothing; print a unified diff of each file that would change.")
def fmt(paths: tuple[str, ...], check: bool, diff: bool) -> None:
    """Format .ppflow files in the one canonical layout, in place.

    A folder stands for every *.ppflow file under it, and - reads standard
    input and writes the result to standard output. Comments are kept, next
    to the code they were next to. Every run checks that the result compiles
    to the same program and is stable; a file with errors is left as it is,
    with its diagnostics printed. Exit status: 0 when all went well, 1 when a
    file has errors (or, with --check, would change), 2 for wrong usage or a
    file that can't be read.

    \b
    Examples:
        ppdsl fmt examples/                 # every .ppflow file under it
        ppdsl fmt --check lead.ppflow       # in CI
        ppdsl fmt --diff lead.ppflow        # what would change
        cat lead.ppflow | ppdsl fmt -
    """
    from ..lang.diagnostics import printable

    if "-" in paths and len(paths) > 1:
        raise click.UsageError("- (standard input) can't be mixed with files")
    if "-" in paths:
        status = _stdin(check, diff)
        sys.exit(status)
    counts = {"changed": 0, "unchanged": 0, "failed": 0}
    unreadable = False
    for path in ppflow_files(paths):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            click.echo(f"error: can't read {printable(path)}: {exc.strerror}", err=True)
            unreadable = True
            continue
        new = _format(data, path)
        if new is None:
            counts["failed"] += 1
            continue
        old = data.decode("utf-8")
        if new == old:
            counts["unchanged"] += 1
            continue
        counts["changed"] += 1
        if diff:
            click.echo(_diff(old, new, path), nl=False)
        if check or diff:
            if check:
                click.echo(f"would reformat {printable(path)}", err=True)
            continue
        try:
            with open(path, "wb") as f:
                f.write(new.encode("utf-8"))
        except OSError as exc:
            click.echo(f"error: can't write {printable(path)}: {exc.strerror}", err=True)
            unreadable = True
            continue
        click.echo(f"reformatted {printable(path)}", err=True)
    click.echo(_summary(counts, check or diff), err=True)
    sys.exit(2 if unreadable else 1 if counts["failed"] or check and counts["changed"] else 0)


def _stdin(check: bool, diff: bool) -> int:
    data = sys.stdin.buffer.read()
    new = _format(data, "<stdin>")
    if new is None:
        return 1
    old = data.decode("utf-8")
    if diff and new != old:
        click.echo(_diff(old, new, "<stdin>"), nl=False)
    elif not check and not diff:
        sys.stdout.buffer.write(new.encode("utf-8"))
        sys.stdout.flush()
    if check and new != old:
        click.echo("would reformat <stdin>", err=True)
        return 1
    return 0


def _format(data: bytes, name: str) -> Optional[str]:
    """The formatted text, or None after printing why there is none."""
    from ..authoring.fmt import FormatError, FormatterBug, format_source
    from ..build.loader import source_text
    from ..lang.diagnostics import CompileError, printable, summary

    try:
        return format_source(source_text(data, name), name)
    except (CompileError, FormatError) as exc:
        echo_diagnostics(exc.diagnostics, err=True)
        click.echo(f"{printable(name)}: {summary(exc.diagnostics)}; left unchanged", err=True)
    except FormatterBug as exc:
        click.echo(
            f"error: internal error: {printable(str(exc))}; the file was left unchanged. "
            "This is a bug in ppdsl fmt: please report it with the file.",
            err=True,
        )
    return None


def _diff(old: str, new: str, name: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"{name}\t(original)", f"{name}\t(formatted)"
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def _summary(counts: dict[str, int], dry: bool) -> str:
    from ..lang.diagnostics import plural

    would = "would be " if dry else ""
    parts = []
    if counts["changed"]:
        parts.append(f"{plural(counts['changed'], 'file')} {would}reformatted")
    if counts["unchanged"]:
        parts.append(f"{plural(counts['unchanged'], 'file')} {would}left unchanged")
    if counts["failed"]:
        parts.append(f"{plural(counts['failed'], 'file')} {'would fail' if dry else 'failed'} to reformat")
    return ", ".join(parts) + "." if parts else "No .ppflow files: nothing to do."
