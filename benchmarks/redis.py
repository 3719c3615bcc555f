"""The Redis store against a hand-written Lua compare-and-set, on one server
and on a 3-master Redis Cluster, in one run (benchmarks/README.md, "The Redis store").

    python benchmarks/redis.py            # about a minute
    python benchmarks/redis.py --quick    # a smoke run

It starts its own redis-server processes on loopback (tests/servers/redis.py)
and runs the same events, with new message ids, through:
  baseline     plain redis-py, one event at a time: HMGET the visitor's state
               and version, the compiled handle(), then EVALSHA of a minimal
               script that checks the version, SET NX's the message id with
               the window as TTL and writes the state (reread and redo on a
               conflict)
  store, 1     ppdsl's Processor over the Redis store, one event per commit
               (a quiet service: every request is its own commit)
  store, 100   the same with 100 events per commit (the service's group
               commit under load)
Every candidate starts from an empty store and must end with the same states.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# this file's name would hide redis-py from its own imports; the test servers live in tests/servers
sys.path[:] = [str(ROOT / "tests"), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]
FLOW = ROOT / "examples" / "lead_routing.ppflow"
NAMES = ("click", "view_pricing", "signup")

_CAS = """
if tonumber(redis.call('HGET', KEYS[1], 'n') or '0') ~= tonumber(ARGV[1]) then return 0 end
if not redis.call('SET', KEYS[2], ARGV[3], 'NX', 'EX', ARGV[4]) then return 2 end
redis.call('HSET', KEYS[1], 's', ARGV[2], 'n', tonumber(ARGV[1]) + 1)
return 1
"""


def envelopes(count: int, visitors: int, rules: Any) -> list[Any]:
    from ppdsl.engine.envelope import parse_envelope, visitor_keys

    keys = visitor_keys(rules)
    return [
        parse_envelope(
            {
                "visitor_id": f"v-{(n * 7919) % visitors}",
                "message_id": f"bench-{n}",
                "track_event": {"event_name": NAMES[n % 3], "event_data": {"n": n}, "event_timestamp": 1.8e9 + n},
            },
            visitor_keys=keys,
        )
        for n in range(count)
    ]


def baseline(address: str, prefix: str, rules: Any, events: list[Any]) -> dict[str, dict]:
    import json

    import redis
    from redis.cluster import ClusterNode, RedisCluster

    hosts = [(h, int(p)) for h, p in (a.split(":") for a in address.split(","))]
    client: Any = (
        RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in hosts]) if len(hosts) > 1 else redis.Redis(*hosts[0])
    )
    cas = client.register_script(_CAS)
    handle = rules.handle
    tag = "{" + prefix + "}"
    for e in events:
        key, seen = f"{tag}:v:{e.visitor_id}", f"{tag}:m:{e.message_id}"
        while True:
            state, version = client.hmget(key, "s", "n")
            visitor = json.loads(state) if state else {}
            if e.visitor:
                visitor = {**visitor, **e.visitor}
            result = handle(e.payload, visitor, None, at=e.timestamp)
            text = json.dumps(result["visitor"], separators=(",", ":"), ensure_ascii=False)
            done = cas(keys=[key, seen], args=[int(version or 0), text, repr(e.timestamp), 7 * 24 * 3600])
            if done:
                break
    found = {}
    for e in events:
        state = client.hget(f"{tag}:v:{e.visitor_id}", "s")
        found[e.visitor_id] = json.loads(state)
    client.close()
    return found


def store(address: str, prefix: str, rules: Any, events: list[Any], per: int) -> dict[str, dict]:
    from ppdsl.engine.processor import Processor
    from ppdsl.store import open_store

    opened = open_store(f"redis://{address}/?prefix={prefix}")
    processor = Processor(rules, opened)
    for start in range(0, len(events), per):
        processor.process(events[start : start + per])
    found = dict(opened.visitors())
    opened.close()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer events, one round")
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        args.events, args.rounds = 600, 1

    import ppdsl
    from servers.redis import RedisServer, start_cluster

    rules = ppdsl.load(FLOW)
    events = envelopes(args.events, args.visitors, rules)
    candidates = {
        "baseline (hand-written Lua CAS, 1 event per script)": lambda a, p: baseline(a, p, rules, events),
        "Redis store, 1 event per commit": lambda a, p: store(a, p, rules, events, 1),
        "Redis store, 100 events per commit": lambda a, p: store(a, p, rules, events, 100),
    }
    with tempfile.TemporaryDirectory() as folder:
        single = RedisServer(Path(folder) / "single")
        nodes = start_cluster(Path(folder) / "cluster")
        servers = {"one server": single.address, "cluster": ",".join(n.address for n in nodes)}
        try:
            rows = []
            for where, address in servers.items():
                times: dict[str, list[float]] = {name: [] for name in candidates}
                answers: dict[str, dict] = {}
                for round in range(args.rounds):
                    for n, (name, run) in enumerate(candidates.items()):
                        started = time.perf_counter()
                        answers[name] = run(address, f"bench{round}x{n}")
                        times[name].append(time.perf_counter() - started)
                assert len({repr(sorted(a.items())) for a in answers.values()}) == 1, "the candidates disagree"
                base = next(iter(candidates))
                best = {name: sorted(t)[len(t) // 2] for name, t in times.items()}
                for name, seconds in best.items():
                    rate = args.events / seconds
                    rows.append((where, name, rate, best[base] / seconds))
        finally:
            single.stop()
            for node in nodes:
                node.stop()
    print(f"{args.events} events for {args.visitors} visitors, median of {args.rounds} rounds\n")
    print("| Redis | candidate | events/s | ratio to the baseline |")
    print("|---|---|---:|---:|")
    for where, name, rate, ratio in rows:
        print(f"| {where} | {name} | {rate:,.0f} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
