"""The sizes of a full run and of the smoke run (CI's: it proves the suite works, no more)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Config:
    smoke: bool
    runs: int
    """Timed runs per figure (the median is reported), after a verification run."""
    startup_runs: int
    small_events: int
    count_events: int
    """Events of the one fast stream that `load` counts: enough that the stream, not the two
    start-ups it is measured between, is most of each run."""
    large_events: int
    latency_events: int
    latency_interval: float
    memory_low: int
    memory_high: int
    counter_limit: int
    subscribers: int
    publishes: int
    """Publishes per pub/sub run; the figure is the median of their p99s, then over runs."""
    ping: int
    """Heartbeat interval of both pub/sub servers, in seconds."""
    idle: float
    """How long the subscribers stay idle (heartbeats only) before the memory reading."""
    settle: float
    """How long a client holding streams is left before its RSS is read."""
    batch: int
    """Connections the load client opens at once."""
    timeout: float
    """The bound on any one child process or wait, in seconds."""

    def with_runs(self, runs: int | None) -> Config:
        return self if runs is None else replace(self, runs=runs)


FULL = Config(
    smoke=False,
    runs=5,
    startup_runs=15,
    small_events=200_000,
    count_events=2_000_000,
    large_events=20_000,
    latency_events=300,
    latency_interval=0.01,
    memory_low=10_000,
    memory_high=1_000_000,
    counter_limit=100_000,
    subscribers=5_000,
    publishes=5,
    ping=2,
    idle=4.5,
    settle=1.0,
    batch=250,
    timeout=180.0,
)

SMOKE = Config(
    smoke=True,
    runs=1,
    startup_runs=1,
    small_events=2_000,
    count_events=2_000,
    large_events=200,
    latency_events=20,
    latency_interval=0.01,
    memory_low=100,
    memory_high=2_000,
    counter_limit=1_000,
    subscribers=50,
    publishes=2,
    ping=1,
    idle=0.3,
    settle=0.1,
    batch=25,
    timeout=60.0,
)
