"""The report at the end of a load test: one JSON object, or a table for people.

Its type is `schema.Report` (README, "Load testing", documents it key by key); the table,
the summary line and the HTML report show the same figures. Times are in milliseconds.
rich is imported only to draw the table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import IO

from sse_cli.errors import ConnectError, HttpStatusError, NotEventStreamError, SseCliError
from sse_cli.loadtest.metrics import Metrics, curve, rate_summary, summary_ms
from sse_cli.loadtest.options import BenchOptions
from sse_cli.loadtest.schema import (
    COLUMNS,
    SCHEMA,
    Check,
    Machine,
    Publish,
    Report,
    Settings,
    Times,
    column_values,
)
from sse_cli.loadtest.timeline import series
from sse_cli.request import mask_url

#: How many of the slowest streams' rates the report lists.
SLOWEST = 20


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not every system has one
        return []


def build_report(
    options: BenchOptions, metrics: Metrics, elapsed: float, load_start: list[float] | None = None
) -> Report:
    seconds = max(elapsed, 1e-9)
    hist = metrics.total
    publish = None
    if options.publish is not None:
        publish = Publish(
            url=mask_url(options.publish),
            rate=options.publish_rate,
            sent=metrics.publishes,
            errors=dict(sorted(metrics.publish_errors.items())),
            latency_ms=summary_ms(hist["publish"]),
        )
    latency = summary_ms(hist["latency"])
    return Report(
        schema=SCHEMA,
        url=mask_url(options.request.url),
        connections=options.connections,
        workers=options.workers,
        duration_s=round(elapsed, 3),
        settings=settings(options),
        machine=Machine(
            cores=os.cpu_count() or 1, load_start=load_start or [], load_end=load_average()
        ),
        streams={
            "opened": metrics.connections,
            "max_open": metrics.max_open,
            "stopped_by_server": metrics.stopped,
        },
        connect_ms=summary_ms(hist["connect"]),
        head_ms=summary_ms(hist["head"]),
        ttfe_ms=summary_ms(hist["ttfe"]),
        gap_ms=summary_ms(hist["gap"]),
        latency_ms=latency,
        latency_note=None if latency is not None else latency_note(options, metrics),
        events={"total": metrics.events, "per_s": round(metrics.events / seconds, 1)},
        bytes={"total": metrics.bytes, "per_s": round(metrics.bytes / seconds, 1)},
        per_stream_events_per_s=rate_summary(metrics.rates),
        slowest_streams=[round(r, 3) for r in sorted(metrics.rates)[:SLOWEST]],
        errors={
            "total": sum(metrics.errors.values()),
            "by_kind": dict(sorted(metrics.errors.items())),
        },
        reconnects=metrics.reconnects,
        resume={"duplicates": metrics.duplicates, "gaps": metrics.gaps},
        publish=publish,
        hints=hints(metrics),
        thresholds=[],
        series=series(metrics.series.points, metrics.series.step),
        curves={
            name: curve(hist[name])
            for name in ("head", "ttfe", "gap", "latency")
            if hist[name].get_total_count()
        },
    )


def settings(options: BenchOptions) -> Settings:
    return Settings(
        method=options.request.method,
        ramp=options.ramp,
        duration=options.duration,
        events_per_stream=options.events_per_stream,
        publish_rate=None if options.publish is None else options.publish_rate,
        local_ips=None if options.local_ips is None else options.local_ips.shown(),
    )


def latency_note(options: BenchOptions, metrics: Metrics) -> str:
    """Why no latency was measured, and which flag would measure it."""
    if metrics.stale:
        return (
            f"every send time ({metrics.stale:,}) was older than the run's start: that is the "
            "age of a recording or of history (a replay?), not a delivery, so it is left out"
        )
    if options.latency_field is not None:
        return f"no event's data held a send time at --latency-field {options.latency_field}"
    return (
        "the events carry no send time: --latency-field PATH names one in their JSON data "
        "(a top-level t_ns, as serve's /clock and --publish send, is read without it)"
    )


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
    no_ports = metrics.errors.get("no-ports", 0)
    if no_ports:
        found.append(
            f"{no_ports:,} connections found no free local port (EADDRNOTAVAIL): each source "
            "address has the ports of ip_local_port_range per destination; add source "
            "addresses with --local-ips (e.g. 127.0.0.2-127.0.0.9 on loopback)"
        )
    if metrics.errors.get("open-files"):
        found.append("this process ran out of open files: raise the hard limit (ulimit -Hn)")
    if metrics.publish_errors.get("http-404"):
        found.append("/publish answered 404: no stream was subscribed to the topic yet")
    if metrics.stale and metrics.total["latency"].get_total_count():
        found.append(
            f"{metrics.stale:,} send times were older than the run's start (history or a "
            "replay): they are left out of latency"
        )
    return found


def nothing_opened(report: Report) -> SseCliError | None:
    """When no stream opened at all, the failure `listen` would end with: the most common
    kind of error names the exit status (3 connection, 4 and 5 HTTP, 6 not a stream)."""
    by_kind: dict[str, int] = report["errors"]["by_kind"]
    if report["streams"]["opened"] or not by_kind:
        return None
    kind, count = max(by_kind.items(), key=lambda pair: pair[1])
    total = report["errors"]["total"]
    message = f"no stream opened: {_count(total, 'error')}, {count:,} of them {kind}"
    if kind.startswith("http-") and kind[5:].isdigit():
        hint = "check the URL and the request flags; the report has the errors by kind"
        return HttpStatusError(int(kind[5:]), message, hint)
    if kind == "not-event-stream":
        return NotEventStreamError(message, "the URL does not answer with text/event-stream")
    if kind == "no-ports":
        return ConnectError(message, "out of local ports: add source addresses with --local-ips")
    return ConnectError(message, "is a server listening at that address?")


def write_json(report: Report, out: IO[bytes]) -> None:
    import orjson

    out.write(orjson.dumps(report) + b"\n")
    out.flush()


def _row(name: str, times: Times | None) -> list[str]:
    if times is None:
        return [name, *("-" for _ in COLUMNS), "0"]
    values = column_values(times)
    return [name, *(f"{value:.2f}" for value in values), f"{times['count']:,}"]


def write_table(report: Report, out: IO[str], environ: Mapping[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, highlight=False, _environ=environ)
    console.on_broken_pipe = lambda: None  # type: ignore[method-assign]
    times = Table(title=f"sse-cli bench {report['url']}", title_justify="left")
    for column in ("ms", *COLUMNS, "count"):
        times.add_column(column, justify="left" if column == "ms" else "right")
    times.add_row(*_row("connect", report["connect_ms"]))
    times.add_row(*_row("response head", report["head_ms"]))
    times.add_row(*_row("first event", report["ttfe_ms"]))
    times.add_row(*_row("gap", report["gap_ms"]))
    times.add_row(*_row("latency", report["latency_ms"]))
    if report["publish"] is not None:
        times.add_row(*_row("publish", report["publish"]["latency_ms"]))
    console.print(times)
    if report["latency_note"] is not None:
        console.print(f"latency: {report['latency_note']}", style="dim", markup=False)
    console.print(_figures(report), markup=False)
    for hint in report["hints"]:
        console.print(f"hint: {hint}", style="yellow", markup=False)
    for check in report["thresholds"]:
        mark = "ok  " if check["ok"] else "FAIL"
        console.print(f"{mark} {check['threshold']} (was {shown(check)})", markup=False)


def shown(check: Check) -> str:
    """A threshold's measured value with its unit."""
    value = check["value"]
    if value is None:
        return "not measured"
    unit = f" {check['unit']}" if check["unit"] else ""
    return f"{value:g}{unit}"


def _count(n: int, noun: str) -> str:
    """`1 error`, `3 errors`."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def summary_line(report: Report) -> str:
    """The run in one line, for stderr when the JSON goes to a file or a pipe."""
    latency = report["latency_ms"]
    failed = sum(not c["ok"] for c in report["thresholds"])
    return (
        f"sse-cli bench: {report['streams']['max_open']:,} of {report['connections']:,} streams,"
        f" {report['events']['total']:,} events ({report['events']['per_s']:,.0f}/s),"
        f" {_count(report['errors']['total'], 'error')}"
        + _no_ports(report["errors"]["by_kind"].get("no-ports", 0))
        + ("" if latency is None else f", latency p99 {latency['p99']:.1f} ms")
        + (f", {_count(failed, 'threshold')} failed" if failed else "")
        + f" in {report['duration_s']:.1f} s"
    )


def _no_ports(count: int) -> str:
    if not count:
        return ""
    return f" ({count:,} no-ports: add source addresses with --local-ips)"


def _stopped(count: int) -> str:
    if not count:
        return ""
    return f"; {count:,} told to stop by the server (HTTP 204)"


def _figures(report: Report) -> str:
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
