"""Replay timing fidelity and replay speed (issue 12), on loopback.

    bench/run --only replay                     # in the suite, with its targets
    .venv/bin/python -m bench.replay [--smoke]  # alone

1. Gaps: a recording whose events are 1 ms to 500 ms apart (log-uniform, seeded) is replayed
   at speed 1; each gap the client sees is compared with the recorded one. Target: p99 of
   the absolute error within 2 ms.
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
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Report, Table, Target, percentile, progress
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


async def arrival_times(url: str, events: int) -> list[int]:
    """When each event's blank line arrived, in ns (a raw loop: no decoder in the way)."""
    import aiohttp

    times: list[int] = []
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        tail = b""
        async for chunk in response.content.iter_any():
            now = time.perf_counter_ns()
            found = (tail + chunk).count(b"\n\n")
            times.extend([now] * found)
            tail = chunk[-1:]
            if len(times) >= events:
                break
    return times


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


def measure(smoke: bool, runs: int) -> tuple[list[float], list[float], list[float], int]:
    """Gap errors in ms, then the counter's and the replay's rates (events/s), and the size."""
    gaps_count, big = (5, 2_000) if smoke else (300, 100_000)
    with tempfile.TemporaryDirectory() as folder:
        gaps = irregular_gaps(gaps_count)
        offsets = [sum(gaps[:i]) for i in range(gaps_count + 1)]
        gappy, bulk = Path(folder, "gaps.jsonl"), Path(folder, "bulk.jsonl")
        write_recording(gappy, offsets)
        write_recording(bulk, [0] * big)
        argv = serve_command(["-q", "--rate-limit", "0", "--replay", folder])
        with running(argv, timeout=60) as child:
            times = asyncio.run(arrival_times(child.url + "/gaps?speed=1", len(offsets)))
            seen = [(b - a) / 1000 for a, b in zip(times, times[1:], strict=False)]
            errors = [abs(s - g) / 1000 for s, g in zip(seen, gaps, strict=True)]
            counter_url = f"{child.url}/counter?delay=0&limit={big}"
            counter = [asyncio.run(rate(counter_url, big)) for _ in range(runs)]
            replayed = [asyncio.run(rate(child.url + "/bulk?speed=0", big)) for _ in range(runs)]
    return errors, counter, replayed, big


def replay(config: Config, report: Report) -> None:
    """`bench/run --only replay`: timing fidelity at speed 1 and the rate at speed 0."""
    progress("replay: gaps at speed 1, and the rate at speed 0 against /counter")
    errors, counter, replayed, big = measure(config.smoke, config.runs)
    p50, p99, worst = (percentile(errors, p) for p in (50, 99, 100))
    best_counter, best_replay = max(counter), max(replayed)
    table = Table(
        "Replay: recorded gaps at speed 1, and a recording at speed 0",
        ["figure", "value"],
    )
    table.rows += [
        ["gaps replayed", f"{len(errors)} (1 to 500 ms, log-uniform, seeded)"],
        ["gap error p50 / p99 / max", f"{p50:.2f} / {p99:.2f} / {worst:.2f} ms"],
        [f"{big:,} events at ?speed=0", f"{best_replay:,.0f} events/s"],
        [f"/counter?delay=0&limit={big:,}", f"{best_counter:,.0f} events/s"],
    ]
    table.notes.append(
        "One `serve --replay` child; each gap as a raw aiohttp loop saw it against the recorded "
        f"one; rates are the best of {config.runs} runs, the same reader for both."
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
