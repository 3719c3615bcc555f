"""ppdsl's benchmarks, in one process, interleaved, as medians and ratios.

    python benchmarks/run.py            # everything, a results table on stdout
    python benchmarks/run.py --quick    # fewer rounds, for a smoke run
    python benchmarks/run.py --markdown benchmarks/RESULTS.md

What is measured (see benchmarks/README.md for the targets and a table):
  whole event   the compiled lead-routing flow's handle() against the
                hand-written function in benchmarks/handwritten.py
  condition     `count(2)>8 and count(3)>8` through ppdsl.compile_condition,
                a hand-written lambda, and the peers of benchmarks/peers.py
  compile       check and check+compile of generated 10/100/1,000-flow files
  CLI           a repeated `ppdsl run` on an unchanged (cached) file against
                `python -c pass`
  editing       the language server's diagnostics after each of 500 keystrokes
                on a 2,000-line file, against `ppdsl check` on that file
Absolute times on a shared machine are noisy; the ratios are what count.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from collections.abc import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import handwritten  # noqa: E402
import peers  # noqa: E402

import ppdsl  # noqa: E402
from ppdsl.build.pipeline import compile_source  # noqa: E402

LEAD = ROOT / "examples" / "lead_routing.ppflow"
VISITOR = {
    "user_fullname": "Li Lei",
    "user_email": "li.lei@example.com",
    "event_count_2": 8,
    "event_first_time_2": "2026-11-20T08:00:00Z",
    "event_last_time_2": "2026-11-24T17:30:00Z",
    "event_last_data_2": '{"plan":"pro"}',
    "event_count_3": 9,
    "event_first_time_3": "2026-11-21T09:00:00Z",
    "event_last_time_3": "2026-11-24T18:00:00Z",
}
PAYLOAD = {
    "track_event": {
        "event_name": "view_pricing",
        "event_uuid": "0b8e2c1d-3f4a-4b5c-8d6e-7f8091a2b3c4",
        "event_data": {"plan": "enterprise", "page_url": "/pricing"},
        "event_timestamp": 1795593600,
    }
}
CONDITION_VISITOR = {"event_count_2": 9, "event_count_3": 12, "user_fullname": "Li Lei"}


def interleaved(cands: dict[str, tuple[Callable, tuple]], number: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each candidate `fn(*args)`; they take turns each round."""
    samples: dict[str, list[float]] = {name: [] for name in cands}
    for _ in range(rounds):
        for name, (fn, args) in cands.items():
            start = time.perf_counter()
            for _ in range(number):
                fn(*args)
            samples[name].append((time.perf_counter() - start) / number)
    return {name: statistics.median(s) for name, s in samples.items()}


def bench_event(quick: bool) -> list[tuple[str, float, str]]:
    rules = ppdsl.load(LEAD)
    for visitor in (VISITOR, {}, {**VISITOR, "event_count_2": 20}):
        assert rules.handle(PAYLOAD, visitor) == handwritten.handle(PAYLOAD, visitor), "results differ"
    times = interleaved(
        {
            "ppdsl handle": (rules.handle, (PAYLOAD, VISITOR)),
            "hand-written": (handwritten.handle, (PAYLOAD, VISITOR)),
        },
        number=2000,
        rounds=5 if quick else 25,
    )
    base = times["hand-written"]
    return [(name, t, f"{t / base:.2f}") for name, t in times.items()]


def bench_condition(quick: bool) -> tuple[list[tuple[str, float, str]], dict[str, str]]:
    cond = ppdsl.compile_condition("count(2)>8 and count(3)>8")

    def hand(v: dict) -> bool:
        return v.get("event_count_2", 0) > 8 and v.get("event_count_3", 0) > 8

    skipped: dict[str, str] = {}
    cands = {"ppdsl compile_condition": cond, "hand-written": hand, **peers.build_peers(skipped)}
    for name, fn in cands.items():
        for v, want in ((CONDITION_VISITOR, True), ({"event_count_2": 9, "event_count_3": 3}, False), ({}, False)):
            assert bool(fn(v)) is want, f"{name} gives {fn(v)!r} for {v}"
    v = CONDITION_VISITOR
    times = interleaved(
        {name: (fn, (v,)) for name, fn in cands.items()}, number=2000 if quick else 20000, rounds=5 if quick else 41
    )
    hand_t = times["hand-written"]
    rows = [(name, t, f"{t / hand_t:.2f}") for name, t in sorted(times.items(), key=lambda kv: kv[1])]
    peer_times = {n: t for n, t in times.items() if n not in ("ppdsl compile_condition", "hand-written")}
    if peer_times:
        fastest = min(peer_times, key=peer_times.get)  # type: ignore[arg-type]
        rows.append(
            (
                f"ppdsl / fastest peer ({fastest})",
                times["ppdsl compile_condition"],
                f"{times['ppdsl compile_condition'] / peer_times[fastest]:.3f}",
            )
        )
    return rows, skipped


def flows_file(n: int) -> str:
    """n flows over 8 declared events, each like the seed flow: two rules, a
    condition with and/or, elif and else, a template with expressions."""
    lines = [f'event {i} ev{i} uuid "uuid-{i}"' for i in range(1, 9)]
    lines += ["agent alice", "agent bob", "group sales"]
    for f in range(n):
        a, b = f % 8 + 1, (f + 3) % 8 + 1
        lines.append(f"""flow f{f} priority {f % 5} {{
  on event ev{a}, ev{b} ->
    if count(ev{a}) > {f % 10} and count(ev{b}) > 3 or user_city == "Beijing"
      reply alice "Hi {{{{ user_fullname or 'there' }}}}, seen {{{{ count(ev{a}) }}}} times"
    elif now - last_time(ev{b}) < 10m
      assign group sales
    else
      reply bob
  on any event -> end
}}""")
    return "\n".join(lines) + "\n"


def bench_compile(quick: bool) -> list[tuple[str, float, str]]:
    """Best of three, each from a clean heap; the last column is the time per
    flow, which stays flat when the cost grows linearly."""
    rows = []
    compile_source(flows_file(2), "warm.ppflow")  # grammar load, imports
    for n in (10, 100) if quick else (10, 100, 1000):
        src = flows_file(n)
        check_t = min(_timed(lambda s=src: compile_source(s, "f.ppflow", emit=False)) for _ in range(3))
        both_t = min(_timed(lambda s=src: compile_source(s, "f.ppflow")) for _ in range(3))
        rows.append((f"{n} flows: check", check_t, f"{check_t / n * 1e3:.2f} ms/flow"))
        rows.append((f"{n} flows: check + compile", both_t, f"{both_t / n * 1e3:.2f} ms/flow"))
    return rows


def _timed(fn: Callable[[], object]) -> float:
    gc.collect()  # start from a clean heap, as a fresh `ppdsl compile` process does
    start = time.perf_counter()
    result = fn()
    assert not any(d.is_error for d in result.diagnostics), "the generated file must be valid"
    return time.perf_counter() - start


def bench_cli(quick: bool) -> list[tuple[str, float, str]]:
    exe = Path(sys.executable).parent / "ppdsl"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ppdsl"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PPDSL_CACHE_DIR": tmp}
        run = [*cmd, "run", str(LEAD), "--event", "view_pricing", "--at", "1795593600", "--json"]
        subprocess.run(run, env=env, check=True, capture_output=True)  # fills the cache
        samples: dict[str, list[float]] = {"ppdsl run (cached)": [], "python -c pass": []}
        for _ in range(5 if quick else 30):
            for name, argv in (("ppdsl run (cached)", run), ("python -c pass", [sys.executable, "-c", "pass"])):
                start = time.perf_counter()
                subprocess.run(argv, env=env, check=True, capture_output=True)
                samples[name].append(time.perf_counter() - start)
    times = {name: statistics.median(s) for name, s in samples.items()}
    base = times["python -c pass"]
    return [(name, t, f"{t / base:.2f}") for name, t in times.items()]


SESSION = """\
flow typed_live priority 1 {
  on event ev1, ev2 ->
    if count(ev1) > 3 and user_city == "Beijing" or now - last_time(ev2) < 10m
      reply alice "Hi {{ user_fullname or 'there' }}, you came back {{ count(ev1) }} times"
    elif count(ev2) > 2
      assign group sales
    else
      reply bob "Hello again"
  on event ev3 -> if len(page_url) > 10 and contains(page_url, "/pricing") reply alice else end
  on event ev4 -> switch lower(user_language) { case "zh", "zh-cn" -> reply alice "你好" default -> end }
  on any event -> end
}

"""


def bench_editing(quick: bool) -> list[tuple[str, float, str]]:
    """An editing session replayed on a 2,000-line file: a new 500-character
    flow typed one keystroke at a time in its middle. Each keystroke is a new
    text to check, as the language server checks it (with the file's
    Reparser, without debouncing: every change counted), against `ppdsl
    check` on the file."""
    from ppdsl.authoring.editor import analyze
    from ppdsl.lang.diagnostics import to_lsp
    from ppdsl.lang.reparse import Reparser

    text = flows_file(200)
    lines = text.split("\n")
    cut = next(i for i in range(len(lines) // 2, len(lines)) if lines[i].startswith("flow "))  # between two flows
    head, tail = "\n".join(lines[:cut]) + "\n", "\n".join(lines[cut:])
    assert len(lines) >= 2000 and len(SESSION) >= 500
    assert not compile_source(head + SESSION + tail, "session.ppflow", emit=False).diagnostics
    keystrokes = SESSION[: 25 if quick else 500]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "session.ppflow"
        path.write_text(text, encoding="utf-8")
        exe = Path(sys.executable).parent / "ppdsl"
        check = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "ppdsl"])]
        check += ["check", str(path)]
        process = []
        for _ in range(3 if quick else 5):
            start = time.perf_counter()
            subprocess.run(check, check=True, capture_output=True)
            process.append(time.perf_counter() - start)
    inprocess = [_timed(lambda: compile_source(text, "session.ppflow", emit=False)) for _ in range(3 if quick else 5)]
    per_change = []
    reparser = Reparser()  # as the server keeps one per open file
    analyze(text, "session.ppflow", reparser)  # the file as opened
    for i in range(1, len(keystrokes) + 1):
        typed = head + keystrokes[:i] + tail
        start = time.perf_counter()
        analysis = analyze(typed, "session.ppflow", reparser)
        [to_lsp(d, "file:///session.ppflow") for d in analysis.result.diagnostics]
        per_change.append(time.perf_counter() - start)
    # edits that keep the file valid: a digit in the middle flow's condition, changed back and forth
    valid = []
    at = text.index("count(ev", len(head) - 300)
    digit = text.index(">", at) + 2
    for i in range(10 if quick else 50):
        edited = text[:digit] + str(i % 10) + text[digit + 1 :]
        start = time.perf_counter()
        analysis = analyze(edited, "session.ppflow", reparser)
        [to_lsp(d, "file:///session.ppflow") for d in analysis.result.diagnostics]
        valid.append(time.perf_counter() - start)
        assert not analysis.result.diagnostics
    base = statistics.median(process)
    rows = [
        ("ppdsl check on the file (a process)", base, "1.00"),
        ("the same check in-process", statistics.median(inprocess), f"{statistics.median(inprocess) / base:.2f}"),
    ]
    median = statistics.median(per_change)
    p90 = sorted(per_change)[int(0.9 * len(per_change))]
    rows.append((f"diagnostics per change, median of {len(per_change)}", median, f"{median / base:.2f}"))
    rows.append(("diagnostics per change, 90th percentile", p90, f"{p90 / base:.2f}"))
    median = statistics.median(valid)
    rows.append((f"a change that leaves the file valid, median of {len(valid)}", median, f"{median / base:.2f}"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and no 1,000-flow file")
    parser.add_argument("--markdown", metavar="FILE", help="also write the results as a Markdown table")
    args = parser.parse_args()

    sections = []
    print("whole event ...", file=sys.stderr)
    title = "Whole event: handle() of the lead-routing flow"
    sections.append((title, "ratio to hand-written", bench_event(args.quick)))
    print("condition ...", file=sys.stderr)
    rows, skipped = bench_condition(args.quick)
    sections.append(("Condition alone: count(2)>8 and count(3)>8", "ratio to hand-written", rows))
    print("compile ...", file=sys.stderr)
    sections.append(("Compile time (in-process)", "per flow", bench_compile(args.quick)))
    print("CLI ...", file=sys.stderr)
    sections.append(("CLI latency", "ratio to python -c pass", bench_cli(args.quick)))
    print("editing ...", file=sys.stderr)
    title = "Editing: 500 keystrokes on a 2,000-line file (language server diagnostics)"
    sections.append((title, "ratio to ppdsl check", bench_editing(args.quick)))

    machine = (
        f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cores; ppdsl {ppdsl.__version__}"
    )
    versions = {k: v for k, v in peers.versions().items() if v}
    out = [f"machine: {machine}", f"peers: {json.dumps(versions)}"]
    if skipped:
        out.append(f"skipped peers: {json.dumps(skipped)}")
    md = [f"Machine: {machine}. Peers: {', '.join(f'{k} {v}' for k, v in versions.items()) or 'none installed'}.", ""]
    for title, ratio, rows in sections:
        out += ["", title]
        md += [f"### {title}", "", f"| measure | median | {ratio} |", "|---|---:|---:|"]
        for name, t, r in rows:
            shown = f"{t * 1e6:10.2f} us" if t < 0.01 else f"{t * 1e3:10.1f} ms"
            out.append(f"  {name:45s} {shown}  {r}")
            md.append(f"| {name} | {shown.strip()} | {r} |")
        md.append("")
    print("\n".join(out))
    if args.markdown:
        Path(args.markdown).write_text("\n".join(md), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
