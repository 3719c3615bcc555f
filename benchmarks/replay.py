"""Replaying a history: `ppdsl replay` against hand-written baselines, as
throughputs (lines per second) and ratios measured in one run, on one history
that examples/make_history.py generates for the lead-routing flow.

    python benchmarks/replay.py                                      # 100k events, 10k visitors
    python benchmarks/replay.py --quick                              # a smoke run
    python benchmarks/replay.py --events 1000000 --visitors 100000   # the published figures

What is measured (benchmarks/README.md has the targets and the figures):
  parsing       json.loads against orjson.loads (when installed), per line
  flow in a     benchmarks/handwritten.py against the compiled handle() of
  loop          examples/lead_routing.ppflow, with the states in a dict: on
                envelopes parsed beforehand (the handle alone), and with parsing
  SQLite        benchmarks/replay_baselines.py: a careful replay (WAL, batches,
                cached states), and naive ones with one transaction per event,
                on the first lines only
  ppdsl replay  the command, as a subprocess timed by the wall clock: in memory,
                with SQLite, --jobs 2 against --jobs 1
  peak memory   of the careful baseline and of ppdsl replay, each a process of
                its own, over a tenth of the history and over all of it, with
                the same visitors
The in-process candidates take turns, round after round, and the tables show
medians. The compiled handle, the careful SQLite replay and the naive ones must
end with the same visitor states as the hand-written fold: the run stops if not.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import replay_baselines as rb  # noqa: E402

import ppdsl  # noqa: E402

LEAD = ROOT / "examples" / "lead_routing.ppflow"
Row = tuple[str, float, int, str]  # name, seconds, lines, ratio

try:
    import orjson
except ImportError:  # optional: the parsing section then shows the stdlib alone
    orjson = None


def make_history() -> Any:
    spec = importlib.util.spec_from_file_location("make_history", ROOT / "examples" / "make_history.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_history(path: Path, events: int, visitors: int) -> list[bytes]:
    mh = make_history()
    with open(path, "wb") as out:
        mh.write(mh.history(events, visitors, 8), out, compress=False)
    with open(path, "rb") as f:
        return list(f)


def interleaved(cands: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds of each candidate; they take turns each round."""
    samples: dict[str, list[float]] = {name: [] for name in cands}
    for _ in range(rounds):
        for name, fn in cands.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) for name, s in samples.items()}


def rows(times: dict[str, float], lines: dict[str, int], base: str) -> list[Row]:
    """Throughput ratios to `base`: above 1 is faster."""
    rate = {name: lines[name] / t for name, t in times.items()}
    return [(name, t, lines[name], f"{rate[name] / rate[base]:.2f}") for name, t in times.items()]


class Scratch:
    """Fresh database paths in one temporary folder."""

    def __init__(self, folder: str):
        self.folder, self.n = Path(folder), 0

    def path(self) -> str:
        self.n += 1
        return str(self.folder / f"store-{self.n}.db")


def bench_parsing(lines: list[bytes], rounds: int) -> list[Row]:
    cands: dict[str, Callable[[], object]] = {"json.loads": lambda: [json.loads(x) for x in lines]}
    if orjson is not None:
        cands["orjson.loads"] = lambda: [orjson.loads(x) for x in lines]
    n = len(lines)
    return rows(interleaved(cands, rounds), dict.fromkeys(cands, n), "json.loads")


def bench_loop(lines: list[bytes], rounds: int) -> tuple[list[Row], rb.Summary]:
    compiled = ppdsl.load(LEAD).handle
    envs = list(rb.parsed(lines))
    hand = rb.fold(envs)
    ours = rb.fold(envs, compiled)
    assert ours.states == hand.states, "the compiled handle and the hand-written flow end with different states"
    assert ours.actions == hand.actions and ours.applied == hand.applied
    cands: dict[str, Callable[[], object]] = {
        "hand-written, parsed before": lambda: rb.fold(envs),
        "compiled handle, parsed before": lambda: rb.fold(envs, compiled),
        "hand-written, with json.loads": lambda: rb.fold(rb.parsed(lines)),
        "compiled handle, with json.loads": lambda: rb.fold(rb.parsed(lines), compiled),
    }
    times = interleaved(cands, rounds)
    n = len(lines)
    out = rows(
        {k: v for k, v in times.items() if "before" in k}, dict.fromkeys(times, n), "hand-written, parsed before"
    )
    out += rows(
        {k: v for k, v in times.items() if "with" in k}, dict.fromkeys(times, n), "hand-written, with json.loads"
    )
    return out, hand


def bench_sqlite(lines: list[bytes], hand: rb.Summary, scratch: Scratch, rounds: int, naive: int) -> list[Row]:
    def careful() -> rb.Summary:
        return rb.careful_sqlite(scratch.path(), "history.jsonl", lines)

    result = careful()
    assert result.states == hand.states, "the careful SQLite replay ends with other states than the fold in memory"
    assert result.actions == hand.actions and result.duplicate == hand.duplicate
    head = lines[:naive]
    expected = rb.fold(rb.parsed(head)).states
    for defaults in (False, True):
        assert rb.naive_sqlite(scratch.path(), head[:100], defaults).states == rb.fold(rb.parsed(head[:100])).states
    cands: dict[str, Callable[[], object]] = {
        "hand-written, in memory": lambda: rb.fold(rb.parsed(lines)),
        "careful SQLite": careful,
    }
    times = interleaved(cands, rounds)
    counts = dict.fromkeys(times, len(lines))
    for name, defaults, n in (
        ("naive SQLite, WAL", False, naive),
        ("naive SQLite, sqlite3 defaults", True, max(naive // 20, 1)),
    ):
        start = time.perf_counter()
        got = rb.naive_sqlite(scratch.path(), head[:n], defaults)
        times[name], counts[name] = time.perf_counter() - start, n
        if n == len(head):
            assert got.states == expected, f"{name} ends with other states"
    out = rows(times, counts, "careful SQLite")
    return out


def ppdsl_command() -> list[str] | None:
    exe = Path(sys.executable).parent / "ppdsl"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ppdsl"]
    probe = subprocess.run([*cmd, "replay", "--help"], capture_output=True, text=True)
    return cmd if probe.returncode == 0 else None


# Linux keeps a process's peak memory across exec, so a child forked from this
# (large) process would report at least this one's size: a small Python process
# starts each command and reports the command's own peak.
LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measured(argv: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak resident memory in bytes, and stdout of one command."""
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", LAUNCHER, str(peak_file), *argv], capture_output=True)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"error: {' '.join(argv)} failed:\n{proc.stderr.decode('utf-8', 'replace')}")
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in KiB on Linux
        return seconds, int(peak_file.read_text()) * scale, proc.stdout.decode("utf-8", "replace")


def bench_command(
    cmd: list[str], history: Path, careful_t: float, hand: rb.Summary, scratch: Scratch, rounds: int
) -> tuple[list[Row], list[str]]:
    """The command's configurations, and notes on summaries that disagree with the baselines."""
    configs = {
        "in memory": [],
        "SQLite": ["--store", "SQLITE"],
        "in memory, --jobs 1": ["--jobs", "1"],
        "in memory, --jobs 2": ["--jobs", "2"],
        "SQLite, --jobs 1": ["--store", "SQLITE", "--jobs", "1"],
        "SQLite, --jobs 2": ["--store", "SQLITE", "--jobs", "2"],
    }
    notes: list[str] = []

    def run(name: str, extra: list[str]) -> None:
        extra = [f"sqlite:///{scratch.path()}" if x == "SQLITE" else x for x in extra]
        _, _, text = measured([*cmd, "replay", str(LEAD), str(history), *extra, "--json"])
        summary = json.loads(text)
        counts = summary.get("events", summary) if isinstance(summary, dict) else {}
        for key, want in (("applied", hand.applied), ("duplicate", hand.duplicate)):
            got = counts.get(key) if isinstance(counts, dict) else None
            if isinstance(got, int) and got != want:
                notes.append(f"ppdsl replay ({name}) reports {got} {key}, the baselines {want}")

    run("warm-up", [])  # fills the compile cache
    times = interleaved({name: (lambda n=name, e=extra: run(n, e)) for name, extra in configs.items()}, rounds)
    n = hand.lines

    def ratio(name: str, base: str, base_t: float) -> Row:
        return (f"ppdsl replay, {name}", times[name], n, f"{base_t / times[name]:.2f} of {base}")

    rows = [
        ratio("in memory", "in memory", times["in memory"]),
        ratio("SQLite", "careful SQLite", careful_t),
        ratio("SQLite", "in memory", times["in memory"]),
    ]
    for store in ("in memory", "SQLite"):
        one = times[f"{store}, --jobs 1"]
        rows += [ratio(f"{store}, --jobs 1", "--jobs 1", one), ratio(f"{store}, --jobs 2", "--jobs 1", one)]
    return rows, sorted(set(notes))


def bench_memory(cmd: list[str] | None, files: list[tuple[Path, int]], scratch: Scratch) -> list[tuple[str, int, str]]:
    """Peak memory of a replay process over a small and a large history (same visitors)."""
    out = []
    kinds: dict[str, Callable[[Path], list[str]]] = {
        "careful SQLite": lambda p: [sys.executable, __file__, "--careful-child", str(p), scratch.path()],
    }
    if cmd is not None:
        kinds["ppdsl replay, in memory"] = lambda p: [*cmd, "replay", str(LEAD), str(p), "--json"]
        kinds["ppdsl replay, SQLite"] = lambda p: [
            *cmd,
            "replay",
            str(LEAD),
            str(p),
            "--store",
            f"sqlite:///{scratch.path()}",
            "--json",
        ]
    for name, argv in kinds.items():
        peaks = [(n, measured(argv(path))[1]) for path, n in files]
        small = peaks[0][1]
        for n, peak in peaks:
            out.append((f"{name}, {n:,} events", peak, f"{peak / small:.2f}"))
    return out


FOLDS = ("none", "hand-written", "compiled handle")


def fold_child(kind: str, path: str) -> None:
    """Parse a history, then fold it with one of FOLDS ("none" only parses)."""
    with open(path, "rb") as f:
        envs = list(rb.parsed(f))
    handles = {"hand-written": rb.handwritten.handle, "compiled handle": ppdsl.load(LEAD).handle}  # loaded by all
    handle = handles.get(kind)
    if handle is not None:
        rb.fold(envs, handle)


def bench_instructions(history: Path, n: int, tmp: str) -> list[tuple[str, float, str]]:
    """Instructions per event of the fold with each handle, counted by callgrind:
    unlike times, they come out the same run after run on a busy machine. The
    compiled module must be in the compile cache already (main loads it first)."""
    counts = {}
    for kind in FOLDS:
        out = Path(tmp) / "callgrind.out"
        argv = [sys.executable, __file__, "--fold-child", kind, str(history)]
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},  # the same dict and set layouts every run
        )
        found = re.search(r"Collected : ([0-9]+)", proc.stderr)
        if proc.returncode != 0 or found is None:
            raise SystemExit(f"error: callgrind failed:\n{proc.stderr[-2000:]}")
        counts[kind] = int(found.group(1))
    per = {kind: (counts[kind] - counts["none"]) / n for kind in FOLDS[1:]}
    base = per["hand-written"]
    return [(f"{kind}, parsed before", c, f"{base / c:.3f}") for kind, c in per.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="lines of the history (default 100000)")
    parser.add_argument("--visitors", type=int, default=10_000, help="visitors in it (default 10000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the in-process candidates (default 3)")
    parser.add_argument("--naive", type=int, default=10_000, help="lines for the naive SQLite replays (default 10000)")
    parser.add_argument("--quick", action="store_true", help="10k events, 1k visitors, one round: a smoke run")
    parser.add_argument("--markdown", metavar="FILE", help="also write the results as Markdown tables")
    parser.add_argument(
        "--callgrind",
        type=int,
        metavar="N",
        help="also count the instructions of the flow in a loop over the first N lines (valgrind)",
    )
    parser.add_argument("--careful-child", nargs=2, metavar=("HISTORY", "DB"), help=argparse.SUPPRESS)
    parser.add_argument("--fold-child", nargs=2, metavar=("KIND", "HISTORY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.careful_child:  # one careful replay in a process of its own, for its peak memory
        path, db = args.careful_child
        with open(path, "rb") as f:
            rb.careful_sqlite(db, Path(path).name, f)
        return 0
    if args.fold_child:
        fold_child(*args.fold_child)
        return 0
    if args.quick:
        args.events, args.visitors, args.rounds, args.naive = 10_000, 1_000, 1, 1_000

    sections: list[tuple[str, str, list[Row]]] = []
    instructions: list[tuple[str, float, str]] = []
    notes = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Scratch(tmp)
        history = Path(tmp) / "history.jsonl"
        print(f"history: {args.events:,} events, {args.visitors:,} visitors ...", file=sys.stderr)
        lines = write_history(history, args.events, args.visitors)
        n = len(lines)
        print("parsing ...", file=sys.stderr)
        sections.append(("Parsing alone", "ratio to json.loads", bench_parsing(lines, args.rounds)))
        if orjson is None:
            notes.append("orjson is not installed: pip install orjson to compare it")
        print("flow in a loop ...", file=sys.stderr)
        loop, hand = bench_loop(lines, args.rounds)
        sections.append(("The flow in a replay loop, states in a dict", "ratio to hand-written", loop))
        print("SQLite ...", file=sys.stderr)
        sqlite_rows = bench_sqlite(lines, hand, scratch, args.rounds, min(args.naive, n))
        sections.append(("Hand-written replays into SQLite", "ratio to careful SQLite", sqlite_rows))
        careful_t = next(t for name, t, _, _ in sqlite_rows if name == "careful SQLite")
        cmd = ppdsl_command()
        if cmd is None:
            notes.append("ppdsl replay: not available")
        else:
            print("ppdsl replay ...", file=sys.stderr)
            rows, disagreements = bench_command(cmd, history, careful_t, hand, scratch, args.rounds)
            sections.append(("ppdsl replay", "ratio", rows))
            notes.extend(disagreements)
        if args.callgrind:
            print("callgrind ...", file=sys.stderr)
            head = Path(tmp) / "head.jsonl"
            head.write_bytes(b"".join(lines[: args.callgrind]))
            instructions = bench_instructions(head, min(args.callgrind, n), tmp)
        print("peak memory ...", file=sys.stderr)
        small = Path(tmp) / "small.jsonl"
        write_history(small, args.events // 10, args.visitors)
        memory = bench_memory(cmd, [(small, args.events // 10), (history, args.events)], scratch)
    load_after = os.getloadavg()

    machine = (
        f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cores; ppdsl {ppdsl.__version__}; orjson {getattr(orjson, '__version__', 'not installed')}"
    )
    loads = f"load average {load[0]:.2f} before, {load_after[0]:.2f} after"
    facts = f"{n:,} lines, {args.visitors:,} visitors: {hand.applied:,} applied, {hand.duplicate:,} duplicates"
    out = [f"machine: {machine}", loads, f"history: {facts}", *notes]
    md = [f"Machine: {machine}; {loads}. History: {facts}.", *(f"\n{x}." for x in notes), ""]
    for title, ratio, section in sections:
        out += ["", title]
        md += [f"### {title}", "", f"| measure | median | lines/s | {ratio} |", "|---|---:|---:|---:|"]
        for name, t, count, r in section:
            rate = f"{count / t:,.0f}"
            out.append(f"  {name:42s} {t:9.2f} s {rate:>12s} lines/s  {r}")
            md.append(f"| {name} | {t:.2f} s | {rate} | {r} |")
        md.append("")
    if args.callgrind:
        out += ["", f"Instructions per event, the flow in a loop (callgrind, first {args.callgrind:,} lines)"]
        md += [
            f"### Instructions per event, the flow in a loop (callgrind, first {args.callgrind:,} lines)",
            "",
            "| measure | instructions | ratio to hand-written |",
            "|---|---:|---:|",
        ]
        for name, count, r in instructions:
            out.append(f"  {name:42s} {count:12,.0f}  {r}")
            md.append(f"| {name} | {count:,.0f} | {r} |")
        md.append("")
    out += ["", "Peak memory (resident, of the process)"]
    md += ["### Peak memory", "", "| process | peak | ratio to the small history |", "|---|---:|---:|"]
    for name, peak, r in memory:
        out.append(f"  {name:42s} {peak / 2**20:9.1f} MiB  {r}")
        md.append(f"| {name} | {peak / 2**20:.1f} MiB | {r} |")
    print("\n".join(out))
    if args.markdown:
        Path(args.markdown).write_text("\n".join(md) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
