"""`sse-cli serve` on its two stacks in one run: uvloop + httptools (the default where they
import) against asyncio + h11 (`SSE_CLI_SERVE_STACK=asyncio`).

A fresh server per run, the stacks in rotation. bench/loadclient.py opens N idle `/subscribe`
streams with heartbeats every `--ping` seconds, then publishes to all of them, and reads the
server's CPU time beside each figure. Each figure is a median over runs; the per-run values are
shown too, since the machine may be shared. The stack that runs is checked against the
server's /proc/PID/maps, not only taken from its banner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common import (
    BenchError,
    Report,
    Table,
    Target,
    median,
    pubsub_load,
    pubsub_runs,
    serve_argv,
    service,
)
from bench.config import Config

FAST = "uvloop + httptools"
PLAIN = "asyncio + h11"
STACKS = [FAST, PLAIN]
#: The environment each stack's server runs with (through env(1), so the pid is the server's).
FORCED = {FAST: "auto", PLAIN: "asyncio"}


def _argv(name: str, config: Config) -> list[str]:
    return [
        "env",
        f"SSE_CLI_SERVE_STACK={FORCED[name]}",
        *serve_argv(config.subscribers, config.ping),
    ]


def _check_stack(name: str, pid: int) -> None:
    """The server runs the stack it is measured as: uvloop's and httptools' extension
    modules are mapped in the one and absent from the other."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    loaded = {"/uvloop/" in maps, "/httptools/" in maps}
    if loaded != {name == FAST}:
        what = "is missing uvloop or httptools (pip install uvloop httptools)"
        raise BenchError(
            f"serve on {name}: {what if name == FAST else 'loaded uvloop or httptools'}"
        )


def _load(name: str, config: Config, subscribers: int, publishes: int, idle: float) -> Any:
    with service(_argv(name, config), name, timeout=config.timeout) as server:
        _check_stack(name, server.pid)
        return pubsub_load(
            server,
            f"serve on {name}",
            config,
            subscribers=subscribers,
            publishes=publishes,
            idle=idle,
        )


def stacks(config: Config, report: Report) -> None:
    n = config.subscribers
    what = f"serve's stack: {n:,} subscribers on {FAST} and on {PLAIN}"
    runs = pubsub_runs(what, STACKS, config, _load)
    # The idle phase holds 2 or 3 heartbeat rounds, by chance of the streams' timers: scale
    # its CPU to the idle/ping rounds of the steady state, so a stack is not charged for an
    # extra round.
    for r in (r for name in STACKS for r in runs[name]):
        rounds = config.idle / config.ping
        r["idle_cpu_steady"] = r["idle_cpu_percent"] * rounds / max(r["heartbeats_mean"], 1e-9)

    def each(name: str, key: str) -> list[float]:
        """Per run: the median over that run's publishes, or the run's own reading."""
        if key in ("p50_ms", "p99_ms", "cpu_ms"):
            return [median([p[key] for p in r["publishes"]]) for r in runs[name]]
        return [float(r[key]) for r in runs[name]]

    keys = [
        "p50_ms",
        "p99_ms",
        "cpu_ms",
        "idle_cpu_steady",
        "connect_s",
        "connect_cpu_s",
        "per_stream_kib",
    ]
    fig = {name: {key: median(each(name, key)) for key in keys} for name in STACKS}
    formats = {"p50_ms": "{:.1f}", "p99_ms": "{:.1f}", "idle_cpu_steady": "{:.1f}"}
    formats |= {"cpu_ms": "{:.0f}", "connect_s": "{:.2f}", "connect_cpu_s": "{:.2f}"}
    formats["per_stream_kib"] = "{:.1f}"

    def cell(name: str, key: str) -> str:
        spread = ", ".join(formats[key].format(v) for v in each(name, key))
        return f"{formats[key].format(fig[name][key])} ({spread})"

    table = Table(
        f"Serve's stack: {n:,} idle subscribers (heartbeats every {config.ping} s), "
        "then one published event to all",
        [
            "stack",
            "fan-out p50 ms",
            "fan-out p99 ms",
            "server CPU per publish ms",
            f"idle CPU % at --ping {config.ping:g} (one core)",
            f"connect {n:,} s",
            "server CPU to connect s",
            "KiB per stream",
            "heartbeats per stream",
        ],
    )
    for name in STACKS:
        heartbeats = median([r["heartbeats_mean"] for r in runs[name]])
        table.rows.append([name, *(cell(name, key) for key in keys), f"{heartbeats:.1f}"])
    table.notes.append(
        f"`sse-cli serve --ping {config.ping}`, the same venv, a fresh server per run; "
        f"{PLAIN} is `SSE_CLI_SERVE_STACK=asyncio`. Each cell: the median of "
        f"{config.runs} runs, then each run's figure in brackets. Fan-out: from just before "
        f"POST /publish is sent until each subscriber has the event, the median of "
        f"{config.publishes} publishes' percentiles per run. Server CPU (user + system, "
        "from /proc, 10 ms resolution): per publish until every subscriber has it; over the "
        f"{config.idle:g} s idle phase, scaled from the heartbeats each stream got in it to "
        f"the {config.idle / config.ping:g} of the steady state; while the {n:,} streams "
        f"connect, {config.batch} at a time, each ready at its first comment. CPU time "
        "barely moves when something else runs, wall time does. Memory: (RSS with the "
        "streams - RSS after one warm-up stream) / streams."
    )
    report.tables.append(table)
    ratios = [
        ("fan-out p99", "p99_ms", 0.9, " ms"),
        ("idle CPU with heartbeats", "idle_cpu_steady", 0.9, " %"),
        (f"time to connect {n:,}", "connect_s", 0.9, " s"),
        ("memory per stream", "per_stream_kib", 1.1, " KiB"),
    ]
    for label, key, limit, unit in ratios:
        fast, plain = fig[FAST][key], fig[PLAIN][key]
        report.targets.append(
            Target(
                f"serve's stack: {label}, {FAST} vs {PLAIN}",
                fast / plain if plain else (1.0 if not fast else float("inf")),
                limit,
                at_least=False,
                detail=f"{formats[key].format(fast)} vs {formats[key].format(plain)}{unit}",
            )
        )
