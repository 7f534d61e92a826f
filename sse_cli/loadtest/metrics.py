"""What a load test counts: histograms of times, counters, errors by kind, the resume audit.

Times go into HdrHistogram histograms in microseconds (1 us to 1 hour, 3 significant
digits), never into lists of samples: percentiles stay exact to the histogram's precision
whatever the count, and the histograms of several worker processes merge exactly through
their compressed encoding (`snapshot` / `merge`).

hdrhistogram is imported when a `Metrics` is built, never when the CLI starts.
"""

from __future__ import annotations

import base64
import statistics
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

#: The histograms, each of a time in microseconds.
TIMES = ("connect", "ttfe", "gap", "latency", "publish")
HIGHEST_US = 3_600_000_000
PERCENTILES = (50.0, 90.0, 99.0)


def new_histogram() -> HdrHistogram:
    from hdrh.histogram import HdrHistogram

    return HdrHistogram(1, HIGHEST_US, 3)


class Metrics:
    """Every figure one process gathers. Plain counters are attributes, for speed."""

    def __init__(self) -> None:
        self.hist = {name: new_histogram() for name in TIMES}
        self.events = 0
        self.bytes = 0
        self.connections = 0  # responses that started an event stream
        self.reconnects = 0
        self.stopped = 0  # streams the server told to stop reconnecting (204)
        self.duplicates = 0
        self.gaps = 0
        self.open = 0  # streams open now
        self.max_open = 0
        self.publishes = 0
        self.errors: Counter[str] = Counter()
        self.publish_errors: Counter[str] = Counter()
        self.notes: dict[str, str] = {}
        """One server message per error kind (the first seen), for hints."""
        self.rates: list[float] = []
        """Per finished stream: its events per second while it ran."""

    def record(self, name: str, us: float) -> None:
        value = int(us)
        self.hist[name].record_value(min(max(value, 0), HIGHEST_US))

    def error(self, kind: str, note: str = "") -> None:
        self.errors[kind] += 1
        if note and kind not in self.notes:
            self.notes[kind] = note

    def opened(self) -> None:
        self.open += 1
        self.connections += 1
        if self.open > self.max_open:
            self.max_open = self.open

    def snapshot(self) -> dict[str, Any]:
        """Everything, as plain values a pipe carries; histograms in their compressed form."""
        return {
            "hist": {k: base64.b64encode(h.encode()).decode() for k, h in self.hist.items()},
            "counts": {
                k: getattr(self, k)
                for k in (
                    "events",
                    "bytes",
                    "connections",
                    "reconnects",
                    "stopped",
                    "duplicates",
                    "gaps",
                    "max_open",
                    "publishes",
                )
            },
            "errors": dict(self.errors),
            "publish_errors": dict(self.publish_errors),
            "notes": self.notes,
            "rates": self.rates,
        }

    def merge(self, snap: dict[str, Any]) -> None:
        """Add another process's snapshot: histograms add exactly, counts add up."""
        for name, encoded in snap["hist"].items():
            self.hist[name].decode_and_add(base64.b64decode(encoded))
        for name, value in snap["counts"].items():
            setattr(self, name, getattr(self, name) + value)
        self.errors.update(snap["errors"])
        self.publish_errors.update(snap["publish_errors"])
        for kind, note in snap["notes"].items():
            self.notes.setdefault(kind, note)
        self.rates.extend(snap["rates"])


def summary_ms(hist: HdrHistogram) -> dict[str, float] | None:
    """count, p50, p90, p99 and max in milliseconds; None for an empty histogram."""
    count = hist.get_total_count()
    if not count:
        return None
    result: dict[str, float] = {"count": count}
    for p in PERCENTILES:
        result[f"p{p:g}"] = hist.get_value_at_percentile(p) / 1000.0
    result["max"] = hist.get_max_value() / 1000.0
    return result


def rate_summary(rates: list[float]) -> dict[str, float] | None:
    if not rates:
        return None
    return {"min": round(min(rates), 3), "median": round(statistics.median(rates), 3)}
