"""The --stats counters, on a fake clock."""

from __future__ import annotations

from sse_cli.protocol.decoder import Comment, Event
from sse_cli.stats import Stats, human_bytes


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_counts_events_by_type_bytes_and_gaps() -> None:
    clock = Clock()
    stats = Stats(clock)
    clock.now += 0.5
    stats.chunk(10, [Event("a", "1", None), Comment("x")])
    clock.now += 2.0
    stats.chunk(20, [Event("b", "2", None), Event("a", "3", None)])
    stats.chunk(5, [Comment("ping")])
    clock.now += 1.0
    assert stats.events == 3
    assert stats.bytes == 35
    assert dict(stats.by_type) == {"a": 2, "b": 1}
    assert stats.first_event_at == 100.5
    assert stats.max_gap == 2.0
    assert stats.mean_gap() == 1.0
    summary = "\n".join(stats.summary())
    assert "events       3 (a 2, b 1)" in summary
    assert "bytes        35" in summary
    assert "duration     3.500 s" in summary
    assert "first event  0.500 s after start" in summary
    assert "gaps         mean 1.000 s, largest 2.000 s" in summary


def test_no_events_reports_no_gaps() -> None:
    stats = Stats(Clock())
    stats.chunk(3, [])
    assert stats.mean_gap() is None
    assert not any(line.startswith("gaps") for line in stats.summary())


def test_human_bytes() -> None:
    assert human_bytes(12) == "12 B"
    assert human_bytes(2048) == "2.0 KiB"
    assert human_bytes(5 * 1024 * 1024) == "5.0 MiB"
