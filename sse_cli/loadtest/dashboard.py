"""The live view on stderr while a load test runs (only on a terminal).

One `rich.live.Live` owns stderr. The engine calls `update` at most four times a second from
its own loop, and the view is drawn then: never per event, so drawing never slows the load.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from sse_cli.loadtest.metrics import Counts, Metrics

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live
    from rich.table import Table


class Dashboard:
    def __init__(
        self, connections: int, duration: float | None = None, stderr: IO[str] | None = None
    ) -> None:
        from rich.console import Console
        from rich.live import Live

        self.connections = connections
        self.duration = duration
        console = Console(file=stderr, stderr=stderr is None, highlight=False)
        self.live: Live = Live(console=console, auto_refresh=False, transient=True)
        self.last = (0.0, 0, 0)  # elapsed, events, bytes at the previous update

    def __enter__(self) -> Dashboard:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def update(self, metrics: Counts, elapsed: float) -> None:
        self.live.update(self.render(metrics, elapsed), refresh=True)

    def render(self, metrics: Counts, elapsed: float) -> RenderableType:
        """The counters as they are now; percentiles too when the run is in this process
        (with --workers, the workers' histograms come at the end)."""
        from rich.table import Table

        then, events, data = self.last
        span = max(elapsed - then, 1e-6)
        self.last = (elapsed, metrics.events, metrics.bytes)
        table = Table.grid(padding=(0, 2))
        if self.duration is None:
            table.add_row("elapsed", f"{elapsed:.1f} s")
        else:
            left = max(self.duration - elapsed, 0.0)
            table.add_row("elapsed", f"{elapsed:.1f} s of {self.duration:g} s, {left:.1f} s left")
        table.add_row("streams open", f"{metrics.open:,} of {self.connections:,}")
        table.add_row(
            "events/s", f"{(metrics.events - events) / span:,.0f} ({metrics.events:,} in all)"
        )
        table.add_row("bytes/s", f"{(metrics.bytes - data) / span / 1e6:,.2f} MB/s")
        table.add_row("reconnects", f"{metrics.reconnects:,}")
        errors = ", ".join(f"{k} {v:,}" for k, v in sorted(metrics.errors.items())) or "none"
        table.add_row("errors", errors)
        if isinstance(metrics, Metrics):
            self._times(table, metrics)
        return table

    def _times(self, table: Table, metrics: Metrics) -> None:
        for name, label in (("ttfe", "first event"), ("gap", "gap"), ("latency", "latency")):
            hist = metrics.total[name]  # up to the last interval closed
            if hist.get_total_count():
                p50, p95, p99 = (hist.get_value_at_percentile(p) / 1000 for p in (50, 95, 99))
                table.add_row(label, f"p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms")
