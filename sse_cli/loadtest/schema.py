"""The report of a load test, typed: what `-f json` writes, the table and the HTML report
show, and thresholds read. README ("Load testing") documents it key by key.

TypedDicts, so the report is plain JSON data and mypy checks every key read. Stdlib only.
"""

from __future__ import annotations

from typing import TypedDict

#: Bumped when a key changes meaning or goes away (adding keys does not bump it).
SCHEMA = 2


class Times(TypedDict):
    """A histogram of times, in milliseconds."""

    count: int
    min: float
    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float


class Percentiles(TypedDict):
    """One interval's times, in milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float


class Total(TypedDict):
    total: int
    per_s: float


class Streams(TypedDict):
    opened: int
    max_open: int
    stopped_by_server: int


class Rates(TypedDict):
    min: float
    median: float


class Errors(TypedDict):
    total: int
    by_kind: dict[str, int]


class Resume(TypedDict):
    duplicates: int
    gaps: int


class Publish(TypedDict):
    url: str
    rate: float
    sent: int
    errors: dict[str, int]
    latency_ms: Times | None


class Check(TypedDict):
    threshold: str
    value: float | None
    unit: str
    ok: bool


class Machine(TypedDict):
    cores: int
    load_start: list[float]
    load_end: list[float]


class Settings(TypedDict):
    method: str
    ramp: float | None
    duration: float | None
    events_per_stream: int | None
    publish_rate: float | None
    local_ips: list[str] | None
    """The source addresses (--local-ips) as blocks: `127.0.0.2-127.0.0.3`, `::1`."""


class Point(TypedDict):
    """One interval of the run: `t` seconds from its start, `dt` seconds long."""

    t: float
    dt: float
    streams_open: int
    connections: int
    events: int
    events_per_s: float
    bytes: int
    bytes_per_s: float
    reconnects: int
    errors: int
    errors_by_kind: dict[str, int]
    duplicates: int
    gaps: int
    head_ms: Percentiles | None
    ttfe_ms: Percentiles | None
    gap_ms: Percentiles | None
    latency_ms: Percentiles | None


class Report(TypedDict):
    schema: int
    url: str
    connections: int
    workers: int
    duration_s: float
    settings: Settings
    machine: Machine
    streams: Streams
    connect_ms: Times | None
    head_ms: Times | None
    ttfe_ms: Times | None
    gap_ms: Times | None
    latency_ms: Times | None
    latency_note: str | None
    events: Total
    bytes: Total
    per_stream_events_per_s: Rates | None
    slowest_streams: list[float]
    errors: Errors
    reconnects: int
    resume: Resume
    publish: Publish | None
    hints: list[str]
    thresholds: list[Check]
    series: list[Point]
    curves: dict[str, list[tuple[float, float]]]
    """Per time with samples: (percentile, ms) pairs of its whole-run distribution."""


#: The figures of a time, in the order the table and the page show them.
COLUMNS = ("min", "mean", "p50", "p90", "p95", "p99", "max")


def column_values(times: Times) -> tuple[float, ...]:
    """A time's figures in COLUMNS' order, as the table and the page show them."""
    return (
        times["min"],
        times["mean"],
        times["p50"],
        times["p90"],
        times["p95"],
        times["p99"],
        times["max"],
    )
