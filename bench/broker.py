"""The broker benchmark (issue 14): `sse-cli serve` with its in-memory broker against the
same server with `--broker` on a real redis-server, in the same run.

- fan-out: N idle subscribers, then publishes, each timed until every subscriber has the
  event (bench/loadclient.py, as the pubsub benchmark); the goal is Redis p99 <= 2x memory.
- throughput: S subscribers, then M publishes from P connections at once
  (bench/brokerclient.py): events published and delivered a second, and the CPU time of
  serve and of redis-server per delivered event.

redis-server is Debian's package (`.ci/run` installs it), started on a free loopback port
with its own directory and no persistence, stopped by its PID.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from bench.common import (
    PYTHON,
    BenchError,
    Report,
    Service,
    Table,
    Target,
    median,
    progress,
    pubsub_load,
    rotation,
    run_json,
    serve_argv,
    service,
)
from bench.config import Config

MEMORY = "serve, in memory"
REDIS = "serve --broker redis"
BROKERS = [MEMORY, REDIS]


@contextlib.contextmanager
def redis_server(timeout: float) -> Iterator[tuple[str, int]]:
    """A redis-server on a free loopback port: its URL and PID."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", folder, "--save", "",
         "--appendonly", "no", "--daemonize", "no"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Ready to accept connections" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not ready.wait(timeout):
            raise BenchError("redis-server did not start")
        yield f"redis://127.0.0.1:{port}/0", proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _argv(name: str, config: Config, url: str) -> list[str]:
    argv = serve_argv(config.subscribers, config.ping)
    return argv + (["--broker", url] if name == REDIS else [])


def _fan_out(name: str, config: Config, server: Service) -> Any:
    """N subscribers, K publishes timed by bench/loadclient.py."""
    idle = min(0.5, config.idle)
    return pubsub_load(
        server, name, config, subscribers=config.subscribers, publishes=config.publishes, idle=idle
    )


def _throughput(name: str, config: Config, server: Service, redis_pid: int) -> dict[str, Any]:
    subscribers, publishes = (10, 40) if config.smoke else (100, 5_000)
    pids = [server.pid] + ([redis_pid] if name == REDIS else [])
    argv = [
        PYTHON, "-m", "bench.brokerclient", server.url,
        "--subscribers", str(subscribers), "--publishes", str(publishes),
        "--publishers", "4", "--pids", ",".join(map(str, pids)),
        "--timeout", str(config.timeout),
    ]  # fmt: skip
    what = f"the throughput client against {name}"
    result = run_json(argv, what, timeout=config.timeout + 10)
    if result["failed"] or result["delivered"] != subscribers * result["published"]:
        raise BenchError(f"{name}: a publish failed or an event was not delivered: {result}")
    result["subscribers"] = subscribers
    return result


def broker(config: Config, report: Report) -> None:
    n = config.subscribers
    progress(f"broker: fan-out to {n:,} subscribers and throughput, in memory and through Redis")
    with redis_server(config.timeout) as (url, redis_pid):
        fan: dict[str, list[Any]] = {name: [] for name in BROKERS}
        flow: dict[str, list[dict[str, Any]]] = {name: [] for name in BROKERS}
        for run in range(config.runs):
            for name in rotation(BROKERS, run):
                # A fresh server for each figure; the smoke run (no figures) shares one.
                with service(_argv(name, config, url), name, timeout=config.timeout) as server:
                    fan[name].append(_fan_out(name, config, server))
                    if config.smoke:
                        flow[name].append(_throughput(name, config, server, redis_pid))
                if not config.smoke:
                    with service(_argv(name, config, url), name, timeout=config.timeout) as server:
                        flow[name].append(_throughput(name, config, server, redis_pid))
    _fan_out_table(config, report, fan)
    _throughput_table(config, report, flow)


def _fan_out_table(config: Config, report: Report, fan: dict[str, list[Any]]) -> None:
    n = config.subscribers

    def per_run(name: str, key: str) -> float:
        return median([median([p[key] for p in r["publishes"]]) for r in fan[name]])

    p99 = {name: per_run(name, "p99_ms") for name in BROKERS}
    table = Table(
        f"Broker fan-out: one published event to {n:,} subscribers",
        ["broker", "publish p50 ms", "p99 ms", "max ms", "p99 vs memory"],
    )
    for name in BROKERS:
        table.rows.append(
            [
                name,
                f"{per_run(name, 'p50_ms'):.1f}",
                f"{p99[name]:.1f}",
                f"{max(p['max_ms'] for r in fan[name] for p in r['publishes']):.1f}",
                f"{p99[name] / p99[MEMORY]:.2f}x",
            ]
        )
    table.notes.append(
        "A fresh server per run, the same redis-server for all. Times run from just before "
        "POST /publish is sent until each subscriber has the event: the median of "
        f"{config.publishes} publishes' percentiles, then the median of {config.runs} runs."
    )
    report.tables.append(table)
    report.targets.append(
        Target(
            f"broker: fan-out p99 to {n:,} subscribers, Redis vs in memory",
            p99[REDIS] / p99[MEMORY],
            2.0,
            at_least=False,
            unit="x",
            detail=f"in memory {p99[MEMORY]:.1f} ms, Redis {p99[REDIS]:.1f} ms",
        )
    )


def _throughput_table(config: Config, report: Report, flow: dict[str, list[Any]]) -> None:
    first = flow[MEMORY][0]
    table = Table(
        f"Broker throughput: {first['published']:,} publishes from 4 connections at once to "
        f"{first['subscribers']} subscribers",
        [
            "broker", "published / s", "delivered / s",
            "serve CPU us / delivered", "redis CPU us / delivered", "both us / delivered",
        ],
    )  # fmt: skip
    for name in BROKERS:
        rs = flow[name]
        serve_us = median([r["cpu_s"][0] / r["delivered"] * 1e6 for r in rs])
        redis_us = (
            median([r["cpu_s"][1] / r["delivered"] * 1e6 for r in rs]) if name == REDIS else 0.0
        )
        table.rows.append(
            [
                name,
                f"{median([r['published'] / r['publish_s'] for r in rs]):,.0f}",
                f"{median([r['delivered'] / r['seconds'] for r in rs]):,.0f}",
                f"{serve_us:.1f}",
                f"{redis_us:.1f}" if name == REDIS else "-",
                f"{serve_us + redis_us:.1f}",
            ]
        )
    table.notes.append(
        "CPU time from /proc over the publishing and delivery (10 ms resolution), divided by "
        "events delivered (publishes x subscribers); medians of the runs."
    )
    report.tables.append(table)
