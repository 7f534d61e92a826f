"""The server benchmarks: `sse-cli serve` against a plain sse-starlette app on the same uvicorn.

- counter: `/counter?limit=N&delay=0` to one `curl -sN`, against sse-starlette yielding one
  dict per event; events per second from the difference between N events and 1 event.
- clock: `/clock?interval=0.01` through `curl -sN | reader`, against the bench source's
  pre-built `/tick`: an event produced with a delay leaves the moment it exists.
- pubsub: N idle subscribers with heartbeats (server memory per stream), then publishes
  (time until every subscriber has the event), by bench/loadclient.py.
"""

from __future__ import annotations

import tempfile
from typing import Any

from bench import clients
from bench.common import (
    BENCH,
    PYTHON,
    BenchError,
    Report,
    Table,
    Target,
    cpu_seconds,
    median,
    ms,
    percentile,
    progress,
    pubsub_load,
    pubsub_runs,
    rate,
    rotation,
    run_timed,
    serve_argv,
    service,
)
from bench.config import Config
from sse_cli.protocol.decoder import Decoder, Event

SERVE = "sse-cli serve"
PEER = "sse-starlette, plain"
SERVERS = [SERVE, PEER]


def _argv(name: str, config: Config) -> list[str]:
    if name == SERVE:
        return serve_argv(config.subscribers, config.ping)
    return [PYTHON, str(BENCH / "peer_starlette.py"), "--ping", str(config.ping)]


def _check_counter(name: str, body: bytes, n: int) -> None:
    decoder = Decoder()
    events = [item for item in decoder.feed(body) + decoder.close() if type(item) is Event]
    want = [str(i) for i in range(1, n + 1)]
    if [e.data for e in events] != want or [e.id for e in events] != want:
        raise BenchError(f"{name}: curl saw {len(events):,} counter events of {n:,}, or others")


def counter(config: Config, report: Report) -> None:
    n = config.counter_limit
    progress(f"server counter: {n:,} events to curl -sN; a verification run, {config.runs} runs")
    with (
        service(_argv(SERVE, config), SERVE, timeout=config.timeout) as ours,
        service(_argv(PEER, config), PEER, timeout=config.timeout) as peer,
    ):
        base = {SERVE: f"{ours.url}/counter?delay=0&limit=", PEER: f"{peer.url}/counter?limit="}
        pids = {SERVE: ours.pid, PEER: peer.pid}
        for name in SERVERS:
            with tempfile.TemporaryFile() as out:
                run_timed(["curl", "-sN", base[name] + str(n)], stdout=out, timeout=config.timeout)
                out.seek(0)
                _check_counter(name, out.read(), n)
        walls: dict[str, list[float]] = {name: [] for name in SERVERS}
        ones: dict[str, list[float]] = {name: [] for name in SERVERS}
        cpus: dict[str, list[float]] = {name: [] for name in SERVERS}
        for run in range(config.runs):
            for name in rotation(SERVERS, run):
                ones[name].append(
                    run_timed(["curl", "-sN", base[name] + "1"], timeout=config.timeout).seconds
                )
                before = cpu_seconds(pids[name])
                argv = ["curl", "-sN", base[name] + str(n)]
                walls[name].append(run_timed(argv, timeout=config.timeout).seconds)
                cpus[name].append(cpu_seconds(pids[name]) - before)
    wall = {name: median(v) for name, v in walls.items()}
    one = {name: median(v) for name, v in ones.items()}
    eps = {name: (n - 1) / max(wall[name] - one[name], 1e-3) for name in SERVERS}
    cpu = {name: median(v) for name, v in cpus.items()}
    table = Table(
        f"Server throughput: /counter, {n:,} events at --delay 0 to one curl -sN",
        [
            "server",
            f"wall ms, {n:,} events",
            "wall ms, 1 event",
            "events/s",
            "server CPU ms",
            "server CPU µs/event",
            "vs sse-starlette",
        ],
    )
    for name in SERVERS:
        table.rows.append(
            [
                name,
                ms(wall[name]),
                ms(one[name]),
                rate(eps[name]),
                ms(cpu[name]),
                f"{cpu[name] / n * 1e6:.1f}",
                f"{eps[name] / eps[PEER]:.2f}x",
            ]
        )
    table.notes.append(
        f"Both on uvicorn in child processes; events/s = (N - 1) / (wall(N) - wall(1)), "
        f"medians of {config.runs} runs; server CPU from /proc (10 ms resolution)."
    )
    report.tables.append(table)
    report.targets.append(
        Target(
            "server: /counter?delay=0 events/s vs sse-starlette",
            eps[SERVE] / eps[PEER],
            5.0,
            at_least=True,
            detail=f"{rate(eps[SERVE])} vs {rate(eps[PEER])} events/s",
        )
    )


def clock(config: Config, report: Report) -> None:
    """Latency of events produced 10 ms apart: /clock, against the bench source's /tick."""
    n, interval = config.latency_events, config.latency_interval
    progress(f"server clock: {n} ticks {interval * 1000:g} ms apart via curl; {config.runs} runs")
    names = ["sse-cli serve /clock", "bench source /tick (pre-built)"]
    p50s: dict[str, list[float]] = {name: [] for name in names}
    p99s: dict[str, list[float]] = {name: [] for name in names}
    with (
        service(_argv(SERVE, config), SERVE, timeout=config.timeout) as ours,
        clients.event_source(config) as src,
    ):
        urls = {
            names[0]: f"{ours.url}/clock?interval={interval}&limit={n}",
            names[1]: f"{src.url}/tick?interval={interval}&n={n}",
        }
        for run in range(config.runs):
            for name in rotation(names, run):
                pairs = clients.pipeline(["curl", "-sN", urls[name]], config.timeout)
                if [seq for seq, _ in pairs] != list(range(1, n + 1)):
                    raise BenchError(f"{name}: curl | reader saw {len(pairs)} of {n} ticks")
                micros = [ns / 1000 for _, ns in pairs]
                p50s[name].append(percentile(micros, 50))
                p99s[name].append(percentile(micros, 99))
    table = Table(
        f"Server latency: {n} events {interval * 1000:g} ms apart, `curl -sN URL | reader`",
        ["server", "p50 µs", "p99 µs"],
    )
    for name in names:
        table.rows.append([name, f"{median(p50s[name]):,.0f}", f"{median(p99s[name]):,.0f}"])
    table.notes.append(
        "From the server's time.time_ns() as it made the event to the reader; no target, it "
        "shows that an event produced with a delay is sent the moment it exists."
    )
    report.tables.append(table)


def _load(name: str, config: Config, subscribers: int, publishes: int, idle: float) -> Any:
    with service(_argv(name, config), name, timeout=config.timeout) as server:
        return pubsub_load(
            server,
            name,
            config,
            subscribers=subscribers,
            publishes=publishes,
            idle=idle,
            first_comment=name == SERVE,
        )


def pubsub(config: Config, report: Report) -> None:
    n = config.subscribers
    what = f"server pub/sub: {n:,} subscribers, {config.publishes} publishes each run"
    runs = pubsub_runs(what, SERVERS, config, _load)

    def per_run(name: str, key: str) -> float:
        return median([median([p[key] for p in r["publishes"]]) for r in runs[name]])

    memory = {name: median([r["per_stream_kib"] for r in runs[name]]) for name in SERVERS}
    p99 = {name: per_run(name, "p99_ms") for name in SERVERS}
    table = Table(
        f"Server pub/sub: {n:,} idle subscribers (heartbeats every {config.ping} s), "
        f"then one published event to all",
        [
            "server",
            "KiB per stream",
            "RSS before MiB",
            "RSS with streams MiB",
            "heartbeats per stream",
            "connect s",
            "publish p50 ms",
            "p99 ms",
            "max ms",
            "p99 vs sse-starlette",
        ],
    )
    for name in SERVERS:
        rs = runs[name]
        table.rows.append(
            [
                name,
                f"{memory[name]:.1f}",
                f"{median([r['baseline_kib'] for r in rs]) / 1024:.1f}",
                f"{median([r['loaded_kib'] for r in rs]) / 1024:.1f}",
                f"{median([r['heartbeats_mean'] for r in rs]):.1f}",
                f"{median([r['connect_s'] for r in rs]):.1f}",
                f"{per_run(name, 'p50_ms'):.1f}",
                f"{p99[name]:.1f}",
                f"{max(p['max_ms'] for r in rs for p in r['publishes']):.1f}",
                f"{p99[name] / p99[PEER]:.2f}x",
            ]
        )
    table.notes.append(
        f"A fresh server per run; memory is (RSS with {n:,} idle streams - RSS after one "
        f"warm-up stream) / {n:,}, read after {config.idle:g} s idle. Publish times run from "
        "just before POST /publish is sent until each subscriber has the event: the median "
        f"of {config.publishes} publishes' percentiles, then the median of {config.runs} runs."
    )
    report.tables.append(table)
    report.targets += [
        Target(
            f"server: memory per idle subscriber ({n:,} streams)",
            memory[SERVE],
            14.0,
            at_least=False,
            unit=" KiB",
            detail=f"sse-starlette plain: {memory[PEER]:.1f} KiB",
        ),
        Target(
            f"server: publish to {n:,} subscribers, p99 vs sse-starlette",
            p99[SERVE] / p99[PEER],
            0.6,
            at_least=False,
            detail=f"{p99[SERVE]:.1f} vs {p99[PEER]:.1f} ms",
        ),
    ]
