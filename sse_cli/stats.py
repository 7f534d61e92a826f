"""Counters of one listen session, for the live status line and the `--stats` summary.

Pure: fed chunks and reconnections, it keeps exact counts and a few timings. It counts every
event received, before `-e` filters, since it describes the stream, not the output.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence

from sse_cli.protocol.decoder import Event, Item


class Stats:
    __slots__ = (
        "_clock",
        "bytes",
        "by_type",
        "events",
        "first_event_at",
        "last_event_at",
        "max_gap",
        "reconnects",
        "started",
    )

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started = clock()
        self.events = 0
        self.bytes = 0
        self.reconnects = 0
        self.by_type: Counter[str] = Counter()
        self.first_event_at: float | None = None
        self.last_event_at: float | None = None
        self.max_gap = 0.0

    def chunk(self, size: int, items: Sequence[Item]) -> None:
        """Count one network chunk of `size` bytes and the events it completed."""
        self.bytes += size
        events = [item.event for item in items if type(item) is Event]
        if not events:
            return
        now = self._clock()
        if self.last_event_at is None:
            self.first_event_at = now
        else:
            self.max_gap = max(self.max_gap, now - self.last_event_at)
        self.last_event_at = now
        self.events += len(events)
        self.by_type.update(events)

    def elapsed(self) -> float:
        return self._clock() - self.started

    def mean_gap(self) -> float | None:
        if self.events < 2 or self.first_event_at is None or self.last_event_at is None:
            return None
        return (self.last_event_at - self.first_event_at) / (self.events - 1)

    def summary(self) -> list[str]:
        """The `--stats` report, one line per figure."""
        types = ", ".join(f"{name} {count}" for name, count in self.by_type.most_common())
        lines = [
            f"events       {self.events}" + (f" ({types})" if types else ""),
            f"bytes        {self.bytes:,}",
            f"duration     {self.elapsed():.3f} s",
            f"reconnects   {self.reconnects}",
        ]
        if self.first_event_at is not None:
            lines.append(f"first event  {self.first_event_at - self.started:.3f} s after start")
        mean = self.mean_gap()
        if mean is not None:
            lines.append(f"gaps         mean {mean:.3f} s, largest {self.max_gap:.3f} s")
        return lines


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover
