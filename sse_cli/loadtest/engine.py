"""The load in one process: open the streams at the ramp's pace, run, stop, gather.

`run_load` opens `connections` streams (all at once, or `ramp` per second), lets them run
for `duration` seconds or until each has its `events_per_stream`, sweeps for connect and
idle timeouts twice a second, closes each interval of the time series as it ends, and then
drops every connection. A `tick` callback, if given, sees the counters every quarter second
(the live dashboard, or a worker's progress report).
Every loop here is bounded by the duration or by the count of streams.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sse_cli.loadtest.latency import KNOWN_MARKER, extractor
from sse_cli.loadtest.metrics import Counts, Metrics
from sse_cli.loadtest.options import BenchOptions
from sse_cli.loadtest.publish import Publisher
from sse_cli.loadtest.stream import Stream
from sse_cli.loadtest.target import Target, make_target

TICK = 0.25  # seconds between two calls of `tick`
SWEEP = 0.5  # seconds between two timeout sweeps
#: With --events-per-stream and no --duration, a stream that never gets its events ends
#: the run after this long anyway.
MAX_RUN = 3600.0
#: How long the publisher waits for the streams to open, past the ramp's length, before it
#: starts anyway.
PUBLISH_WAIT = 10.0


async def run_load(
    options: BenchOptions,
    metrics: Metrics,
    tick: Callable[[Counts, float], None] | None = None,
) -> float:
    """Run the load; return its length in seconds (from the first stream to the stop)."""
    if not metrics.started_ns:
        metrics.started_ns = time.time_ns()
    extract = extractor(options.latency_field)
    marker = KNOWN_MARKER if options.latency_field is None else None
    target = make_target(options.request, metrics, extract, options.events_per_stream, marker)
    streams: list[Stream] = []
    tasks: set[asyncio.Task[None]] = set()
    start = time.monotonic()
    until = start + (options.duration or MAX_RUN)
    metrics.series.begin(start)
    helpers = [asyncio.create_task(_sweep(streams)), asyncio.create_task(_intervals(metrics))]
    if tick is not None:
        helpers.append(asyncio.create_task(_ticks(tick, metrics, start)))
    if options.publish is not None:
        publisher = Publisher(options.publish, options.publish_rate, metrics)
        helpers.append(asyncio.create_task(_publish(publisher, metrics, options, until)))
    try:
        await _open(options, target, streams, tasks, until)
        remaining = until - time.monotonic()
        if tasks and remaining > 0:
            await asyncio.wait(tasks, timeout=remaining)
    finally:
        elapsed = time.monotonic() - start
        metrics.roll(start + elapsed, final=True)
        for task in [*tasks, *helpers]:
            task.cancel()
        await asyncio.gather(*tasks, *helpers, return_exceptions=True)
        metrics.rates = [s.rate() for s in streams]
        metrics.settle()
        if tick is not None:
            tick(metrics, elapsed)
    return elapsed


async def _open(
    options: BenchOptions,
    target: Target,
    streams: list[Stream],
    tasks: set[asyncio.Task[None]],
    until: float,
) -> None:
    start = time.monotonic()
    for index in range(options.connections):
        if options.ramp is not None:
            delay = start + index / options.ramp - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        elif index and index % 500 == 0:
            await asyncio.sleep(0)  # let the opened ones connect before starting more
        if time.monotonic() >= until or target.unreachable:
            return
        sources = options.local_ips
        source = None if sources is None else sources.address(options.first_stream + index)
        stream = Stream(target, source)
        streams.append(stream)
        tasks.add(asyncio.create_task(stream.run()))


async def _sweep(streams: list[Stream]) -> None:
    while True:
        await asyncio.sleep(SWEEP)
        now = time.perf_counter()
        for stream in streams:
            stream.timed_out(now)


async def _intervals(metrics: Metrics) -> None:
    """Close each interval of the time series when it ends."""
    while True:
        await asyncio.sleep(metrics.series.until_due(time.monotonic()))
        metrics.roll(time.monotonic())


async def _ticks(tick: Callable[[Counts, float], None], metrics: Metrics, start: float) -> None:
    while True:
        await asyncio.sleep(TICK)
        tick(metrics, time.monotonic() - start)


async def _publish(
    publisher: Publisher, metrics: Metrics, options: BenchOptions, until: float
) -> None:
    await wait_open(lambda: metrics.open, options.connections, options.ramp)
    await publisher.run(until)


async def wait_open(open_now: Callable[[], int], connections: int, ramp: float | None) -> None:
    """Publishing starts once every stream is open, or PUBLISH_WAIT after the ramp's end:
    bounded polling, since nothing announces the last stream's head."""
    ramp_s = connections / ramp if ramp else 0.0
    for _ in range(int((ramp_s + PUBLISH_WAIT) / 0.05)):
        if open_now() >= connections:
            return
        await asyncio.sleep(0.05)
