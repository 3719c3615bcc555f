"""What the commands share: the FILE argument type, reading a source file,
and printing diagnostics."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..lang.diagnostics import Diagnostic

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def echo_diagnostics(diags: list[Diagnostic], err: bool, color: bool = False) -> None:
    from ..lang.diagnostics import render

    for d in diags:
        click.echo(render(d, color=color), err=err, color=color)


def read_file(path: Path) -> str:
    from ..lang.diagnostics import CompileError
    from ..build.loader import read_source

    try:
        return read_source(path)
    except CompileError as exc:
        echo_diagnostics(exc.diagnostics, err=True)
        raise SystemExit(1)
    except OSError as exc:
        raise click.UsageError(f"can't read {path}: {exc.strerror}")


def ppflow_files(args: tuple[str, ...]) -> Iterator[str]:
    """Each argument, a folder replaced by the *.ppflow files under it, sorted."""
    from ..lang.diagnostics import printable

    for arg in args:
        if arg == "-" or not os.path.isdir(arg):
            yield arg
            continue
        found = sorted(os.path.join(d, f) for d, _, names in os.walk(arg) for f in names if f.endswith(".ppflow"))
        if not found:
            click.echo(f"warning: no .ppflow files under {printable(arg)}", err=True)
        yield from found
