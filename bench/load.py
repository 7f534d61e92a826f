"""`sse-cli bench`, the load tester, at scale and against Locust (`bench/run --only load`).

- count: one fast stream (the bench source's /small) read by `sse-cli bench -c 1`, by
  `sse-cli listen -f data` and by Locust with a minimal honest SSE user
  (bench/locust_sse.py) that reads it once: events per second of first byte to end, and
  events per CPU-second, each less the same client's run on /empty.
- scale: one `sse-cli bench` process holds N idle streams of `sse-cli serve`'s /subscribe,
  and Locust holds M: RSS once the server counts them all, less the RSS with 1 stream, per
  stream (so streams per GiB).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence

from bench.clients import event_source
from bench.common import (
    PYTHON,
    ROOT,
    SSE_CLI,
    BenchError,
    Report,
    Table,
    Target,
    child_env,
    median,
    memory_kib,
    progress,
    rate,
    rotation,
    run_timed,
    serve_argv,
    service,
)
from bench.config import Config

LOCUST = os.path.join(os.path.dirname(PYTHON), "locust")
#: Streams one `sse-cli bench` process holds in a full run (the issue's scale target).
STREAMS = 10_000


def _subscribers(url: str) -> int:
    """serve's count of subscribers, or -1 when /stats does not answer in time (a busy
    machine while thousands of streams open): the caller polls again."""
    try:
        with urllib.request.urlopen(f"{url}/stats", timeout=5) as response:  # noqa: S310
            return int(json.load(response)["subscribers"])
    except (OSError, TimeoutError):  # URLError is an OSError
        return -1


def _wait_subscribers(url: str, count: int, timeout: float) -> float:
    """Poll serve's /stats until it counts `count` subscribers (nothing else announces it)."""
    start = time.monotonic()
    for _ in range(int(timeout / 0.2)):
        if _subscribers(url) >= count:
            return time.monotonic() - start
        time.sleep(0.2)
    raise BenchError(f"serve did not count {count:,} subscribers within {timeout:g} s")


def _held_rss(argv: Sequence[str], url: str, count: int, config: Config) -> tuple[int, float]:
    """Start a client that holds `count` streams of the server at `url`; its RSS in KiB once
    the server counts them all, and how long that took. The client is killed after."""
    child = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=child_env(),
        cwd=ROOT,
    )
    try:
        opened = _wait_subscribers(url, count, config.timeout)
        time.sleep(config.settle)  # let allocations settle
        return memory_kib(child.pid), opened
    finally:
        child.kill()
        child.wait(config.timeout)
        for _ in range(int(config.timeout / 0.2)):  # the server notices the closed streams
            if _subscribers(url) == 0:
                break
            time.sleep(0.2)


def _bench_argv(url: str, streams: int) -> list[str]:
    return [SSE_CLI, "bench", url, "-c", str(streams), "--duration", "600", "-q", "-f", "json"]


def _locust_argv(host: str, users: int, seconds: float) -> list[str]:
    spawn = str(min(users, 500))
    return [LOCUST, "-f", str(ROOT / "bench" / "locust_sse.py"), "--headless", "-u", str(users)] + [
        "-r",
        spawn,
        "-t",
        f"{seconds:g}s",
        "--host",
        host,
        "--only-summary",
        "--loglevel",
        "ERROR",
        "--stop-timeout",
        "1",
    ]


def scale(config: Config, report: Report) -> None:
    """Memory per stream of `sse-cli bench` and of Locust, holding idle /subscribe streams."""
    many = 50 if config.smoke else STREAMS
    locust_users = 20 if config.smoke else 1_000
    table = Table(
        "Load tester: memory per held stream (idle /subscribe of `sse-cli serve`)",
        [
            "client",
            "streams",
            "RSS (MiB)",
            "RSS with 1 stream (MiB)",
            "KiB per stream",
            "opened in",
        ],
    )
    figures: dict[str, float] = {}
    with service(serve_argv(many), "sse-cli serve", timeout=config.timeout) as srv:
        url = f"{srv.url}/subscribe"
        os.environ["SSE_PATH"] = "/subscribe"  # the Locust user reads it; sse-cli ignores it
        holders: list[tuple[str, Callable[[int], list[str]], int]] = [
            ("sse-cli bench", lambda n: _bench_argv(url, n), many),
            ("Locust", lambda n: _locust_argv(srv.url, n, 600), locust_users),
        ]
        for name, argv_for, count in holders:
            progress(f"load: {name} holding 1, then {count:,} streams")
            one, _ = _held_rss(argv_for(1), srv.url, 1, config)
            held, seconds = _held_rss(argv_for(count), srv.url, count, config)
            per = (held - one) / (count - 1)
            figures[name] = per
            table.rows.append(
                [name, f"{count:,}", f"{held / 1024:.1f}", f"{one / 1024:.1f}", f"{per:.1f}"]
                + [f"{seconds:.1f} s"]
            )
    report.tables.append(table)
    bench_kib, locust_kib = figures["sse-cli bench"], figures["Locust"]
    report.targets.append(
        Target(
            f"load: `sse-cli bench` RSS per stream, {many:,} streams",
            bench_kib,
            20.0,
            at_least=False,
            unit=" KiB",
        )
    )
    report.targets.append(
        Target(
            "load: streams per GiB of RSS, `sse-cli bench` vs Locust",
            locust_kib / bench_kib,
            10.0,
            at_least=True,
            detail=f"{bench_kib:.1f} vs {locust_kib:.1f} KiB per stream",
        )
    )


LISTEN, BENCH_ONE, LOCUST_ONE = "sse-cli listen -f data", "sse-cli bench -c 1", "Locust, 1 user"


def _locust_once(url: str) -> list[str]:
    """Locust with one user that reads `url` once, then ends the run (SSE_ONCE)."""
    parts = urllib.parse.urlsplit(url)
    os.environ["SSE_PATH"] = parts.path + (f"?{parts.query}" if parts.query else "")
    os.environ["SSE_ONCE"] = "1"  # read by the Locust user only
    return [*_locust_argv(f"{parts.scheme}://{parts.netloc}", 1, 600), "--json"]


CLIENTS: dict[str, Callable[[str], list[str]]] = {
    LISTEN: lambda u: [SSE_CLI, "listen", u, "-f", "data", "--no-reconnect"],
    BENCH_ONE: lambda u: [SSE_CLI, "bench", u, "-c", "1", "--no-reconnect", "-q", "-f", "json"],
    LOCUST_ONE: _locust_once,
}


def count(config: Config, report: Report) -> None:
    """One fast stream read by `bench -c 1`, `listen -f data` and Locust, each run paired
    with the same client on /empty: events per second of first byte to end, and events per
    CPU-second (CPU time less the client's CPU time on /empty)."""
    n = config.count_events
    table = Table(
        f"Load tester: counting events of one fast stream (/small, {n:,} events)",
        ["client", "first byte to end (ms)", "events/s", "CPU (ms)", "events per CPU-second"],
    )
    times: dict[str, list[float]] = {name: [] for name in CLIENTS}
    cpus: dict[str, list[float]] = {name: [] for name in CLIENTS}
    try:
        with event_source(config) as src:
            url, empty = f"{src.url}/small?n={n}", f"{src.url}/empty"
            for run in range(config.runs):
                for name in rotation(list(CLIENTS), run):
                    with tempfile.TemporaryFile() as out:
                        full = run_timed(CLIENTS[name](url), timeout=config.timeout, stdout=out)
                        out.seek(0)
                        _check_count(name, out.read(), n)
                    if config.smoke:  # unpaired: the smoke run's figures mean nothing
                        times[name].append(full.seconds)
                        cpus[name].append(full.cpu)
                        continue
                    fixed = run_timed(CLIENTS[name](empty), timeout=config.timeout)
                    times[name].append(full.seconds - fixed.seconds)
                    cpus[name].append(full.cpu - fixed.cpu)
                progress(f"load: count run {run + 1} of {config.runs}")
    finally:
        os.environ.pop("SSE_ONCE", None)
    rates = {name: n / median(times[name]) for name in CLIENTS}
    per_cpu = {name: n / max(median(cpus[name]), 1e-3) for name in CLIENTS}
    for name in CLIENTS:
        table.rows.append(
            [name, f"{median(times[name]) * 1000:,.1f}", rate(rates[name])]
            + [f"{median(cpus[name]) * 1000:,.0f}", rate(per_cpu[name])]
        )
    table.notes.append(
        "Each figure is the median over runs of (the run on /small) less (the same client's "
        "run on /empty right after it). Locust's user reports every event to Locust's "
        "statistics, as a Locust user must to show anything about events. The stream is "
        f"{n:,} events long so that it, not the spread of the two start-ups subtracted "
        "(about 100 ms on a busy machine), is most of each figure."
    )
    report.tables.append(table)
    report.targets.append(
        Target(
            "load: `bench` events/s on one stream vs `listen -f data`",
            rates[BENCH_ONE] / rates[LISTEN],
            0.8,
            at_least=True,
            detail=f"{rate(rates[BENCH_ONE])} vs {rate(rates[LISTEN])} events/s",
        )
    )
    report.targets.append(
        Target(
            "load: events per CPU-second, `sse-cli bench` vs Locust",
            per_cpu[BENCH_ONE] / per_cpu[LOCUST_ONE],
            10.0,
            at_least=True,
            detail=f"{rate(per_cpu[BENCH_ONE])} vs {rate(per_cpu[LOCUST_ONE])}",
        )
    )


def _check_count(name: str, body: bytes, n: int) -> None:
    """The verification: each client counted every event of the stream."""
    if name == BENCH_ONE:
        events = int(json.loads(body)["events"]["total"])
    elif name == LOCUST_ONE:
        events = sum(s["num_requests"] for s in json.loads(body) if s["name"] == "event")
    else:
        events = body.count(b"\n")
    if events != n:
        raise BenchError(f"{name} counted {events:,} events of {n:,}")
