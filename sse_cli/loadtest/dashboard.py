"""The live view on stderr while a load test runs (only on a terminal).

One `rich.live.Live` owns stderr. The engine calls `update` at most four times a second from
its own loop, and the view is drawn then: never per event, so drawing never slows the load.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from sse_cli.loadtest.metrics import Metrics

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live


class Dashboard:
    def __init__(self, connections: int, stderr: IO[str] | None = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.connections = connections
        console = Console(file=stderr, stderr=stderr is None, highlight=False)
        self.live: Live = Live(console=console, auto_refresh=False, transient=True)
        self.last = (0.0, 0, 0)  # elapsed, events, bytes at the previous update

    def __enter__(self) -> Dashboard:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def update(self, metrics: Metrics, elapsed: float) -> None:
        self.live.update(self.render(metrics, elapsed), refresh=True)

    def render(self, metrics: Metrics, elapsed: float) -> RenderableType:
        from rich.table import Table

        then, events, data = self.last
        span = max(elapsed - then, 1e-6)
        self.last = (elapsed, metrics.events, metrics.bytes)
        table = Table.grid(padding=(0, 2))
        table.add_row("elapsed", f"{elapsed:.1f} s")
        table.add_row("streams open", f"{metrics.open:,} of {self.connections:,}")
        table.add_row(
            "events/s", f"{(metrics.events - events) / span:,.0f} ({metrics.events:,} in all)"
        )
        table.add_row("bytes/s", f"{(metrics.bytes - data) / span / 1e6:,.2f} MB/s")
        table.add_row("reconnects", f"{metrics.reconnects:,}")
        errors = ", ".join(f"{k} {v:,}" for k, v in sorted(metrics.errors.items())) or "none"
        table.add_row("errors", errors)
        for name, label in (("ttfe", "first event"), ("gap", "gap"), ("latency", "latency")):
            hist = metrics.hist[name]
            if hist.get_total_count():
                p50, p99 = (hist.get_value_at_percentile(p) / 1000 for p in (50, 99))
                table.add_row(label, f"p50 {p50:.1f} ms  p99 {p99:.1f} ms")
        return table
