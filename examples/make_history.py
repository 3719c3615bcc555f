"""Write a history of tracked events for examples/lead_routing.ppflow, one
envelope per line, as `ppdsl replay` reads it (gzip when the name ends in .gz).

    python examples/make_history.py --events 100000 --visitors 10000 -o examples/history.jsonl.gz

The history is what a website's tracker would have sent over three weeks, and
it is the same for the same options (a seeded generator, and gzip without a
time stamp). It has the untidy parts a real one has:

- activity is Zipf-like: a few visitors send hundreds of events, most send a
  handful, spread over sessions of clicks a few seconds apart;
- lines arrive in time order, except for about OUT_OF_ORDER_SHARE of the events,
  which arrive after a later event of the same visitor (a push delayed on a
  flaky network);
- about RETRY_SHARE of the lines are retried pushes: the same line again, with
  the same message_id, a little later;
- about NO_ID_SHARE of the lines have no message_id (a server-side import);
- IDENTIFIED_SHARE of the visitors have a name and an e-mail, sent as `visitor`
  properties with each of their signups and on about PROPERTIES_SHARE of their
  other lines;
- about SEGMENT_SHARE of the lines are Segment `track` calls instead of ppdsl
  envelopes.

Standard library only, so it runs without ppdsl installed.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import random
import sys
from datetime import datetime, timezone
from typing import IO

START = 1793577600  # 2026-11-02T00:00:00Z, a Monday
DAYS = 21
OUT_OF_ORDER_SHARE = 0.02
RETRY_SHARE = 0.005
NO_ID_SHARE = 0.02
IDENTIFIED_SHARE = 0.3
PROPERTIES_SHARE = 0.05
SEGMENT_SHARE = 0.01
FRACTION_SHARE = 0.15  # event times with milliseconds; the others are whole seconds

EVENTS = (("click", 0.7), ("view_pricing", 0.24), ("signup", 0.06))
PAGES = ("/", "/pricing", "/features", "/docs/install", "/blog/live-chat", "/contact", "/download")
PLANS = ("free", "pro", "enterprise")
GIVEN = ("Lei", "Meimei", "Fang", "Wei", "Anna", "James", "Yuki", "Priya", "Omar", "Sofia", "Jun", "Mei")
FAMILY = ("Li", "Han", "Wang", "Zhang", "Chen", "Smith", "Garcia", "Tanaka", "Patel", "Haddad", "Rossi")
CHINESE = ("王芳", "李雷", "韩梅梅", "张伟", "陈静")

COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def visitor_ids(rng: random.Random, n: int) -> list[str]:
    ids: dict[str, None] = {}
    while len(ids) < n:
        ids[f"v-{rng.getrandbits(40):010x}"] = None
    return list(ids)


def activity(rng: random.Random, events: int, visitors: int) -> list[int]:
    """How many events each visitor sends: one each first, the rest Zipf-like."""
    counts = [1] * min(events, visitors) + [0] * max(visitors - events, 0)
    rest = events - sum(counts)
    if rest > 0:
        cum = list(itertools.accumulate(1 / (rank + 10) for rank in range(visitors)))
        for i in rng.choices(range(visitors), cum_weights=cum, k=rest):
            counts[i] += 1
    return counts


def times(rng: random.Random, k: int) -> list[float]:
    """k event times of one visitor: sessions over the weeks, clicks seconds apart."""
    first = rng.uniform(0, DAYS * 86400 * 0.8)
    sessions = sorted(rng.uniform(first, DAYS * 86400) for _ in range(1 + k // 6))
    sessions[0] = first
    per_session = [0] * len(sessions)
    for _ in range(k):
        per_session[rng.randrange(len(sessions))] += 1
    out = []
    for start, n in zip(sessions, per_session, strict=True):
        t = START + start
        for _ in range(n):
            out.append(round(t, 3) if rng.random() < FRACTION_SHARE else float(int(t)))
            t += 2 + rng.expovariate(1 / 40)
    out.sort()
    return out


def event_data(rng: random.Random, name: str) -> object:
    if rng.random() < 0.1:
        return None
    if name == "click":
        data = {"page_url": rng.choice(PAGES)}
        if rng.random() < 0.3:
            data["element"] = rng.choice(("cta", "nav", "footer"))
        return data
    return {"plan": rng.choice(PLANS)}


def person(rng: random.Random, vid: str) -> dict[str, str]:
    if rng.random() < 0.15:
        name = rng.choice(CHINESE)
        return {"user_fullname": name, "user_email": f"{vid[2:8]}@example.cn"}
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    return {"user_fullname": f"{given} {family}", "user_email": f"{given}.{family}.{vid[2:6]}@example.com".lower()}


def iso_millis(ts: float) -> str:
    seconds, millis = divmod(round(ts * 1000), 1000)
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"


def envelope(rng: random.Random, vid: str, seq: int, ts: float, identity: dict[str, str] | None) -> dict:
    """One line: a ppdsl envelope, or now and then a Segment track call."""
    name = rng.choices([e for e, _ in EVENTS], [w for _, w in EVENTS])[0]
    data = event_data(rng, name)
    props = identity if name == "signup" or rng.random() < PROPERTIES_SHARE else None
    if rng.random() < SEGMENT_SHARE:
        call: dict = {"type": "track", "event": name}
        call["userId" if identity is not None else "anonymousId"] = vid
        call["messageId"] = f"ajs-next-{rng.getrandbits(96):024x}"
        if data is not None:
            call["properties"] = data
        call["timestamp"] = iso_millis(ts)
        if props is not None:
            call["context"] = {"traits": props}
        return call
    line: dict = {"visitor_id": vid}
    if rng.random() >= NO_ID_SHARE:
        line["message_id"] = f"{vid}-{seq:x}"
    event = {"event_name": name}
    if data is not None:
        event["event_data"] = data
    event["event_timestamp"] = int(ts) if ts == int(ts) else ts
    line["track_event"] = event
    if props is not None:
        line["visitor"] = props
    return line


def history(events: int, visitors: int, seed: int) -> list[str]:
    """The lines of the history, in arrival order."""
    rng = random.Random(seed)
    ids = visitor_ids(rng, visitors)
    retries = round(events * RETRY_SHARE) if events > 1 else 0
    arrivals: list[tuple[float, int, str]] = []  # (arrival time, tie-breaker, line)
    with_id: list[int] = []  # the lines a tracker may push again
    for vid, k in zip(ids, activity(rng, events - retries, visitors), strict=True):
        if not k:
            continue
        identity = person(rng, vid) if rng.random() < IDENTIFIED_SHARE else None
        ts = times(rng, k)
        for seq, t in enumerate(ts):
            arrive = t
            if seq + 1 < k and rng.random() < OUT_OF_ORDER_SHARE:
                arrive = ts[seq + 1] + rng.uniform(0.5, 120)  # after the visitor's next event
            line = envelope(rng, vid, seq, t, identity)
            if "message_id" in line or "messageId" in line:
                with_id.append(len(arrivals))
            arrivals.append((arrive, rng.getrandbits(32), COMPACT(line)))
    for i in rng.sample(with_id, min(retries, len(with_id))):
        arrive, _, line = arrivals[i]
        arrivals.append((arrive + rng.uniform(1, 30), rng.getrandbits(32), line))
    arrivals.sort()
    return [line for _, _, line in arrivals]


def write(lines: list[str], out: IO[bytes], compress: bool) -> None:
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    if compress:  # no file name and no time stamp in the header: the same bytes every run
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as gz:
            gz.write(data)
    else:
        out.write(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="lines to write (default 100000)")
    parser.add_argument("--visitors", type=int, default=10_000, help="distinct visitors (default 10000)")
    parser.add_argument("--seed", type=int, default=8, help="the generator's seed (default 8)")
    parser.add_argument("-o", "--output", default="-", help="a file (.gz to compress) or - for stdout (default)")
    args = parser.parse_args(argv)
    if args.events < 0 or args.visitors < 1:
        parser.error("--events must be 0 or more and --visitors 1 or more")
    lines = history(args.events, args.visitors, args.seed)
    if args.output == "-":
        write(lines, sys.stdout.buffer, compress=False)
    else:
        with open(args.output, "wb") as out:
            write(lines, out, compress=args.output.endswith(".gz"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
