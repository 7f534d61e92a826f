"""`sse-cli listen`: its options, then one call that checks them and runs the session."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from sse_cli.checks import check_seconds
from sse_cli.cli.app import Command, app, environment, fail, run_async
from sse_cli.cli.options import (
    CacertOption,
    ConnectTimeoutOption,
    Count,
    DataOption,
    FormatOption,
    HeaderOption,
    IdleTimeoutOption,
    InsecureOption,
    JsonOption,
    LastEventIdOption,
    MaxEventSizeOption,
    MaxRetriesOption,
    MethodOption,
    ReconnectOption,
    Seconds,
    UrlArgument,
)
from sse_cli.env import Environment
from sse_cli.errors import ExitCode, SseCliError, UsageError

if TYPE_CHECKING:
    from sse_cli.recording.writer import Recorder
    from sse_cli.render import Messages, Renderer, RenderOptions
    from sse_cli.request import ListenOptions, RequestFlags
    from sse_cli.session import Limits

LISTEN_EPILOG = """\
\b
Examples:
  sse-cli listen http://127.0.0.1:8000/ -n 5
  sse-cli listen http://127.0.0.1:8000/counter | jq .data
  sse-cli listen http://127.0.0.1:8000/ -f data --until 糕
  sse-cli listen http://127.0.0.1:8000/sse --json '{"message": "hello"}'
  echo '{"message": "hi"}' | sse-cli listen http://127.0.0.1:8000/sse --json @-
  sse-cli listen https://api.openai.com/v1/chat/completions -f text \\
    -H "Authorization: Bearer $OPENAI_API_KEY" \\
    --json '{"model": "gpt-4o-mini", "stream": true,
             "messages": [{"role": "user", "content": "Hi"}]}'

\b
Exit statuses: 0 ok, 1 unexpected error, 2 usage, 3 connection or timeout,
4 HTTP 4xx, 5 HTTP 5xx, 6 not an event stream (a 2xx other than 200 and 204,
or another Content-Type), 7 over --max-event-size or, under --strict, a
wire-format warning, 130 interrupted.
"""


@app.command(cls=Command, epilog=LISTEN_EPILOG)
def listen(
    ctx: typer.Context,
    url: UrlArgument,
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
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event", "-e", metavar="TYPE", help="Keep only events of this type (repeatable)."
        ),
    ] = None,
    max_events: Annotated[
        int | None,
        typer.Option(
            "--max-events", "-n", metavar="N", help="Stop after this many events.", callback=Count
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="TEXT",
            help="Stop after the first event whose data equals this text.",
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration", metavar="SECONDS", help="Stop after this many seconds.", callback=Seconds
        ),
    ] = None,
    output_format: FormatOption = None,
    timestamps: Annotated[
        bool,
        typer.Option("--timestamps", help='Add each event\'s arrival time ("ts") to JSON.'),
    ] = False,
    comments: Annotated[
        bool, typer.Option("--comments", help="Show comment lines (heartbeats) in pretty output.")
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Show long data in full in pretty output.")
    ] = False,
    color: Annotated[
        bool | None,
        typer.Option(
            "--color/--no-color",
            help="Force colour on or off (default: on a terminal, unless NO_COLOR is set).",
            show_default=False,
        ),
    ] = None,
    extract: Annotated[
        str | None,
        typer.Option(
            "--extract",
            "-x",
            metavar="PATH",
            help="Replace each event's data with this JMESPath of its JSON data, e.g. "
            "'choices[0].delta.content' (events it finds nothing in are skipped).",
        ),
    ] = None,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="Print request and response headers on stderr; secrets are masked unless "
            "given twice (-vv).",
            show_default=False,
        ),
    ] = 0,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Exit with status 7 at the first wire-format warning."),
    ] = False,
    stats: Annotated[
        bool, typer.Option("--stats", help="Print a summary of the stream on stderr at the end.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print no status lines on stderr.")
    ] = False,
    record: Annotated[
        str | None,
        typer.Option(
            "--record",
            metavar="FILE",
            help="Also write everything the server sends to this recording (JSON lines, "
            "secrets removed) for 'sse-cli serve --replay'.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Let --record overwrite an existing file.")
    ] = False,
) -> None:
    """Listen to an event stream and print its events as they arrive."""
    from sse_cli.request import RequestFlags

    settings = ListenSettings(
        request=RequestFlags(
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
        output=OutputFlags(
            event=event,
            max_events=max_events,
            until=until,
            duration=duration,
            output_format=output_format,
            timestamps=timestamps,
            comments=comments,
            full=full,
            color=color,
            extract=extract,
            verbose=verbose,
            strict=strict,
            stats=stats,
            quiet=quiet,
            record=record,
            force=force,
        ),
    )
    start(settings, environment(ctx))


@dataclass(frozen=True, slots=True)
class OutputFlags:
    """What to keep, when to stop and how to write it: `listen`'s flags besides the request."""

    event: list[str] | None = None
    max_events: int | None = None
    until: str | None = None
    duration: float | None = None
    output_format: str | None = None
    timestamps: bool = False
    comments: bool = False
    full: bool = False
    color: bool | None = None
    extract: str | None = None
    verbose: int = 0
    strict: bool = False
    stats: bool = False
    quiet: bool = False
    record: str | None = None
    force: bool = False


@dataclass(frozen=True, slots=True)
class ListenSettings:
    """Every flag of `listen`, typed: the request's and the output's. `check` turns them
    into what the client, the session and the renderer take, or raises `UsageError`."""

    request: "RequestFlags"
    output: OutputFlags

    def check(
        self, env: Environment, messages: "Messages"
    ) -> tuple["ListenOptions", "Limits", "RenderOptions"]:
        """Check every flag: the request's first (`-d @-` and `--json @-` read `env`'s
        stdin), then, once --insecure is warned about, the output's (the default format and
        the status line follow `env`'s terminals)."""
        from sse_cli.request import build_options

        options = build_options(self.request, env.stdin)
        if self.request.insecure:
            messages.warn("--insecure: TLS certificates are not verified")
        return plan(options, self.output, env)


def start(settings: ListenSettings, env: Environment) -> None:
    """Check the flags, then listen until the stream ends or a limit stops it."""
    from sse_cli.render import Messages

    output = settings.output
    messages = Messages(env.stderr, quiet=output.quiet)
    try:
        options, limits, render_options = settings.check(env, messages)
    except SseCliError as exc:
        fail(exc, messages)
    if output.max_events == 0:
        messages.note("stopped: -n 0 asks for no events, so none was requested")
        raise typer.Exit(ExitCode.OK)
    recorder = None
    if output.record is not None:
        from sse_cli.recording.writer import Recorder

        try:
            recorder = Recorder.create(
                output.record,
                output.force,
                options.method,
                options.url,
                options.headers,
                options.body,
                options.max_event_size,
            )
        except SseCliError as exc:
            fail(exc, messages)
    run_async(
        session(options, limits, render_options, messages, output.stats, recorder, env),
        messages,
        env,
    )


def plan(
    options: "ListenOptions", output: OutputFlags, env: Environment
) -> tuple["ListenOptions", "Limits", "RenderOptions"]:
    """The output flags checked: the client's options as output needs them, the session's
    limits and the renderer's options."""
    from sse_cli.render import RenderOptions
    from sse_cli.request import pass_through, stop_data
    from sse_cli.session import Limits

    if output.force and output.record is None:
        raise UsageError("--force needs --record", "add --record FILE")
    output_format = output.output_format or ("pretty" if env.stdout_isatty else "json")
    extractor = None
    if output.extract is not None:
        from sse_cli.extract import path_extractor

        extractor = path_extractor(output.extract)
    limits = Limits(
        event_types=frozenset(output.event) if output.event else None,
        max_events=output.max_events,
        until=stop_data(output_format, output.until),
        duration=check_seconds(output.duration),
        extractor=extractor if output_format in ("json", "data") else None,
    )
    inspected = limits.active or output.strict or output.stats or bool(output.verbose)
    render_options = RenderOptions(
        format=output_format,
        timestamps=output.timestamps,
        quiet=output.quiet,
        comments=output.comments,
        full=output.full,
        color=output.color,
        verbose=output.verbose,
        strict=output.strict,
        extractor=extractor,
        status=not output.quiet and env.stderr_isatty,
    )
    return pass_through(options, output_format, inspected), limits, render_options


async def session(
    options: "ListenOptions",
    limits: "Limits",
    render_options: "RenderOptions",
    messages: "Messages",
    report_stats: bool,
    recorder: "Recorder | None" = None,
    env: Environment | None = None,
) -> None:
    """The client's actions through the session's limits into a renderer writing to `env`'s
    stdout (the process's by default)."""
    import aiohttp  # noqa: F401 - the whole stack loads before the collector comes back

    from sse_cli import process
    from sse_cli.client import listen as client_listen
    from sse_cli.session import run

    renderer = _renderer(render_options, messages, env or Environment.from_sys())
    process.settled()
    try:
        source = client_listen(options)
        if recorder is not None:
            from sse_cli.recording.writer import recorded

            source = recorded(source, recorder)
        await run(source, limits, renderer)
    finally:
        if report_stats:
            messages.raw("sse-cli: stats\n" + "\n".join("  " + s for s in renderer.stats.summary()))


def _renderer(options: "RenderOptions", messages: "Messages", env: Environment) -> "Renderer":
    """The sink for `options.format`, writing to the run's stdout."""
    from sse_cli.stats import Stats

    if options.format == "pretty":
        from sse_cli.pretty import PrettyRenderer

        return PrettyRenderer(options, messages, env.stdout, Stats(), env)
    from sse_cli.render import MACHINE_RENDERERS

    return MACHINE_RENDERERS[options.format](options, messages, env.stdout, Stats())


__all__ = ["ListenSettings", "OutputFlags", "listen", "plan", "start"]
