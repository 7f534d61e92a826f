"""What a load test counts: counters, histograms of times, and the same per interval.

The counters are the fields of one dataclass, `Counts`: its fields, read by `dataclasses`,
drive the snapshot a worker sends, the merge of workers, the live view, the time series and
the report, so a new counter is declared once. `Metrics` adds what only a whole run has.

Times go into HdrHistogram histograms in microseconds (1 us to 1 hour, 3 significant
digits), never into lists of samples: percentiles stay exact to the histogram's precision
whatever the count, and the histograms of several worker processes merge exactly through
their compressed encoding. Each interval of the time series (`Series`) has histograms of its
own: samples go into the interval's, which are added to the run's when the interval closes.
A sample is first appended to a list, and the lists are recorded into the interval's
histograms in one call each when it closes (`hdr.record_values`, with a C twin): hdrh's
`record_value` is pure Python, about 2 us a call, and a delivery made two of them.

hdrhistogram is imported when a `Metrics` is built, never when the CLI starts.
"""

from __future__ import annotations

import base64
import bisect
import ctypes
import dataclasses
import itertools
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sse_cli.loadtest import hdr
from sse_cli.loadtest.hdr import HIGHEST_US
from sse_cli.loadtest.schema import Rates, Times

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

#: The histograms, each of a time in microseconds: `connect` to the TCP (and TLS) connection,
#: `head` to the response head, both from the start of the attempt.
TIMES = ("connect", "head", "ttfe", "gap", "latency", "publish")
#: A send time more than this before the run's start is not a delivery being measured.
STALE_NS = 1_000_000_000


#: The memoryview format of hdrh's counts, by its word size in bytes.
FORMATS: dict[int, Literal["H", "I", "Q"]] = {2: "H", 4: "I", 8: "Q"}


def new_histogram() -> HdrHistogram:
    from hdrh.histogram import HdrHistogram

    return HdrHistogram(1, HIGHEST_US, 3)


def clear(hist: HdrHistogram) -> None:
    """What hdrh's `reset()` does, with the counts zeroed by one memset: `reset()` zeroes its
    23,552 counts one by one in Python, about 1.7 ms, at every interval's end. The same
    memory is kept, so a long run's resident size is as it was."""
    counts = hist.counts
    ctypes.memset(ctypes.addressof(counts), 0, ctypes.sizeof(counts))
    hist.total_count = 0
    hist.min_value = sys.maxsize
    hist.max_value = 0
    hist.start_time_stamp_msec = sys.maxsize
    hist.end_time_stamp_msec = 0


def encode(hist: HdrHistogram) -> str:
    return base64.b64encode(hist.encode()).decode()


def add_encoded(into: HdrHistogram, encoded: str) -> None:
    into.decode_and_add(base64.b64decode(encoded))


@dataclass(slots=True, eq=False)
class Counts:
    """The counters of one process, or their sum over workers, or their change in an
    interval. Every int field adds up across workers; `open` is the streams open now."""

    events: int = 0
    bytes: int = 0
    connections: int = 0  # responses that started an event stream
    reconnects: int = 0
    stopped: int = 0  # streams the server told to stop reconnecting (204)
    duplicates: int = 0
    gaps: int = 0
    publishes: int = 0
    stale: int = 0  # send times from before the run's start, left out of latency
    open: int = 0
    max_open: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    publish_errors: Counter[str] = field(default_factory=Counter)

    def counts(self) -> Counts:
        """A copy of the counters alone (what a worker sends for the live view)."""
        copy = Counts()
        copy.add(self)
        return copy

    def add(self, other: Counts) -> None:
        for name in NUMBERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in TALLIES:
            getattr(self, name).update(getattr(other, name))

    def since(self, earlier: Counts) -> Counts:
        """What changed from `earlier` to now; `open` and `max_open` as they are now."""
        delta = Counts(open=self.open, max_open=self.max_open)
        for name in NUMBERS:
            if name not in ("open", "max_open"):
                setattr(delta, name, getattr(self, name) - getattr(earlier, name))
        for name in TALLIES:
            setattr(delta, name, getattr(self, name) - getattr(earlier, name))
        return delta


NUMBERS = tuple(f.name for f in dataclasses.fields(Counts) if f.type == "int")
TALLIES = tuple(f.name for f in dataclasses.fields(Counts) if str(f.type).startswith("Counter"))


@dataclass(frozen=True)
class Point:
    """One interval of the time series: what changed in it, and its histograms' encodings
    (one per process that sampled it, added up when it is read)."""

    index: int
    dt: float
    counts: Counts
    hist: dict[str, list[str]]


class Series:
    """Intervals of `step` seconds from the monotonic time `origin` (the run's start; the
    parent's, in workers, so that their intervals line up and merge by index)."""

    def __init__(self, step: float, origin: float | None = None) -> None:
        self.step = step
        self.origin = origin
        self.index = 0
        self.last = Counts()
        self.points: list[Point] = []

    def begin(self, now: float) -> None:
        if self.origin is None:
            self.origin = now
        self.index = max(int((now - self.origin) / self.step), 0)

    def until_due(self, now: float) -> float:
        """Seconds until the current interval ends."""
        assert self.origin is not None
        return max(self.origin + (self.index + 1) * self.step - now, 0.0)

    def close(self, now: float, counts: Counts, hists: dict[str, str], final: bool) -> None:
        assert self.origin is not None
        current = counts.counts()
        dt = self.step
        if final:
            dt = min(max(now - self.origin - self.index * self.step, 1e-3), self.step)
        hist = {name: [encoded] for name, encoded in hists.items()}
        self.points.append(Point(self.index, dt, current.since(self.last), hist))
        self.last = current
        self.index = max(int((now - self.origin) / self.step), self.index + 1)

    def settle(self, counts: Counts, hists: dict[str, str]) -> None:
        """Add what was counted after the last interval closed (as the streams were dropped)
        to that interval; its streams open stay as they were when it closed."""
        current = counts.counts()
        if self.points:
            last = self.points[-1]
            late = current.since(self.last)
            late.open, late.max_open = 0, 0
            last.counts.add(late)
            for name, encoded in hists.items():
                last.hist.setdefault(name, []).append(encoded)
        self.last = current

    def merge(self, points: list[Point]) -> None:
        """Add another process's points, interval by interval."""
        mine = {point.index: point for point in self.points}
        for point in points:
            same = mine.get(point.index)
            if same is None:  # a copy: the merge adds to it, and the snapshot stays as it was
                hist = {name: list(encodings) for name, encodings in point.hist.items()}
                mine[point.index] = Point(point.index, point.dt, point.counts.counts(), hist)
                continue
            same.counts.add(point.counts)
            for name, encodings in point.hist.items():
                same.hist.setdefault(name, []).extend(encodings)
            if point.dt > same.dt:
                mine[point.index] = dataclasses.replace(same, dt=point.dt)
        self.points = sorted(mine.values(), key=lambda point: point.index)


def step_for(duration: float | None) -> float:
    """The series' interval: a second, finer for short runs."""
    if duration is None or duration >= 30:
        return 1.0
    return 0.5 if duration >= 8 else 0.25


@dataclass(frozen=True)
class Snapshot:
    """Everything one process gathered, as plain values a pipe carries."""

    counts: Counts
    hist: dict[str, str]
    """Each histogram in its compressed encoding."""
    notes: dict[str, str]
    rates: list[float]
    series: list[Point]


class Metrics(Counts):
    """Every figure one process gathers. Plain counters are attributes, for speed."""

    __slots__ = ("hist", "notes", "pending", "rates", "series", "started_ns", "total")

    def __init__(self, step: float = 1.0, origin: float | None = None) -> None:
        super().__init__()
        self.hist = {name: new_histogram() for name in TIMES}
        """The current interval's histograms, where samples go."""
        self.total = {name: new_histogram() for name in TIMES}
        """The run's histograms, up to the last interval closed."""
        self.pending: dict[str, list[int]] = {name: [] for name in TIMES}
        """The current interval's samples not yet in its histograms (`flush`)."""
        self.notes: dict[str, str] = {}
        """One server message per error kind (the first seen), for hints."""
        self.rates: list[float] = []
        """Per finished stream: its events per second while it ran."""
        self.series = Series(step, origin)
        self.started_ns = 0
        """When the run started, in epoch nanoseconds: older send times are not latency."""

    def record(self, name: str, us: float) -> None:
        self.pending[name].append(int(us))

    def flush(self) -> None:
        """Record the samples held back by `record` into the current interval's histograms."""
        for name, values in self.pending.items():
            if values:
                hdr.add_values(self.hist[name], values)
                values.clear()

    def sent_at(self, sent_ns: int, now_ns: int) -> None:
        """The latency of an event sent at `sent_ns`; a send time from well before the run
        started is the age of a recording or of history, not a delivery: counted apart."""
        if sent_ns < self.started_ns - STALE_NS:
            self.stale += 1
        else:
            self.pending["latency"].append((now_ns - sent_ns) // 1000)

    def error(self, kind: str, note: str = "") -> None:
        self.errors[kind] += 1
        if note and kind not in self.notes:
            self.notes[kind] = note

    def opened(self) -> None:
        self.open += 1
        self.connections += 1
        if self.open > self.max_open:
            self.max_open = self.open

    def roll(self, now: float, final: bool = False) -> None:
        """Close the current interval of the series at the monotonic time `now`."""
        self.series.close(now, self, self.fold(), final)

    def settle(self) -> None:
        """After the run: what its end counted joins the last interval."""
        self.series.settle(self, self.fold())

    def fold(self) -> dict[str, str]:
        """Add the current interval's histograms to the run's and empty them; return the
        encodings of those that held samples."""
        hists: dict[str, str] = {}
        self.flush()
        for name, hist in list(self.hist.items()):
            if hist.get_total_count():
                hists[name] = encode(hist)
                self.total[name].add(hist)
                clear(hist)
        return hists

    def snapshot(self) -> Snapshot:
        return Snapshot(
            counts=self.counts(),
            hist={name: encode(hist) for name, hist in self.total.items()},
            notes=self.notes,
            rates=self.rates,
            series=self.series.points,
        )

    def merge(self, snap: Snapshot) -> None:
        """Add another process's snapshot: histograms add exactly, counts add up."""
        self.add(snap.counts)
        for name, encoded in snap.hist.items():
            add_encoded(self.total[name], encoded)
        for kind, note in snap.notes.items():
            self.notes.setdefault(kind, note)
        self.rates.extend(snap.rates)
        self.series.merge(snap.series)


def buckets(hist: HdrHistogram) -> tuple[list[int], list[int]]:
    """The indexes of the buckets that hold counts, in order, and the running total at each.

    One pass at C speed over the raw counts, up to the largest value's bucket: a histogram
    has 23,552 buckets and a run's times fill a few hundred, so what reads them (`values_at`,
    `mean_of`) does Python work per bucket held, not per bucket."""
    held = min(hist.counts_len, hist.encoder.payload.counts_len)
    end = min(held, hist._counts_index_for(hist.get_max_value()) + 1)
    raw = memoryview(hist.counts)
    counts = raw.cast("B").cast(FORMATS[raw.itemsize])[:end]
    indexes = list(itertools.compress(range(len(counts)), counts))
    running = list(itertools.accumulate(map(counts.__getitem__, indexes)))
    return indexes, running


def values_at(
    hist: HdrHistogram,
    percentiles: tuple[float, ...],
    held: tuple[list[int], list[int]] | None = None,
) -> list[int]:
    """What `get_value_at_percentile` answers, for several percentiles in one pass at C
    speed (hdrh walks the counts in Python, once per percentile: milliseconds each, which a
    series of thousands of intervals cannot afford): each percentile's count is found by
    bisection in the running totals of the buckets held (`buckets`, or `held` if given)."""
    total = hist.get_total_count()
    indexes, running = buckets(hist) if held is None else held
    values = []
    for percentile in percentiles:
        target = max(int(min(percentile, 100.0) * total / 100 + 0.5), 1)
        at = bisect.bisect_left(running, target)
        if not total or at >= len(indexes):
            values.append(0)
            continue
        value = hist.get_value_from_index(indexes[at])
        if percentile:
            values.append(hist.get_highest_equivalent_value(value))
        else:
            values.append(hist.get_lowest_equivalent_value(value))
    return values


def mean_of(hist: HdrHistogram, held: tuple[list[int], list[int]] | None = None) -> float:
    """What `get_mean_value` answers, over the buckets held only: hdrh walks every bucket up
    to the largest value in Python, about 0.3 s for one histogram of a fast stream's gaps,
    which the report paid for each of its times."""
    total = hist.get_total_count()
    if not total:
        return 0.0
    indexes, running = buckets(hist) if held is None else held
    weighted: int = 0
    before = 0
    for index, upto in zip(indexes, running, strict=True):
        # As hdrh does: the middle of the range of values that count as this bucket's value.
        value = hist.get_highest_equivalent_value(hist.get_value_from_index(index))
        weighted += (upto - before) * int(hist._hdr_median_equiv_value(value))
        before = upto
    return weighted / int(total)


def summary_ms(hist: HdrHistogram) -> Times | None:
    """count, min, mean, the percentiles and max in milliseconds; None when empty."""
    count = hist.get_total_count()
    if not count:
        return None
    held = buckets(hist)
    p50, p90, p95, p99 = (us / 1000.0 for us in values_at(hist, (50.0, 90.0, 95.0, 99.0), held))
    return Times(
        count=count,
        min=hist.get_min_value() / 1000.0,
        mean=round(mean_of(hist, held) / 1000.0, 3),
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        max=hist.get_max_value() / 1000.0,
    )


#: Where the percentile curve is read: finer towards the tail, as HdrHistogram plots it.
CURVE = (0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0)


def curve(hist: HdrHistogram) -> list[tuple[float, float]]:
    """(percentile, ms) along CURVE."""
    return [(p, us / 1000.0) for p, us in zip(CURVE, values_at(hist, CURVE), strict=True)]


def rate_summary(rates: list[float]) -> Rates | None:
    if not rates:
        return None
    return Rates(min=round(min(rates), 3), median=round(statistics.median(rates), 3))
