"""`sse-cli bench`: limits, one process or several, the live view, the report, thresholds.

With `--workers N`, N child processes (spawned, so each starts clean) run a share of the
streams each; every quarter second they send their counters for the live view, and at the
end each sends its histograms in HdrHistogram's compressed encoding, which the parent adds
up exactly. The publisher, if any, runs in the parent.
"""

from __future__ import annotations

import asyncio
import queue as queue_module
import sys
import time
from typing import IO, Any

from sse_cli.env import Environment
from sse_cli.errors import ThresholdError
from sse_cli.loadtest.metrics import Metrics
from sse_cli.loadtest.options import BenchOptions, LoadFlags, from_flags
from sse_cli.loadtest.report import build_report, nothing_opened, write_json, write_table
from sse_cli.request import RequestFlags

#: File descriptors a process needs besides its streams (stdio, the loop, libraries).
SPARE_FDS = 64
#: How long the parent waits for a worker's final report past the run's duration.
WORKER_GRACE = 30.0


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


def start(request: RequestFlags, load: LoadFlags, env: Environment) -> None:
    """`sse-cli bench`: check every flag, then run; an SseCliError says what went wrong."""
    from sse_cli.request import build_options

    ttys = env.stdout_isatty, env.stderr_isatty
    options = from_flags(build_options(request, env.stdin), load, *ttys)
    if request.insecure and not load.quiet:
        env.stderr.write("sse-cli: warning: --insecure: TLS certificates are not verified\n")
    run_bench(options, env)


def run_bench(options: BenchOptions, env: Environment | None = None) -> dict[str, Any]:
    """Run the load test and print the report on `env`'s stdout (the process's by default);
    then, when no stream opened at all, the error that stopped them (3 to 6), else
    ThresholdError (8) when a threshold fails."""
    if env is None:
        env = Environment.from_sys()
    raise_open_files(options.connections, stderr=env.stderr)
    metrics = Metrics()
    elapsed = asyncio.run(_main(options, metrics, env.stderr))
    report = build_report(options, metrics, elapsed)
    checks = [t.check(report) for t in options.thresholds]
    report["thresholds"] = checks
    if options.output_format == "json":
        write_json(report, env.stdout)
    else:
        write_table(report, env.text_stdout, env.environ)
    error = nothing_opened(report)
    if error is not None:
        raise error
    failed = [c for c in checks if not c["ok"]]
    if failed:
        named = "; ".join(f"{c['threshold']} (was {_shown(c['value'])})" for c in failed)
        raise ThresholdError(f"{len(failed)} of {len(checks)} thresholds failed: {named}")
    return report


def _shown(value: float | None) -> str:
    return "not measured" if value is None else f"{value:g}"


async def _main(options: BenchOptions, metrics: Metrics, stderr: IO[str]) -> float:
    from sse_cli import process
    from sse_cli.loadtest.engine import run_load

    process.settled()  # the stack is imported: cycle collection again, rarely (as listen)

    dashboard = None
    if options.live:
        from sse_cli.loadtest.dashboard import Dashboard

        dashboard = Dashboard(options.connections, stderr)
        dashboard.__enter__()
    try:
        tick = dashboard.update if dashboard is not None else None
        if options.workers == 1:
            return await run_load(options, metrics, tick)
        return await _run_workers(options, metrics, tick)
    finally:
        if dashboard is not None:
            dashboard.__exit__()


async def _run_workers(options: BenchOptions, metrics: Metrics, tick: Any) -> float:
    import multiprocessing

    from sse_cli.loadtest.engine import wait_open
    from sse_cli.loadtest.publish import Publisher

    context = multiprocessing.get_context("spawn")
    messages: Any = context.Queue()
    processes = [
        context.Process(target=worker_main, args=(options.share(i), i, messages), daemon=True)
        for i in range(options.workers)
    ]
    for process in processes:
        process.start()
    live: dict[int, dict[str, Any]] = {}
    start = time.monotonic()
    publishing = None
    if options.publish is not None:
        publisher = Publisher(options.publish, options.publish_rate, metrics)
        until = start + (options.duration or 3600.0)

        async def publish() -> None:
            await wait_open(lambda: sum(s["open"] for s in live.values()), options.connections)
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
    messages: Any,
    live: dict[int, dict[str, Any]],
    tick: Any,
    start: float,
) -> float:
    """Read the workers' messages until each has sent its final snapshot (bounded in time)."""
    loop = asyncio.get_running_loop()
    finished: dict[int, float] = {}
    deadline = start + (options.duration or 3600.0) + WORKER_GRACE
    while len(finished) < options.workers and time.monotonic() < deadline:
        try:
            kind, index, payload = await loop.run_in_executor(None, messages.get, True, 0.25)
        except queue_module.Empty:
            continue
        if kind == "live":
            live[index] = payload
            if tick is not None:
                tick(_summed(live, metrics), time.monotonic() - start)
        else:
            metrics.merge(payload["metrics"])
            finished[index] = payload["elapsed"]
    if len(finished) < options.workers:
        metrics.error("worker-lost", f"{options.workers - len(finished)} workers sent no report")
    return max(finished.values(), default=time.monotonic() - start)


def _summed(live: dict[int, dict[str, Any]], into: Metrics) -> Metrics:
    """The parent's live view: the workers' counters added up (percentiles come at the end)."""
    view = Metrics.__new__(Metrics)
    view.__dict__.update(into.__dict__)
    for name in ("open", "events", "bytes", "reconnects"):
        setattr(view, name, sum(s[name] for s in live.values()))
    from collections import Counter

    view.errors = Counter()
    for s in live.values():
        view.errors.update(s["errors"])
    return view


def worker_main(options: BenchOptions, index: int, messages: Any) -> None:
    """A worker process: its share of the streams; counters every TICK, a snapshot at the end."""
    raise_open_files(options.connections, say=False)
    metrics = Metrics()

    def tick(m: Metrics, elapsed: float) -> None:
        counts = {k: getattr(m, k) for k in ("open", "events", "bytes", "reconnects")}
        messages.put(("live", index, {**counts, "errors": dict(m.errors)}))

    from sse_cli.loadtest.engine import run_load

    elapsed = asyncio.run(run_load(options, metrics, tick))
    messages.put(("done", index, {"metrics": metrics.snapshot(), "elapsed": elapsed}))
