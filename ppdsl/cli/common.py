"""What the commands share: the FILE argument type, reading a source file,
and printing diagnostics."""

from __future__ import annotations

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
