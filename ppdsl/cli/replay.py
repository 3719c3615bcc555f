"""`ppdsl replay`: a history of envelopes through a flow, into a store or as a
dry run, or through two versions of a flow to compare them (--diff). The work
is in ppdsl/engine/replay.py and ppdsl/engine/diff.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import click

from ..lang.printable import printable
from .common import FILE
from .output import describe, json_bytes, write_stdout
from .run_options import STORE_URLS


@click.command()
@click.argument("flow", type=FILE)
@click.argument("events", nargs=-1, required=True)
@click.option(
    "--store",
    metavar="URL",
    help=f"Read and write visitor state here: {STORE_URLS}. "
    "Without it, a dry run: state starts empty and stays in memory.",
)
@click.option(
    "--actions",
    "actions",
    metavar="OUT.jsonl",
    help="Write every action as a JSON line (with visitor_id, message_id and time).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option(
    "--diff",
    "other",
    type=FILE,
    metavar="OTHER.ppflow",
    help="Also run the history through OTHER and report every event whose actions differ (exit 1 if any).",
)
@click.option(
    "--order",
    type=click.Choice(["arrival", "time"]),
    default="arrival",
    show_default=True,
    help="arrival: lines in file order, as a live service saw them; time: each visitor's events by event_timestamp.",
)
@click.option(
    "--strict", is_flag=True, help="Stop with exit 1 at the first line that is not valid JSON or is rejected."
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Split the work by visitor across N processes.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="Where to run: this machine, or a Spark cluster (ppdsl[spark]; needs --output).",
)
@click.option(
    "--master",
    metavar="URL",
    help="With --engine spark: the Spark master (local[N], spark://HOST:PORT, ...); "
    "default: spark.master of the Spark configuration, else local[2].",
)
@click.option(
    "--output",
    metavar="DIR",
    help="With --engine spark: write DIR/states.parquet and DIR/actions.parquet (docs/operations.md).",
)
@click.option(
    "--progress/--no-progress", default=None, help="A progress bar on stderr (default: when stderr is a terminal)."
)
def replay(
    flow: Path,
    events: tuple[str, ...],
    store: Optional[str],
    actions: Optional[str],
    as_json: bool,
    other: Optional[Path],
    order: str,
    strict: bool,
    jobs: int,
    engine: str,
    master: Optional[str],
    output: Optional[str],
    progress: Optional[bool],
) -> None:
    """Run a history of events (JSON lines, one envelope a line) through FLOW.

    \b
    EVENTS are files of JSON lines (.gz too), or - for standard input. A line is
    an envelope: {"visitor_id": "v-1", "message_id": "m-1", "track_event": {...}}
    (or a Segment track call). Bad lines are counted and shown with FILE:LINE.

    \b
    Examples:
        ppdsl replay examples/lead_routing.ppflow examples/history.jsonl.gz
        ppdsl replay examples/lead_routing.ppflow examples/history.jsonl.gz --store visitors.db
        ppdsl replay lead.ppflow history.jsonl.gz --store visitors.db --jobs 2 --actions actions.jsonl
        ppdsl replay lead.ppflow history.jsonl.gz --diff lead_v2.ppflow
        ppdsl replay lead.ppflow day-*.jsonl.gz --engine spark --master spark://head:7077 --output out/

    With --store, a replay that is stopped or killed resumes where it was when
    run again, and a history replayed twice changes nothing the second time.
    Exit status: 0 done, 1 --strict met a bad line or --diff found differences,
    2 wrong usage or a store that can't be used.
    """
    from ..engine.replay import ReplayError, StrictStop
    from ..store import StoreError
    from .runner import load_rules

    _check_engine(engine, master, output, actions, jobs, other)
    if other is not None and (store is not None or actions is not None or jobs != 1):
        raise click.UsageError(
            "--diff runs both flows in memory, in one process: leave out --store, --actions and --jobs"
        )
    rules = load_rules(str(flow), quiet=False)
    if rules is None:
        sys.exit(1)
    showing = progress if progress is not None else sys.stderr.isatty()
    if engine == "spark":
        assert output is not None
        sys.exit(_on_spark(flow, events, store, output, master, order, strict, as_json, showing))
    show = _progress_bar() if showing else None
    try:
        if other is not None:
            rules_b = load_rules(str(other), quiet=False)
            if rules_b is None:
                sys.exit(1)
            sys.exit(_diff(rules, rules_b, flow, other, events, order, strict, as_json, show))
        summary = _replay(rules, store, events, order, jobs, actions, strict, show)
    except StrictStop as exc:
        click.echo(f"error: {printable(str(exc))} (--strict)", err=True)
        sys.exit(1)
    except (StoreError, ReplayError) as exc:
        click.echo(f"error: {printable(str(exc))}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: {printable(str(exc.filename or ''))}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        done = "what was committed stays; run the same command again to go on" if store else "nothing was kept"
        click.echo(f"\ninterrupted: {done}", err=True)
        sys.exit(130)
    finally:
        if show is not None:
            show(None)
    _report(summary.as_json(), store, as_json)


def _report(report: dict[str, Any], store: Optional[str], as_json: bool) -> None:
    """The summary, on stdout: as JSON or as text, the store's password masked."""
    from ..store import masked

    report["store"] = masked(store) if store else "memory: (dry run)"
    if as_json:
        write_stdout(json_bytes(report) + b"\n")
    else:
        click.echo(_text(report))


def _check_engine(
    engine: str,
    master: Optional[str],
    output: Optional[str],
    actions: Optional[str],
    jobs: int,
    other: Optional[Path],
) -> None:
    if engine == "local":
        if master is not None or output is not None:
            raise click.UsageError("--master and --output go with --engine spark")
        return
    if output is None:
        raise click.UsageError("--engine spark writes its states and actions as Parquet: give --output DIR")
    if actions is not None or jobs != 1 or other is not None:
        raise click.UsageError(
            "--engine spark writes the actions to DIR/actions.parquet and spreads the work itself: "
            "leave out --actions, --jobs and --diff"
        )


def _on_spark(
    flow: Path,
    events: tuple[str, ...],
    store: Optional[str],
    output: str,
    master: Optional[str],
    order: str,
    strict: bool,
    as_json: bool,
    showing: bool,
) -> int:
    """Replay on Spark; the summary of a local replay, and where the Parquet files are."""
    import os
    import tempfile

    from ..build.loader import generate_or_raise, read_source
    from ..engine.replay import ReplayError, StrictStop
    from ..engine.spark import replay_on_spark
    from ..store import StoreError, open_store

    def say(message: str) -> None:
        if showing:
            click.echo(f"spark: {message}", err=True)

    source, _ = generate_or_raise(read_source(flow), str(flow))
    log = Path(tempfile.gettempdir()) / f"ppdsl-spark-{os.getpid()}.log"
    keep_log = False  # Spark's log is kept only where an error names it
    try:
        if store is not None:
            open_store(store).close()  # a store that can't be used stops us before Spark starts
        result = replay_on_spark(
            source,
            str(flow),
            events,
            output,
            master=master,
            order=order,
            strict=strict,
            store=(lambda: open_store(store)) if store is not None else None,
            say=say,
            log=str(log),
        )
    except StrictStop as exc:
        click.echo(f"error: {printable(str(exc))} (--strict)", err=True)
        return 1
    except (StoreError, ReplayError) as exc:
        click.echo(f"error: {printable(str(exc))}", err=True)
        keep_log = str(log) in str(exc)
        return 2
    except OSError as exc:
        click.echo(f"error: {printable(str(exc.filename or ''))}: {exc.strerror or exc}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("\ninterrupted: nothing was kept", err=True)
        return 130
    finally:
        if not keep_log:
            log.unlink(missing_ok=True)
    report = result.summary.as_json()
    report["output"] = {"directory": output, "states": result.states, "actions": result.actions}
    _report(report, store, as_json)
    if not as_json:
        click.echo(
            f"written to {printable(output)}: states.parquet ({result.states:,} visitors), "
            f"actions.parquet ({result.actions:,} actions)"
        )
    return 0


def _replay(
    rules: Any,
    store: Optional[str],
    events: tuple[str, ...],
    order: str,
    jobs: int,
    actions: Optional[str],
    strict: bool,
    show: Any,
) -> Any:
    from ..engine.replay import replay
    from ..store import open_store

    url = store or "memory:"
    open_store(url).close()  # a store that can't be used stops us before anything is read
    return replay(
        rules, lambda: open_store(url), events, order=order, jobs=jobs, actions=actions, strict=strict, progress=show
    )


def _diff(
    rules_a: Any,
    rules_b: Any,
    flow: Path,
    other: Path,
    events: tuple[str, ...],
    order: str,
    strict: bool,
    as_json: bool,
    show: Any,
) -> int:
    from ..engine.diff import diff

    report = diff(rules_a, rules_b, events, order=order, strict=strict, progress=show)
    report["flows"] = [str(flow), str(other)]
    if as_json:
        write_stdout(json_bytes(report) + b"\n")
    else:
        click.echo(_diff_text(report))
    return 1 if report["differing_events"] else 0


def _progress_bar() -> Any:
    """A callback that moves a progress bar on stderr; called with None at the end."""
    bar = click.progressbar(length=1000, label="replaying", file=sys.stderr, show_eta=True)
    bar.__enter__()
    state = {"shown": 0}

    def show(fraction: Optional[float]) -> None:
        if fraction is None:
            bar.update(1000 - state["shown"])
            bar.__exit__(None, None, None)
            return
        target = int(fraction * 1000)
        if target > state["shown"]:
            bar.update(target - state["shown"])
            state["shown"] = target

    return show


def _text(report: dict[str, Any]) -> str:
    counts = report["events"]
    rate = report["events_per_second"]
    lines = [
        f"replayed into {printable(report['store'])} in {report['seconds']:.1f} s"
        + (f" ({rate:,} events/s)" if rate and counts["read"] >= 1000 else ""),
        f"  read       {counts['read']:>10,}",
        f"  applied    {counts['applied']:>10,}",
        f"  duplicate  {counts['duplicate']:>10,}",
        f"  rejected   {counts['rejected']:>10,}",
    ]
    if counts["already_replayed"]:
        lines.append(f"  already replayed into this store, skipped: {counts['already_replayed']:,} lines")
    for reason, count in list(report["rejected"].items())[:10]:
        lines.append(f"    {count:>8,}  {printable(reason)}")
    if len(report["rejected"]) > 10:
        lines.append(f"    ... and {len(report['rejected']) - 10} more reasons (--json lists them all)")
    if report["first_rejected"]:
        lines.append("first rejected lines:")
        lines.extend(
            f"  {printable(e['file'])}:{e['line']}: {printable(e['reason'])}" for e in report["first_rejected"]
        )
    total = sum(a["count"] for a in report["actions"])
    lines.append(f"actions: {total:,}")
    lines.extend(f"  {printable(a['flow'])}:{a['line']} {a['type']:<8}{a['count']:>10,}" for a in report["actions"])
    return "\n".join(lines)


def _diff_text(report: dict[str, Any]) -> str:
    a, b = (printable(f) for f in report["flows"])
    lines = [f"{report['events']:,} events through {a} and {b}: {report['differing_events']:,} differ"]
    for side, name in (("left", a), ("right", b)):
        if report[side]:
            lines.append(f"actions of the differing events in {name}:")
            lines.extend(f"  {printable(r['flow'])}:{r['line']} {r['type']:<8}{r['count']:>10,}" for r in report[side])
    for example in report["examples"]:
        lines.append(
            f"e.g. {printable(example['file'])}:{example['line']} visitor {printable(example['visitor_id'])}, "
            f"event {printable(str(example['event']))}:"
        )
        lines.append(f"  {a}: {_actions_text(example['left'])}")
        lines.append(f"  {b}: {_actions_text(example['right'])}")
    return "\n".join(lines)


def _actions_text(actions: Any) -> str:
    if isinstance(actions, str):
        return printable(actions)
    return printable("; ".join(describe(a) for a in actions) or "no actions")
