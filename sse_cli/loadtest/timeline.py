"""The run's time series as the report carries it: one point per interval, rates per second
and each interval's percentiles from its own histograms, added up exactly across workers.
"""

from __future__ import annotations

from sse_cli.loadtest.metrics import Point, add_encoded, new_histogram
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
    at = hist.get_value_at_percentile
    return Percentiles(
        count=count, p50=at(50.0) / 1000.0, p95=at(95.0) / 1000.0, p99=at(99.0) / 1000.0
    )


def series(points: list[Point], step: float) -> list[SeriesPoint]:
    """The report's series; `t` is each interval's start in seconds from the run's."""
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
