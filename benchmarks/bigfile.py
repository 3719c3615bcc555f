"""Big files: `check` and a cold `ppdsl run` of a generated 25,000-flow
(~5 MB) file, and `check` at 1k to 25k flows to show linear growth.

    python benchmarks/bigfile.py            # the table (a few minutes)
    python benchmarks/bigfile.py --sizes 1000,5000

Every measure runs in a fresh process, so its peak memory is that process's
ru_maxrss. `check` is compile_source(emit=False) after a warm-up compile of a
tiny file (imports, grammar), timed inside the process; its memory column is
the process's peak, the per-flow column the peak above the warm-up peak. A cold run is the real `ppdsl run` console
script with an empty cache directory: start, compile, cache write and one
event, timed from outside, beside `ppdsl check` timed the same way. Times are
wall clock; the CPU column and the load average show how busy the machine was.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (1000, 5000, 10000, 25000)
EVENT = "ev1"


def big_file(n: int) -> str:
    """n flows of about 200 bytes over 8 declared events, three agents, two
    groups and two fields, in four shapes taken in turn: if/elif/else with a
    template, switch, let/set in a block, and `on failure` with a list."""
    lines = [f'event {i} ev{i} uuid "uuid-{i}" "Event number {i}"' for i in range(1, 9)]
    lines += ['agent alice "Alice"', "agent bob", "agent carol", 'group sales "Sales"', "group support"]
    lines += ["field score int", "field tier string", ""]
    for f in range(n):
        a, b, k, p = f % 8 + 1, (f + 3) % 8 + 1, f % 10, f % 5
        shape = f % 4
        if shape == 0:
            lines.append(f"""flow f{f} priority {p} {{
  on event ev{a}, ev{b} ->
    if count(ev{a}) > {k} and user_city == "Beijing"
      reply alice "Hi {{{{ user_fullname or 'there' }}}}"
    elif now - last_time(ev{b}) < {k + 1}0m
      assign group sales
    else
      end
}}""")
        elif shape == 1:
            lines.append(f"""flow f{f} {{
  on event ev{a} ->
    switch count(ev{a}) {{
      case 1, 2 -> reply bob "Welcome, {{{{ user_fullname or 'friend' }}}}"
      case {k + 3} -> assign group support
      default -> ticket "ev{a} seen {{{{ count(ev{a}) }}}} times"
    }}
}}""")
        elif shape == 2:
            lines.append(f"""flow f{f} priority {p} {{
  on event ev{a} -> {{
    let n = count(ev{a}) + count(ev{b}) * 2
    if n >= {k + 5} {{ set score = n  set tier = "gold" }} else assign any
  }}
  on any event -> end
}}""")
        else:
            lines.append(f"""flow f{f} priority {p} {{
  on event ev{a}, {b} ->
    if data.plan in ["pro", "team"] or user_city == "Xi'an"
      assign group sales on failure -> ticket "{{{{ user_email }}}}: {{{{ data.plan }}}}"
    else
      reply carol
}}""")
    return "\n".join(lines) + "\n"


def _usage() -> tuple[float, float]:
    """CPU seconds and peak MB of this process."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime, me.ru_maxrss / 1024  # KB on Linux


def child_check(path: str) -> None:
    """In a fresh process: warm up, then time compile_source(emit=False)."""
    from ppdsl.build.pipeline import compile_source

    compile_source(big_file(2), "warm.ppflow", emit=False)
    cpu0, base = _usage()
    text = Path(path).read_text(encoding="utf-8")
    start = time.perf_counter()
    result = compile_source(text, path, emit=False)
    elapsed = time.perf_counter() - start
    cpu, peak = _usage()
    errors = [d for d in result.diagnostics if d.is_error]
    assert not errors, errors[0]
    print(json.dumps({"time": elapsed, "cpu": cpu - cpu0, "peak_mb": peak, "base_mb": base}))


def _spawn(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak MB, stdout) of a child process, via wait4's rusage."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} exited with {proc.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text


def measure_check(path: str, repeat: int) -> dict:
    """The fastest of `repeat` fresh processes."""
    argv = [sys.executable, __file__, "--child-check", path]
    runs = [json.loads(_spawn(argv, dict(os.environ))[3]) for _ in range(repeat)]
    return min(runs, key=lambda r: r["time"])


def _console(name: str) -> list[str]:
    exe = Path(sys.executable).parent / name
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ppdsl"]


def measure_cli(path: str, args: list[str], repeat: int) -> tuple[float, float, float]:
    """Wall time, CPU time and peak MB of `ppdsl CMD FILE ARGS` with an empty cache; the fastest of `repeat`."""
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "PPDSL_CACHE_DIR": cache}
            runs.append(_spawn([*_console("ppdsl"), args[0], path, *args[1:]], env)[:3])
            if args[0] == "run":
                assert any(Path(cache).rglob("*.bin")), "the cold run wrote no cache entry"
    return min(runs)


def run(sizes: tuple[int, ...] = SIZES, cli: bool = True, repeat: int = 1) -> list[tuple[str, float, str]]:
    """Rows of (name, seconds, detail), as benchmarks/run.py prints them."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        checks = {}
        for n in sizes:
            path = os.path.join(tmp, f"big{n}.ppflow")
            Path(path).write_text(big_file(n), encoding="utf-8")
            size = os.path.getsize(path)
            r = checks[n] = measure_check(path, repeat)
            per_kb = (r["peak_mb"] - r["base_mb"]) * 1024 / n
            detail = (
                f"{r['peak_mb']:5.0f} MB peak  cpu {r['cpu']:5.1f} s  {r['time'] / n * 1e3:5.3f} ms/flow"
                f"  {per_kb:4.1f} KB/flow  ({size / 1e6:.1f} MB file)"
            )
            rows.append((f"check, {n} flows", r["time"], detail))
        if cli:
            n = max(sizes)
            path = os.path.join(tmp, f"big{n}.ppflow")
            check_t, check_cpu, peak = measure_cli(path, ["check"], repeat)
            detail = f"{peak:5.0f} MB peak  cpu {check_cpu:5.1f} s"
            rows.append((f"`ppdsl check`, {n} flows (process)", check_t, detail))
            t, cpu, peak = measure_cli(path, ["run", "--event", EVENT, "--at", "1795593600", "--json"], repeat)
            detail = (
                f"{peak:5.0f} MB peak  cpu {cpu:5.1f} s  {t / checks[n]['time']:.2f}x check,"
                f" {t / check_t:.2f}x `ppdsl check` (cpu {cpu / check_cpu:.2f}x)"
            )
            rows.append((f"cold `ppdsl run`, {n} flows (process)", t, detail))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="flow counts, comma-separated")
    parser.add_argument("--no-cli", action="store_true", help="only the in-process checks")
    parser.add_argument("--repeat", type=int, default=1, help="the fastest of N runs of each")
    parser.add_argument("--child-check", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_check:
        child_check(args.child_check)
        return 0
    sizes = tuple(int(s) for s in args.sizes.split(","))
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    for name, t, detail in run(sizes, cli=not args.no_cli, repeat=args.repeat):
        print(f"  {name:40s} {t:6.2f} s  {detail}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
