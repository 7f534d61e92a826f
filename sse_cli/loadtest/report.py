"""The report at the end of a load test: one JSON object, or a table for people.

The JSON object's schema is documented in README ("Load testing"); the table shows the
same figures. Times are in milliseconds. rich is imported only to draw the table.
"""

from __future__ import annotations

import sys
from typing import Any

from sse_cli.errors import ConnectError, HttpStatusError, NotEventStreamError, SseCliError
from sse_cli.loadtest.metrics import Metrics, rate_summary, summary_ms
from sse_cli.loadtest.options import BenchOptions
from sse_cli.request import mask_url

#: Bumped when a key changes meaning or goes away (adding keys does not bump it).
SCHEMA = 1


def build_report(options: BenchOptions, metrics: Metrics, elapsed: float) -> dict[str, Any]:
    seconds = max(elapsed, 1e-9)
    hist = metrics.hist
    publish = None
    if options.publish is not None:
        publish = {
            "url": mask_url(options.publish),
            "rate": options.publish_rate,
            "sent": metrics.publishes,
            "errors": dict(sorted(metrics.publish_errors.items())),
            "latency_ms": summary_ms(hist["publish"]),
        }
    return {
        "schema": SCHEMA,
        "url": mask_url(options.request.url),
        "connections": options.connections,
        "workers": options.workers,
        "duration_s": round(elapsed, 3),
        "streams": {
            "opened": metrics.connections,
            "max_open": metrics.max_open,
            "stopped_by_server": metrics.stopped,
        },
        "connect_ms": summary_ms(hist["connect"]),
        "ttfe_ms": summary_ms(hist["ttfe"]),
        "gap_ms": summary_ms(hist["gap"]),
        "latency_ms": summary_ms(hist["latency"]),
        "events": {"total": metrics.events, "per_s": round(metrics.events / seconds, 1)},
        "bytes": {"total": metrics.bytes, "per_s": round(metrics.bytes / seconds, 1)},
        "per_stream_events_per_s": rate_summary(metrics.rates),
        "errors": {
            "total": sum(metrics.errors.values()),
            "by_kind": dict(sorted(metrics.errors.items())),
        },
        "reconnects": metrics.reconnects,
        "resume": {"duplicates": metrics.duplicates, "gaps": metrics.gaps},
        "publish": publish,
        "hints": hints(metrics),
        "thresholds": [],
    }


def hints(metrics: Metrics) -> list[str]:
    """What to change when the target refused streams: serve's caps are named by their flag."""
    found = []
    refused = metrics.errors.get("http-503", 0)
    if refused:
        note = metrics.notes.get("http-503", "")
        if "too many open streams" in note:
            found.append(
                f"the server refused {refused} streams with 503 ({note}): it is `sse-cli serve` "
                "at its cap; raise its --max-streams above -c"
            )
        else:
            found.append(f"the server answered 503 Service Unavailable {refused} times")
    limited = metrics.errors.get("http-429", 0) + metrics.publish_errors.get("http-429", 0)
    if limited:
        note = metrics.notes.get("http-429", "")
        if "too many requests" in note or not note:
            found.append(
                f"the server answered 429 Too Many Requests {limited} times"
                + (f" ({note})" if note else "")
                + ": if it is `sse-cli serve`, raise its --rate-limit (0 turns it off), "
                "or open streams slower with --ramp"
            )
    if metrics.errors.get("open-files"):
        found.append("this process ran out of open files: raise the hard limit (ulimit -Hn)")
    if metrics.publish_errors.get("http-404"):
        found.append("/publish answered 404: no stream was subscribed to the topic yet")
    return found


def nothing_opened(report: dict[str, Any]) -> SseCliError | None:
    """When no stream opened at all, the failure `listen` would end with: the most common
    kind of error names the exit status (3 connection, 4 and 5 HTTP, 6 not a stream)."""
    by_kind: dict[str, int] = report["errors"]["by_kind"]
    if report["streams"]["opened"] or not by_kind:
        return None
    kind, count = max(by_kind.items(), key=lambda pair: pair[1])
    total = report["errors"]["total"]
    message = f"no stream opened: {total:,} errors, {count:,} of them {kind}"
    if kind.startswith("http-") and kind[5:].isdigit():
        hint = "check the URL and the request flags; the report has the errors by kind"
        return HttpStatusError(int(kind[5:]), message, hint)
    if kind == "not-event-stream":
        return NotEventStreamError(message, "the URL does not answer with text/event-stream")
    return ConnectError(message, "is a server listening at that address?")


def write_json(report: dict[str, Any]) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps(report) + b"\n")
    sys.stdout.buffer.flush()


def _row(name: str, times: dict[str, float] | None) -> list[str]:
    if times is None:
        return [name, "-", "-", "-", "-", "0"]
    return [
        name,
        *(f"{times[k]:.2f}" for k in ("p50", "p90", "p99", "max")),
        f"{int(times['count']):,}",
    ]


def write_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    console.on_broken_pipe = lambda: None  # type: ignore[method-assign]
    times = Table(title=f"sse-cli bench {report['url']}", title_justify="left")
    for column in ("ms", "p50", "p90", "p99", "max", "count"):
        times.add_column(column, justify="left" if column == "ms" else "right")
    times.add_row(*_row("connect", report["connect_ms"]))
    times.add_row(*_row("first event", report["ttfe_ms"]))
    times.add_row(*_row("gap", report["gap_ms"]))
    times.add_row(*_row("latency", report["latency_ms"]))
    if report["publish"] is not None:
        times.add_row(*_row("publish", report["publish"]["latency_ms"]))
    console.print(times)
    console.print(_figures(report), markup=False)
    for hint in report["hints"]:
        console.print(f"hint: {hint}", style="yellow", markup=False)
    for check in report["thresholds"]:
        mark = "ok  " if check["ok"] else "FAIL"
        console.print(f"{mark} {check['threshold']} (was {check['value']})", markup=False)


def _stopped(count: int) -> str:
    if not count:
        return ""
    return f"; {count:,} told to stop by the server (HTTP 204)"


def _figures(report: dict[str, Any]) -> str:
    events, data = report["events"], report["bytes"]
    rate = report["per_stream_events_per_s"]
    errors = report["errors"]
    lines = [
        f"streams     {report['streams']['max_open']:,} open at most of {report['connections']:,}"
        f" ({report['streams']['opened']:,} connections) in {report['duration_s']:.1f} s"
        + _stopped(report["streams"]["stopped_by_server"]),
        f"events      {events['total']:,} ({events['per_s']:,.0f}/s)"
        + (f"; per stream min {rate['min']:.1f}/s, median {rate['median']:.1f}/s" if rate else ""),
        f"bytes       {data['total']:,} ({data['per_s'] / 1e6:,.2f} MB/s)",
        f"reconnects  {report['reconnects']:,}",
        f"resume      {report['resume']['duplicates']} duplicates, {report['resume']['gaps']} gaps",
        f"errors      {errors['total']:,}"
        + "".join(f"\n  {kind:<24}{count:,}" for kind, count in errors["by_kind"].items()),
    ]
    publish = report["publish"]
    if publish is not None:
        failed = sum(publish["errors"].values())
        lines.append(f"published   {publish['sent']:,} at {publish['rate']:g}/s, {failed} failed")
    return "\n".join(lines)
