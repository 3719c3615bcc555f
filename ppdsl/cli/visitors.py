"""`ppdsl visitors`: the visitors of a store that an expression or a declared
segment selects (访客过滤, 客户细分). The filter is compiled by
ppdsl/build/filters.py; on SQLite and PostgreSQL it runs inside the database."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any, Optional
from collections.abc import Iterator

import click

from ..lang.printable import printable
from .common import FILE, echo_diagnostics
from .output import json_bytes, write_stdout


@click.command()
@click.argument("store")
@click.option("--where", "where", metavar="EXPR", help="A ppflow expression over the visitor, e.g. 'count(2) > 3'.")
@click.option("--segment", metavar="FLOW.ppflow:NAME", help="A segment declared in a file.")
@click.option("--flow", type=FILE, metavar="FLOW.ppflow", help="Take event names for --where from this file.")
@click.option("--count", "count_only", is_flag=True, help="Print only how many visitors match.")
@click.option("--json", "as_json", is_flag=True, help='One JSON object a line: {"visitor_id": ..., "state": {...}}.')
@click.option("--csv", "as_csv", is_flag=True, help="CSV: visitor_id, then one column per variable.")
@click.option("--limit", type=click.IntRange(min=0), metavar="N", help="At most N visitors.")
@click.option(
    "--explain-plan", is_flag=True, help="Say on stderr whether the filter runs in the database or in Python, and why."
)
def visitors(
    store: str,
    where: Optional[str],
    segment: Optional[str],
    flow: Optional[Path],
    count_only: bool,
    as_json: bool,
    as_csv: bool,
    limit: Optional[int],
    explain_plan: bool,
) -> None:
    """List the visitors in STORE, or those that an expression or segment selects.

    \b
    STORE is a file path (SQLite), sqlite:///PATH, postgresql://USER:PASSWORD@HOST/DB
    or redis://HOST:PORT/?prefix=NAME,
    as `ppdsl replay --store` wrote it.

    \b
    Examples:
        ppdsl visitors visitors.db --count
        ppdsl visitors visitors.db --where 'count(2) > 3 and now - last_time(2) < 7d'
        ppdsl visitors visitors.db --where 'count(view_pricing) >= 2' --flow examples/lead_routing.ppflow
        ppdsl visitors visitors.db --segment examples/lead_routing.ppflow:hot --csv > hot.csv
        ppdsl visitors visitors.db --where 'user_email != null' --explain-plan --count

    On SQLite and PostgreSQL the filter runs inside the database, and selects
    exactly the visitors that evaluating it in Python would select.
    """
    from ..store import StoreError, open_store

    if where is not None and segment is not None:
        raise click.UsageError("give --where or --segment, not both")
    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    selector = _filter(where, segment, flow)
    try:
        source = open_store(store, readonly=True)
    except StoreError as exc:
        click.echo(f"error: {printable(str(exc))}", err=True)
        sys.exit(2)
    if selector is not None and source.sql_dialect is not None:
        selector = selector.on(source.sql_dialect)
    try:
        if explain_plan:
            click.echo(f"plan: {_plan(selector, source)}", err=True)
            for line in _database_plan(selector, source):
                click.echo(f"  {line}", err=True)
        if count_only:
            click.echo(str(_count(selector, source, limit)))
            return
        rows = _selected(selector, source, limit)
        if as_csv:
            _write_csv(rows)
        else:
            for visitor_id, state in rows:
                if as_json:
                    write_stdout(json_bytes({"visitor_id": visitor_id, "state": state}) + b"\n")
                else:
                    write_stdout(printable(visitor_id).encode() + b" " + json_bytes(state) + b"\n")
    except StoreError as exc:
        click.echo(f"error: {printable(str(exc))}", err=True)
        sys.exit(2)
    finally:
        source.close()


def _filter(where: Optional[str], segment: Optional[str], flow: Optional[Path]) -> Any:
    """The compiled filter, or None for every visitor; errors are printed as `check` prints them."""
    from ..build.filters import compile_filter, segment_filter
    from ..lang.diagnostics import CompileError

    try:
        if segment is not None:
            return segment_filter(segment)
        if where is not None:
            return compile_filter(where, events=_event_names(flow) if flow else None)
    except CompileError as exc:
        echo_diagnostics(exc.diagnostics, err=True)
        sys.exit(1)
    except ValueError as exc:
        raise click.BadParameter(printable(str(exc)), param_hint="--segment") from None
    except OSError as exc:
        raise click.BadParameter(
            f"can't read {printable(str(exc.filename))}: {exc.strerror}", param_hint="--segment"
        ) from None
    return None


def _event_names(flow: Path) -> dict[str, int]:
    from ..build.loader import load

    try:
        return {event["name"]: seq for seq, event in load(flow).EVENTS.items()}
    except Exception as exc:  # a file with errors: say so as check would
        from ..lang.diagnostics import CompileError

        if not isinstance(exc, CompileError):
            raise
        echo_diagnostics(exc.diagnostics, err=True)
        sys.exit(1)


def _plan(selector: Any, store: Any) -> str:
    from ..store import masked

    if selector is None:
        return "no filter: every visitor"
    if store.sql_dialect is None:
        return f"evaluated in Python: {masked(store.url)} has no SQL"
    return str(selector.plan)


def _database_plan(selector: Any, store: Any) -> list[str]:
    """The database's own plan of a pushed-down filter, where the store can tell (PostgreSQL's EXPLAIN)."""
    if selector is None or selector.sql is None or not hasattr(store, "explain"):
        return []
    query, params = selector.sql.query("id", "visitors")
    return list(store.explain(query, params))


def _selected(selector: Any, store: Any, limit: Optional[int]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The matching (id, state) pairs, in id order, at most `limit`."""
    if store.sql_dialect is not None and selector is not None:
        rows: Iterator[tuple[str, Any]] = ((i, json.loads(text)) for i, text in selector.select(store))
    else:
        rows = ((i, s) for i, s in store.visitors() if selector is None or selector.matches(s))
    for n, row in enumerate(rows):
        if n == limit:
            return
        yield row


def _count(selector: Any, store: Any, limit: Optional[int]) -> int:
    """How many match; in SQL no state is parsed but those SQL leaves to Python."""
    if selector is None:
        found = store.count()
    elif store.sql_dialect is not None:
        found = sum(1 for _ in selector.select(store))
    else:
        found = sum(1 for _, state in store.visitors() if selector.matches(state))
    return found if limit is None else min(found, limit)


def _write_csv(rows: Iterator[tuple[str, dict[str, Any]]]) -> None:
    taken = list(rows)
    columns = sorted({key for _, state in taken for key in state})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["visitor_id", *columns])
    for visitor_id, state in taken:
        writer.writerow([visitor_id, *(_cell(state.get(c)) for c in columns)])
    write_stdout(out.getvalue().encode("utf-8", "surrogatepass"))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
