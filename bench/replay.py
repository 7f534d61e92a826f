"""Replay timing fidelity and replay speed (issue 12), on loopback.

    bench/run --only replay                     # in the suite, with its targets
    .venv/bin/python -m bench.replay [--smoke]  # alone

1. Gaps: a recording whose events are 1 ms to 500 ms apart (log-uniform, seeded) is replayed
   at speed 1; each gap at the client's socket (the kernel's receive times) is compared with
   the recorded one. Target: p99 of the absolute error within 2 ms.
2. Rate: a 100,000-event recording replayed at `?speed=0`, against `/counter?delay=0` of
   the same server, same event shape, read by the same raw aiohttp loop. Target: replay at
   no less than half the counter's rate.

Alone, it prints its table on stdout; exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import socket
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import BenchError, Report, Table, Target, percentile, progress
from bench.config import FULL, SMOKE, Config
from sse_cli.launcher import running, serve_command

HEAD: list[dict[str, object]] = [
    {"format": "sse-cli recording", "version": 1},
    {"type": "request", "method": "GET", "url": "", "headers": [], "body": None},
    {"type": "response", "status": 200, "reason": "OK", "headers": []},
]


def write_recording(path: Path, offsets_us: list[int]) -> None:
    """A recording of GET /<file stem>: one small event at each offset."""
    request = {**HEAD[1], "url": f"http://bench/{path.stem}"}
    lines = [json.dumps(r) for r in (HEAD[0], request, HEAD[2])]
    for n, at in enumerate(offsets_us, 1):
        event = {"type": "event", "at_us": at, "event": "message", "data": str(n), "id": str(n)}
        lines.append(json.dumps({**event, "retry": None}))
    path.write_text("\n".join(lines) + "\n")


def irregular_gaps(count: int, seed: int = 12) -> list[int]:
    rng = random.Random(seed)
    return [int(math.exp(rng.uniform(math.log(1_000), math.log(500_000)))) for _ in range(count)]


#: Linux's option for a receive time on each read, in ns (the socket module may not name it).
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


@dataclass
class Arrivals:
    """When each event's blank line came, in ns: as the kernel stamped the bytes on arrival at
    the socket, and as the reading process saw them after it woke."""

    socket_ns: list[int] = field(default_factory=list)
    reader_ns: list[int] = field(default_factory=list)


def arrival_times(url: str, events: int) -> Arrivals:
    """Read `events` events from a GET of `url` on a plain socket, a byte at a time, so each
    blank line gets the kernel's receive time of its own bytes (two events arriving before
    the reader wakes keep their own times). A block counts when it holds a `data:` line, so
    a heartbeat comment does not."""
    split = urlsplit(url)
    request = f"GET {split.path}?{split.query} HTTP/1.1\r\nHost: {split.netloc}\r\n"
    request += "Accept: text/event-stream\r\n\r\n"
    found = Arrivals()
    with socket.create_connection((split.hostname, split.port or 80), timeout=30) as conn:
        conn.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        conn.sendall(request.encode())
        block = bytearray()
        while len(found.socket_ns) < events:
            byte, ancillary, _, _ = conn.recvmsg(1, socket.CMSG_SPACE(16))
            woke = time.time_ns()
            if not byte:
                raise BenchError(f"{url} ended after {len(found.socket_ns)} of {events} events")
            if byte == b"\n" and block.endswith(b"\n"):
                if b"data:" in block:
                    found.socket_ns.append(_stamp(ancillary))
                    found.reader_ns.append(woke)
                block.clear()
            else:
                block += byte
    return found


def _stamp(ancillary: list[tuple[int, int, bytes]]) -> int:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, ns = struct.unpack("qq", data[:16])
            return int(seconds) * 1_000_000_000 + int(ns)
    raise BenchError("the kernel gave no receive time (SO_TIMESTAMPNS)")


async def rate(url: str, events: int) -> float:
    """Events a second over the whole response."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        start = time.perf_counter()
        async with session.get(url) as response:
            seen = 0
            tail = b""
            async for chunk in response.content.iter_any():
                seen += (tail + chunk).count(b"\n\n")
                tail = chunk[-1:]
        elapsed = time.perf_counter() - start
    if seen < events:
        raise SystemExit(f"bench: {url} sent {seen} of {events} events")
    return events / elapsed


@dataclass
class Measured:
    """Gap errors in ms (at the socket, and as the reader woke), the rates in events/s."""

    socket_errors: list[float]
    reader_errors: list[float]
    counter: list[float]
    replayed: list[float]
    big: int


def gap_errors(times_ns: list[int], gaps_us: list[int]) -> list[float]:
    """Each seen gap against its recorded one, in ms."""
    seen = [(b - a) / 1000 for a, b in zip(times_ns, times_ns[1:], strict=False)]
    return [abs(s - g) / 1000 for s, g in zip(seen, gaps_us, strict=True)]


def measure(smoke: bool, runs: int) -> Measured:
    gaps_count, big = (5, 2_000) if smoke else (300, 100_000)
    with tempfile.TemporaryDirectory() as folder:
        gaps = irregular_gaps(gaps_count)
        offsets = [sum(gaps[:i]) for i in range(gaps_count + 1)]
        gappy, bulk = Path(folder, "gaps.jsonl"), Path(folder, "bulk.jsonl")
        write_recording(gappy, offsets)
        write_recording(bulk, [0] * big)
        argv = serve_command(["-q", "--rate-limit", "0", "--replay", folder])
        with running(argv, timeout=60) as child:
            arrived = arrival_times(child.url + "/gaps?speed=1", len(offsets))
            counter_url = f"{child.url}/counter?delay=0&limit={big}"
            counter = [asyncio.run(rate(counter_url, big)) for _ in range(runs)]
            replayed = [asyncio.run(rate(child.url + "/bulk?speed=0", big)) for _ in range(runs)]
    return Measured(
        gap_errors(arrived.socket_ns, gaps),
        gap_errors(arrived.reader_ns, gaps),
        counter,
        replayed,
        big,
    )


def replay(config: Config, report: Report) -> None:
    """`bench/run --only replay`: timing fidelity at speed 1 and the rate at speed 0."""
    progress("replay: gaps at speed 1, and the rate at speed 0 against /counter")
    m = measure(config.smoke, config.runs)
    p50, p99, worst = (percentile(m.socket_errors, p) for p in (50, 99, 100))
    r50, r99, rworst = (percentile(m.reader_errors, p) for p in (50, 99, 100))
    best_counter, best_replay = max(m.counter), max(m.replayed)
    table = Table(
        "Replay: recorded gaps at speed 1, and a recording at speed 0",
        ["figure", "value"],
    )
    table.rows += [
        ["gaps replayed", f"{len(m.socket_errors)} (1 to 500 ms, log-uniform, seeded)"],
        ["gap error at the socket, p50 / p99 / max", f"{p50:.2f} / {p99:.2f} / {worst:.2f} ms"],
        [
            "gap error as the reader woke, p50 / p99 / max",
            f"{r50:.2f} / {r99:.2f} / {rworst:.2f} ms",
        ],
        [f"{m.big:,} events at ?speed=0", f"{best_replay:,.0f} events/s"],
        [f"/counter?delay=0&limit={m.big:,}", f"{best_counter:,.0f} events/s"],
    ]
    table.notes.append(
        "One `serve --replay` child. Each gap is taken at the client's socket, from the kernel's "
        "receive times (SO_TIMESTAMPNS), against the recorded one; the reader's own wake-ups "
        "are the second row. Rates are the best of "
        f"{config.runs} runs, the same raw aiohttp reader for both."
    )
    report.tables.append(table)
    report.targets.append(
        Target("replay: gap error at speed 1, p99", p99, 2.0, at_least=False, unit=" ms")
    )
    report.targets.append(
        Target(
            "replay: --speed 0 vs /counter?delay=0",
            best_replay / best_counter,
            0.5,
            at_least=True,
            detail=f"{best_replay:,.0f} vs {best_counter:,.0f} events/s",
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    config = (SMOKE if args.smoke else FULL).with_runs(1 if args.smoke else args.runs)
    report = Report()
    replay(config, report)
    sys.stdout.write("\n".join(t.markdown() for t in report.tables))
    for target in report.targets:
        sys.stdout.write(f"- {target.name}: {target.figure:.2f}{target.unit}, {target.verdict()}\n")
    return 0 if all(t.met for t in report.targets) else 1


if __name__ == "__main__":
    sys.exit(main())
