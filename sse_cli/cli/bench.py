"""`sse-cli bench`: its options, then one call that checks them and runs the load test."""

from pathlib import Path
from typing import Annotated

import typer

from sse_cli.cli.app import Command, app, environment, fail
from sse_cli.cli.options import (
    CacertOption,
    ConnectTimeoutOption,
    Count,
    DataOption,
    HeaderOption,
    IdleTimeoutOption,
    InsecureOption,
    JsonOption,
    LastEventIdOption,
    MaxEventSizeOption,
    MaxRetriesOption,
    MethodOption,
    ReconnectOption,
    UrlArgument,
)
from sse_cli.errors import SseCliError

BENCH_EPILOG = """\
\b
Examples:
  sse-cli bench http://127.0.0.1:8000/counter -c 100 --duration 10
  sse-cli bench http://127.0.0.1:8000/subscribe -c 1000 --ramp 500 \\
    --publish http://127.0.0.1:8000/publish --publish-rate 10
  sse-cli bench URL -c 50 --threshold 'ttfe.p99 < 500ms' --threshold 'errors == 0'
  sse-cli bench URL -c 100 --duration 30 --report run.html
  sse-cli bench http://127.0.0.1:8000/subscribe -c 60000 --local-ips 127.0.0.2-127.0.0.4

\b
Exit statuses: 2 a usage error, as listen's; 3 to 6 when not one stream opened (as listen's,
by the most common failure); 8 when a --threshold fails.
Thresholds: METRIC[.STAT] OP NUMBER[UNIT], e.g. 'gap.p99 <= 2s', 'gaps == 0'.
"""


@app.command(
    cls=Command,
    epilog=BENCH_EPILOG,
    short_help="Load-test an event stream with many real SSE clients.",
)
def bench(
    ctx: typer.Context,
    url: UrlArgument,
    connections: Annotated[
        int,
        typer.Option(
            "--connections",
            "-c",
            metavar="N",
            help="Open this many streams (default: 10).",
            show_default=False,
        ),
    ] = 10,
    ramp: Annotated[
        float | None,
        typer.Option(
            "--ramp",
            metavar="PER_SECOND",
            help="Open this many streams per second (default: all at once).",
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            metavar="SECONDS",
            help="Stop after this many seconds (default: 10, or none with --events-per-stream).",
        ),
    ] = None,
    events_per_stream: Annotated[
        int | None,
        typer.Option(
            "--events-per-stream",
            "-n",
            metavar="N",
            help="End each stream after this many events.",
            callback=Count,
        ),
    ] = None,
    method: MethodOption = None,
    data: DataOption = None,
    json_body: JsonOption = None,
    header: HeaderOption = None,
    last_event_id: LastEventIdOption = None,
    reconnect: ReconnectOption = None,
    max_retries: MaxRetriesOption = None,
    connect_timeout: ConnectTimeoutOption = 30.0,
    idle_timeout: IdleTimeoutOption = None,
    insecure: InsecureOption = False,
    cacert: CacertOption = None,
    max_event_size: MaxEventSizeOption = "16M",
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            metavar="N",
            help="Split the streams over this many processes (default: 1).",
            show_default=False,
        ),
    ] = 1,
    local_ips: Annotated[
        str | None,
        typer.Option(
            "--local-ips",
            metavar="RANGES",
            help="Connect from these local addresses, round-robin: addresses, ranges (A-B) and "
            "CIDRs (A/N), comma-separated, as k6's (default: the one the kernel picks; each "
            "holds about 28,000 ports per destination).",
        ),
    ] = None,
    publish: Annotated[
        str | None,
        typer.Option(
            "--publish",
            metavar="URL",
            help='POST {"seq": n, "t_ns": due time} to this URL at --publish-rate while '
            "streams listen (with sse-cli serve's /publish: fan-out latency).",
        ),
    ] = None,
    publish_rate: Annotated[
        float | None,
        typer.Option(
            "--publish-rate",
            metavar="PER_SECOND",
            help="Publish this many times a second (default: 1); needs --publish.",
            show_default=False,
        ),
    ] = None,
    latency_field: Annotated[
        str | None,
        typer.Option(
            "--latency-field",
            metavar="PATH",
            help="Read each event's send time at this JMESPath of its JSON data (epoch s, ms, "
            "us or ns, or RFC 3339) for end-to-end latency (default: a top-level t_ns).",
        ),
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            metavar="EXPR",
            help="Fail with exit status 8 unless this holds, e.g. 'ttfe.p99 < 500ms' (repeatable).",
        ),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="Write the report as table or json (default: table on a terminal, else json).",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            metavar="FILE",
            help="Write the report to this file too, as one offline HTML page with charts over "
            "time (needs pip install 'sse-cli[report]').",
            dir_okay=False,
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Draw no live view, no summary and no warnings on stderr."
        ),
    ] = False,
) -> None:
    """Load-test an event stream: many real SSE clients, and what they measured."""
    from sse_cli.loadtest.options import BenchSettings
    from sse_cli.loadtest.runner import start
    from sse_cli.render import Messages
    from sse_cli.request import RequestFlags

    try:
        start(
            BenchSettings(
                RequestFlags(
                    url=url,
                    method=method,
                    data=data,
                    json_body=json_body,
                    header=header,
                    last_event_id=last_event_id,
                    reconnect=reconnect,
                    max_retries=max_retries,
                    connect_timeout=connect_timeout,
                    idle_timeout=idle_timeout,
                    insecure=insecure,
                    cacert=cacert,
                    max_event_size=max_event_size,
                ),
                connections=connections,
                ramp=ramp,
                duration=duration,
                events_per_stream=events_per_stream,
                workers=workers,
                local_ips=local_ips,
                publish=publish,
                publish_rate=publish_rate,
                latency_field=latency_field,
                thresholds=threshold or (),
                output_format=output_format,
                report=report,
                quiet=quiet,
            ),
            environment(ctx),
        )
    except SseCliError as exc:
        fail(exc, Messages(environment(ctx).stderr))


__all__ = ["bench"]
