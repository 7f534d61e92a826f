"""The decoder alone, in a child process per twin (`bench/run --only decoder`).

`Decoder.feed` on the bench source's bodies, cut in 64 KiB reads as the client reads them:
CPU µs per event, median over runs, for the C twin of the per-line loop (sse_cli/_speedups.c)
and for the Python one (SSE_CLI_PURE_PYTHON=1). No I/O is timed: this is the cost `listen`
and `bench` share for every event.
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import PYTHON, ROOT, BenchError, Report, Table, child_env, median, progress
from bench.config import Config

READ = 64 * 1024

#: The child: decode the body `runs` times; print the CPU seconds of each pass and its count.
CHILD = """
import json, sys, time
from bench.source import body
from sse_cli.protocol.decoder import Decoder, _scan
kind, n, runs, read = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = body(kind, n)
chunks = [data[i : i + read] for i in range(0, len(data), read)]
times = []
for _ in range(runs):
    decoder = Decoder()
    start = time.process_time()
    count = sum(len(decoder.feed(chunk)) for chunk in chunks)
    times.append(time.process_time() - start)
print(json.dumps({"times": times, "count": count, "twin": _scan.__module__}))
"""

#: Each twin: its name in the table, the environment that picks it, the module it lives in.
TWINS = [
    ("C (sse_cli._speedups)", {}, "sse_cli._speedups"),
    ("Python (SSE_CLI_PURE_PYTHON=1)", {"SSE_CLI_PURE_PYTHON": "1"}, "sse_cli.protocol.decoder"),
]


def _measure(
    kind: str, n: int, runs: int, twin: tuple[str, dict[str, str], str], timeout: float
) -> float:
    """Median CPU µs per event of `Decoder.feed` over `runs` passes, in a fresh child."""
    name, extra, module = twin
    env = {**child_env(), **extra, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [PYTHON, "-c", CHILD, kind, str(n), str(runs), str(READ)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"the decoder child failed: {done.stderr.strip()[-300:]}")
    result = json.loads(done.stdout)
    if result["count"] != n:
        raise BenchError(f"the decoder gave {result['count']:,} events of {n:,}")
    if result["twin"] != module:
        raise BenchError(f"{name}: the decoder ran on {result['twin']} (was the C twin built?)")
    return median(result["times"]) / n * 1e6


def decoder(config: Config, report: Report) -> None:
    """Decoder CPU per event on small and large events, C twin against Python twin."""
    sizes = {"small": config.small_events, "large": config.large_events}
    runs = max(config.runs, 3)
    table = Table(
        "Decoder alone: CPU µs per event of `Decoder.feed` (64 KiB reads)",
        ["twin", *(f"{kind} ({n:,} events)" for kind, n in sizes.items())],
    )
    figures: dict[str, list[float]] = {}
    for twin in TWINS:
        name = twin[0]
        progress(f"decoder: {name}")
        figures[name] = [_measure(kind, n, runs, twin, config.timeout) for kind, n in sizes.items()]
        table.rows.append([name, *(f"{us:.3f}" for us in figures[name])])
    c, python = figures.values()
    table.rows.append(["Python / C", *(f"{p / q:.1f}x" for p, q in zip(python, c, strict=True))])
    table.notes.append(
        f"Median over {runs} passes, each in the same child process after the body is built; "
        "CPU time from time.process_time(). The events are /small's (`id: n`, 31 bytes of "
        "data) and /large's (`event: update`, `id: n`, 1 KiB of JSON)."
    )
    report.tables.append(table)


if __name__ == "__main__":  # a quick look: python -m bench.decoder
    sys.exit("run it through bench/run --only decoder")
