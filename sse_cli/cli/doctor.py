"""`sse-cli doctor`: its options, then one call that checks them and runs the watch."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from sse_cli.checks import check_choice
from sse_cli.cli.app import Command, app, checked, environment, fail, run_async
from sse_cli.cli.options import (
    CacertOption,
    ConnectTimeoutOption,
    DataOption,
    HeaderOption,
    InsecureOption,
    JsonOption,
    LastEventIdOption,
    MethodOption,
    Seconds,
    UrlArgument,
)
from sse_cli.env import Environment
from sse_cli.errors import SseCliError, UsageError

if TYPE_CHECKING:
    from sse_cli.request import RequestFlags

DOCTOR_EPILOG = """\
\b
Examples:
  sse-cli doctor https://example.com/events
  sse-cli doctor https://example.com/events --origin https://app.example.com
  sse-cli doctor :8000/clock --duration 8 -f json | jq '.checks[] | select(.verdict != "pass")'

\b
Exit statuses: 0 no check failed (warnings allowed), 9 a check failed, and
when no probe opened a stream 3 to 6 as for listen; 2 usage, 130 interrupted.
"""
FORMATS = ("pretty", "json")


def _format(value: str | None) -> str | None:
    return check_choice(value, FORMATS)


def _origin(value: str | None) -> str | None:
    from sse_cli.protocol.reconnect import CONTROL

    if value is not None and (CONTROL.search(value) or "://" not in value):
        raise UsageError(f"invalid origin {value!r}", "e.g. --origin https://app.example.com")
    return value


@app.command(cls=Command, epilog=DOCTOR_EPILOG)
def doctor(
    ctx: typer.Context,
    url: UrlArgument,
    method: MethodOption = None,
    data: DataOption = None,
    json_body: JsonOption = None,
    header: HeaderOption = None,
    last_event_id: LastEventIdOption = None,
    connect_timeout: ConnectTimeoutOption = 30.0,
    insecure: InsecureOption = False,
    cacert: CacertOption = None,
    duration: Annotated[
        float,
        typer.Option(
            "--duration",
            metavar="SECONDS",
            help="Watch the stream this many seconds (default: 20).",
            callback=Seconds,
            show_default=False,
        ),
    ] = 20.0,
    origin: Annotated[
        str | None,
        typer.Option(
            "--origin",
            metavar="ORIGIN",
            help="Send this Origin from the browser-like probe and check CORS for it.",
            callback=checked(_origin),
        ),
    ] = None,
    latency_field: Annotated[
        str | None,
        typer.Option(
            "--latency-field",
            metavar="PATH",
            help="Read each event's send time at this JMESPath of its JSON data, to time "
            "delays directly (default: a top-level t_ns).",
        ),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="Write the report as pretty or json (default: pretty on a terminal, else json).",
            callback=checked(_format),
        ),
    ] = None,
) -> None:
    """Find out why a stream does not stream, and what to change."""
    from sse_cli.request import RequestFlags

    start(
        RequestFlags(
            url=url,
            method=method,
            data=data,
            json_body=json_body,
            header=header,
            last_event_id=last_event_id,
            connect_timeout=connect_timeout,
            insecure=insecure,
            cacert=cacert,
        ),
        DoctorFlags(
            duration=duration,
            origin=origin,
            latency_field=latency_field,
            output_format=output_format,
        ),
        environment(ctx),
    )


@dataclass(frozen=True, slots=True)
class DoctorFlags:
    """The flags of `doctor` besides the request."""

    duration: float = 20.0
    origin: str | None = None
    latency_field: str | None = None
    output_format: str | None = None


def start(request: "RequestFlags", flags: DoctorFlags, env: Environment | None = None) -> None:
    """Check the flags, then watch, check and report."""
    from sse_cli.doctor.run import Output, diagnose
    from sse_cli.doctor.watch import WatchPlan
    from sse_cli.loadtest.latency import extractor
    from sse_cli.render import Messages
    from sse_cli.request import build_options

    env = env if env is not None else Environment.from_sys()
    messages = Messages(env.stderr)
    try:
        options = build_options(request, env.stdin)
        send_time = extractor(flags.latency_field)
    except SseCliError as exc:
        fail(exc, messages)
    if request.insecure:
        messages.warn("--insecure: TLS certificates are not verified")
    output_format = flags.output_format or ("pretty" if env.stdout_isatty else "json")
    output = Output(
        out=env.stdout,
        status=env.stderr,
        format=output_format,
        live=env.stderr_isatty,
        columns=env.columns(),
    )
    plan = WatchPlan(options, flags.duration, flags.origin)
    run_async(diagnose(plan, send_time, output), messages, env)


__all__ = ["DoctorFlags", "doctor", "start"]
