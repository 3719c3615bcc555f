"""`ppdsl lsp`: the language server, on standard input and output."""

from __future__ import annotations

import sys

import click


@click.command()
def lsp() -> None:
    """Run the language server on stdin/stdout, for editors.

    It publishes the diagnostics of `check` as you type, formats with `fmt`,
    shows hover text, goes to definitions and references, completes names,
    lists declarations and flows, offers quick fixes and a Run lens per flow.
    It needs the lsp extra: pip install 'ppdsl[lsp]'.
    """
    try:
        from ..lsp.server import main
    except ImportError as exc:
        if exc.name not in ("pygls", "lsprotocol") and not str(exc.name).startswith(("pygls.", "lsprotocol.")):
            raise
        click.echo("error: ppdsl lsp needs the lsp extra: pip install 'ppdsl[lsp]'", err=True)
        sys.exit(2)
    main()
