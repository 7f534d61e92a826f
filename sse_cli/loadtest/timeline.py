"""The run's time series as the report carries it: one point per interval, rates per second
and each interval's percentiles from its own histograms, added up exactly across workers.
"""

from __future__ import annotations

import math

from sse_cli.loadtest.metrics import Counts, Point, add_encoded, new_histogram, values_at
from sse_cli.loadtest.schema import Percentiles
from sse_cli.loadtest.schema import Point as SeriesPoint


def percentiles(encodings: list[str] | None) -> Percentiles | None:
    if not encodings:
        return None
    hist = new_histogram()
    for encoded in encodings:
        add_encoded(hist, encoded)
    count = hist.get_total_count()
    if not count:
        return None
    p50, p95, p99 = (us / 1000.0 for us in values_at(hist, (50.0, 95.0, 99.0)))
    return Percentiles(count=count, p50=p50, p95=p95, p99=p99)


#: A longer run's intervals are joined, k at a time, to keep at most this many points: each
#: costs milliseconds to read, and a chart shows no more.
MAX_POINTS = 600


def coarsen(points: list[Point], step: float) -> tuple[list[Point], float]:
    """Join every k consecutive intervals into one (exactly: counts and histograms add up)."""
    if not points or points[-1].index < MAX_POINTS:
        return points, step
    k = math.ceil((points[-1].index + 1) / MAX_POINTS)
    joined: dict[int, list[Point]] = {}
    for point in points:
        joined.setdefault(point.index // k, []).append(point)
    return [_join(index, group, step, k) for index, group in joined.items()], step * k


def _join(index: int, group: list[Point], step: float, k: int) -> Point:
    counts = Counts()
    hist: dict[str, list[str]] = {}
    for point in group:
        counts.add(point.counts)
        for name, encodings in point.hist.items():
            hist.setdefault(name, []).extend(encodings)
    last = group[-1]
    counts.open = last.counts.open  # a level at the end, not a change
    counts.max_open = max(point.counts.max_open for point in group)
    dt = (last.index - index * k) * step + last.dt
    return Point(index, dt, counts, hist)


def series(points: list[Point], step: float) -> list[SeriesPoint]:
    """The report's series; `t` is each interval's start in seconds from the run's."""
    points, step = coarsen(points, step)
    out: list[SeriesPoint] = []
    for point in points:
        counts, dt = point.counts, point.dt
        out.append(
            SeriesPoint(
                t=round(point.index * step, 3),
                dt=round(dt, 6),
                streams_open=counts.open,
                connections=counts.connections,
                events=counts.events,
                events_per_s=round(counts.events / dt, 3),
                bytes=counts.bytes,
                bytes_per_s=round(counts.bytes / dt, 3),
                reconnects=counts.reconnects,
                errors=sum(counts.errors.values()),
                errors_by_kind=dict(sorted(counts.errors.items())),
                duplicates=counts.duplicates,
                gaps=counts.gaps,
                head_ms=percentiles(point.hist.get("head")),
                ttfe_ms=percentiles(point.hist.get("ttfe")),
                gap_ms=percentiles(point.hist.get("gap")),
                latency_ms=percentiles(point.hist.get("latency")),
            )
        )
    return out
