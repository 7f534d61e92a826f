"""`sse-cli bench`: limits, one process or several, the live view, the report, thresholds.

With `--workers N`, N child processes (spawned, so each starts clean) run a share of the
streams each; every quarter second they send their counters for the live view, and at the
end each sends its histograms, the run's and each interval's, in HdrHistogram's compressed
encoding, which the parent adds up exactly (the intervals by index: every worker counts them
from the parent's start). The publisher, if any, runs in the parent.
"""

from __future__ import annotations

import asyncio
import queue as queue_module
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, TypeVar

from sse_cli.env import Environment
from sse_cli.errors import ThresholdError
from sse_cli.loadtest.metrics import Counts, Metrics, Snapshot, step_for
from sse_cli.loadtest.options import BenchOptions, BenchSettings
from sse_cli.loadtest.report import (
    build_report,
    load_average,
    nothing_opened,
    shown,
    summary_line,
    write_json,
    write_table,
)
from sse_cli.loadtest.schema import Report
from sse_cli.loadtest.sources import local_ports, port_shortfall

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

Tick = Callable[[Counts, float], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """What a worker sends: its counters every tick, and at the end everything it gathered."""

    index: int
    counts: Counts
    final: Snapshot | None = None
    elapsed: float = 0.0


#: File descriptors a process needs besides its streams (stdio, the loop, libraries).
SPARE_FDS = 64
#: How long the parent waits for a worker's final report past the run's duration.
WORKER_GRACE = 30.0


def run_loop(main: Coroutine[Any, Any, T], fast: bool = True) -> T:
    """Run `main` on uvloop when it is importable and `fast`, else on asyncio's own loop.

    Every delivery is a read callback into a protocol, which uvloop makes in C: 100,000
    deliveries to 5,000 streams took bench 5.8 s of CPU on asyncio's loop, 5.1 s on uvloop.
    Ctrl-C cancels the main task on both (Python 3.11+).
    """
    if fast:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)


def per_process(options: BenchOptions) -> int:
    """The most streams one process holds: all of them, or the largest `--workers` share."""
    return -(-options.connections // options.workers)


def raise_open_files(streams: int, say: bool = True, stderr: IO[str] | None = None) -> int:
    """Raise the open-files soft limit as far as needed and allowed; say so when it is short.

    Returns the soft limit in force.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = streams + SPARE_FDS
    if soft < need:
        soft = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if say and soft < need:
        stderr = stderr if stderr is not None else sys.stderr
        stderr.write(
            f"sse-cli: warning: the open-files limit is {soft} (hard limit), below the {need} "
            f"that {streams} streams need: streams past it fail as 'open-files' errors; "
            "raise the hard limit (ulimit -Hn, as root) or use fewer connections\n"
        )
        stderr.flush()
    return soft


def start(settings: BenchSettings, env: Environment | None = None) -> None:
    """`sse-cli bench`: check every flag, then run; an SseCliError says what went wrong."""
    from sse_cli.request import build_options

    env = env if env is not None else Environment.from_sys()
    request = build_options(settings.request, env.stdin)
    options = settings.check(request, env.stdout_isatty, env.stderr_isatty)
    if settings.request.insecure and not settings.quiet:
        env.stderr.write("sse-cli: warning: --insecure: TLS certificates are not verified\n")
    sources = 1 if options.local_ips is None else options.local_ips.count
    shortfall = port_shortfall(options.connections, sources, local_ports())
    if shortfall is not None and not settings.quiet:
        env.stderr.write(f"sse-cli: warning: {shortfall}\n")
    run_bench(options, env)


def run_bench(options: BenchOptions, env: Environment | None = None) -> Report:
    """Run the load test and print the report on `env`'s stdout (the process's by default);
    then, when no stream opened at all, the error that stopped them (3 to 6), else
    ThresholdError (8) when a threshold fails."""
    env = env if env is not None else Environment.from_sys()
    stderr = env.stderr
    raise_open_files(per_process(options), say=not options.quiet, stderr=stderr)
    metrics = Metrics(step_for(options.duration))
    load_start = load_average()
    elapsed = run_loop(_main(options, metrics, stderr))
    report = build_report(options, metrics, elapsed, load_start)
    checks = [t.check(report) for t in options.thresholds]
    report["thresholds"] = checks
    error = nothing_opened(report)
    if options.output_format == "json":
        write_json(report, env.stdout)
        if options.summary and error is None:  # else the error's one line says it all
            stderr.write(summary_line(report) + "\n")
            stderr.flush()
    else:
        write_table(report, env.text_stdout, env.environ)
    if options.report_file is not None:
        from sse_cli.loadtest.html import write_html

        size = write_html(report, options.report_file)
        if not options.quiet:
            stderr.write(f"sse-cli: report written to {options.report_file} ({size:,} bytes)\n")
            stderr.flush()
    if error is not None:
        raise error
    failed = [c for c in checks if not c["ok"]]
    if failed:
        named = "; ".join(f"{c['threshold']} (was {shown(c)})" for c in failed)
        raise ThresholdError(f"{len(failed)} of {len(checks)} thresholds failed: {named}")
    return report


async def _main(options: BenchOptions, metrics: Metrics, stderr: IO[str] | None = None) -> float:
    from sse_cli import process
    from sse_cli.loadtest.engine import run_load

    process.settled()  # the stack is imported: cycle collection again, rarely (as listen)

    dashboard = None
    if options.live:
        from sse_cli.loadtest.dashboard import Dashboard

        dashboard = Dashboard(options.connections, options.duration, stderr)
        dashboard.__enter__()
    try:
        tick = dashboard.update if dashboard is not None else None
        if options.workers == 1:
            return await run_load(options, metrics, tick)
        return await _run_workers(options, metrics, tick)
    finally:
        if dashboard is not None:
            dashboard.__exit__()


async def _run_workers(options: BenchOptions, metrics: Metrics, tick: Tick | None) -> float:
    import multiprocessing

    from sse_cli.loadtest.engine import wait_open
    from sse_cli.loadtest.publish import Publisher

    context = multiprocessing.get_context("spawn")
    messages: Queue[Progress] = context.Queue()
    start = time.monotonic()
    metrics.series.begin(start)
    metrics.started_ns = time.time_ns()
    processes = [
        context.Process(
            target=worker_main,
            args=(options.share(i), i, messages, metrics.series.step, start, metrics.started_ns),
            daemon=True,
        )
        for i in range(options.workers)
    ]
    for process in processes:
        process.start()
    live: dict[int, Counts] = {}
    publishing = None
    if options.publish is not None:
        publisher = Publisher(options.publish, options.publish_rate, metrics)
        until = start + (options.duration or 3600.0)

        async def publish() -> None:
            await wait_open(
                lambda: sum(c.open for c in live.values()), options.connections, options.ramp
            )
            await publisher.run(until)

        publishing = asyncio.create_task(publish())
    try:
        elapsed = await _gather(options, metrics, messages, live, tick, start)
    finally:
        if publishing is not None:
            publishing.cancel()
            await asyncio.gather(publishing, return_exceptions=True)
        for process in processes:
            process.join(5.0)
            if process.is_alive():
                process.kill()
    return elapsed


async def _gather(
    options: BenchOptions,
    metrics: Metrics,
    messages: Queue[Progress],
    live: dict[int, Counts],
    tick: Tick | None,
    start: float,
) -> float:
    """Read the workers' messages until each has sent its final snapshot (bounded in time)."""
    loop = asyncio.get_running_loop()
    finished: dict[int, float] = {}
    deadline = start + (options.duration or 3600.0) + WORKER_GRACE
    while len(finished) < options.workers and time.monotonic() < deadline:
        try:
            message = await loop.run_in_executor(None, messages.get, True, 0.25)
        except queue_module.Empty:
            continue
        if message.final is None:
            live[message.index] = message.counts
            if tick is not None:
                tick(_summed(live, metrics), time.monotonic() - start)
        else:
            metrics.merge(message.final)
            finished[message.index] = message.elapsed
    metrics.fold()  # the parent's own samples: the publisher's
    if len(finished) < options.workers:
        metrics.error("worker-lost", f"{options.workers - len(finished)} workers sent no report")
    return max(finished.values(), default=time.monotonic() - start)


def _summed(live: dict[int, Counts], parent: Counts) -> Counts:
    """The parent's live view: the workers' counters and its own (the publisher's) added up."""
    view = parent.counts()
    for counts in live.values():
        view.add(counts)
    return view


def worker_main(
    options: BenchOptions,
    index: int,
    messages: Queue[Progress],
    step: float,
    origin: float,
    started_ns: int,
) -> None:
    """A worker process: its share of the streams; counters every TICK, a snapshot at the end."""
    raise_open_files(per_process(options), say=False)
    metrics = Metrics(step, origin)
    metrics.started_ns = started_ns

    def tick(counts: Counts, elapsed: float) -> None:
        messages.put(Progress(index, counts.counts()))

    from sse_cli.loadtest.engine import run_load

    elapsed = run_loop(run_load(options, metrics, tick))
    messages.put(Progress(index, metrics.counts(), metrics.snapshot(), elapsed))
