"""The `sse-cli` command line: Typer wiring only.

Options are parsed and cheaply validated here into one options object per command, then one
call runs it. Expected failures (`SseCliError`, a closed pipe, Ctrl-C) become one line on
stderr and a documented exit status. aiohttp, fastapi and uvicorn are imported only inside
the command that needs them, so `--help`, `--version` and shell completion start fast.
"""

# No `from __future__ import annotations` here: Typer reads every parameter's annotation at
# each start, and evaluating ~200 annotation strings costs more than building them once.
import dataclasses
import os
import re
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from sse_cli import __version__
from sse_cli.errors import ExitCode, SseCliError, UsageError

if TYPE_CHECKING:
    from sse_cli.client import ListenOptions
    from sse_cli.render import Messages, RenderOptions
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
4 HTTP 4xx, 5 HTTP 5xx, 6 not an event stream, 7 over --max-event-size,
130 interrupted.
"""

SERVE_EPILOG = """\
\b
Examples:
  sse-cli serve
  sse-cli serve --port 0 --delay 0
  sse-cli serve --host 0.0.0.0 --cors-origin http://localhost:5173
"""

ROOT_EPILOG = """\
\b
Examples:
  sse-cli demo
  sse-cli serve
  sse-cli listen http://127.0.0.1:8000/ -n 10
  sse-cli listen http://127.0.0.1:8000/counter | jq -c .
  sse-cli listen http://127.0.0.1:8000/sse --json '{"message": "hello"}' -f text
  sse-cli listen URL -H "Authorization: Bearer $TOKEN" -f text
"""

DEMO_EPILOG = """\
\b
Examples:
  sse-cli demo
  sse-cli demo -f json | jq -r .data
"""

app = typer.Typer(
    name="sse-cli",
    help="Listen to and serve Server-Sent Events (text/event-stream).",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=ROOT_EPILOG,
)

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
#: What no HTTP header (aiohttp refuses them) and no URL may hold; a tab is allowed.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sse-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
    traceback: Annotated[
        bool,
        typer.Option(
            "--traceback",
            help="Show the Python stack on an unexpected error (also SSE_CLI_TRACEBACK=1).",
        ),
    ] = False,
) -> None:
    """Listen to and serve Server-Sent Events (text/event-stream)."""
    if traceback:
        os.environ["SSE_CLI_TRACEBACK"] = "1"


def _read_argument(value: str, flag: str) -> bytes:
    """A body argument: literal text, `@file`, or `@-` for standard input."""
    if not value.startswith("@"):
        return value.encode()
    name = value[1:]
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(
            f"cannot read {flag} file {name!r}: {exc.strerror or exc}",
            "give an existing file after @, or @- for standard input",
        ) from None


def _parse_header(raw: str) -> tuple[str, str]:
    name, sep, value = raw.partition(":")
    name = name.strip()
    if not sep or not _HEADER_NAME.match(name):
        shown = repr(raw)
        first = raw.replace(":", " ").split(maxsplit=1)
        if first and first[0].lower() in _SECRET_HEADERS:
            shown = f"'{first[0]} …'"  # a secret written without its colon is never echoed
        raise UsageError(
            f"malformed header {shown}", "write -H 'Name: value' (an empty value removes it)"
        )
    value = value.strip()
    if "\r" in value or "\n" in value:
        raise UsageError(f"header {name} holds a line break", "give one line per -H")
    if _CONTROL.search(value):
        raise UsageError(
            f"header {name} holds a control character", "give printable text (tabs are fine)"
        )
    return name, value


def _masked(url: str) -> str:
    """The URL with any password replaced by ***, however malformed the rest is."""
    start = url.find("//")
    start = 0 if start < 0 else start + 2
    end = min([i for i in (url.find(c, start) for c in "/?#") if i >= 0], default=len(url))
    at = url.rfind("@", start, end)
    colon = url.find(":", start, at) if at >= 0 else -1
    return url if colon < 0 else url[: colon + 1] + "***" + url[at:]


def _parse_url(url: str) -> str:
    from urllib.parse import urlsplit

    shown = repr(_masked(url))
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        if "port" in str(exc).lower():
            raise UsageError(
                f"URL {shown} has an invalid port", "use a port from 1 to 65535"
            ) from None
        raise UsageError(f"URL {shown} is malformed: {exc}", "e.g. http://[::1]:8000/") from None
    if not parts.scheme:
        raise UsageError(
            f"URL {shown} has no scheme",
            f"write it in full, e.g. http://{_masked(url).lstrip('/')}",
        )
    if parts.scheme.lower() not in ("http", "https"):
        raise UsageError(
            f"unsupported URL scheme {parts.scheme + ':'!r} in {shown}", "use http:// or https://"
        )
    if not parts.hostname:
        raise UsageError(f"URL {shown} has no host", "e.g. http://127.0.0.1:8000/")
    if _CONTROL.search(url) or any(c.isspace() for c in parts.netloc):
        raise UsageError(
            f"URL {shown} holds a space or control character",
            "write spaces as %20, and none in the host",
        )
    return url


def _parse_size(value: str) -> int:
    match = _SIZE.match(value)
    if not match or int(match.group(1)) <= 0:
        raise typer.BadParameter(f"{value!r} is not a size; give bytes, or e.g. 512K, 16M, 1G")
    unit = (match.group(2) or "").lower()[:1]
    return int(match.group(1)) * _SIZE_UNITS[unit]


def _positive(value: float | None) -> float | None:
    # `not value > 0` also refuses nan; inf is refused too (leave the flag out for "never").
    if value is not None and (not value > 0 or value == float("inf")):
        raise typer.BadParameter(f"must be a number of seconds more than 0, not {value:g}")
    return value


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _non_negative_int(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise typer.BadParameter(f"must be 0 or more, not {value}")
    return value


def _format_choice(value: str | None) -> str | None:
    from sse_cli.render import FORMATS

    if value is not None and value not in FORMATS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(FORMATS)}")
    return value


FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        help="Write events as pretty, json, data, raw or text (default: pretty on a "
        "terminal, json otherwise).",
        callback=_format_choice,
    ),
]


@app.command(epilog=LISTEN_EPILOG)
def listen(
    url: Annotated[
        str, typer.Argument(help="The event stream's URL (http:// or https://).", metavar="URL")
    ],
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            "-X",
            metavar="METHOD",
            help="Send this HTTP method (default: GET, or POST with a body).",
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            "-d",
            metavar="BODY",
            help="Send this body (@file reads a file, @- standard input); implies POST. "
            "Content-Type defaults to application/x-www-form-urlencoded, as in curl.",
        ),
    ] = None,
    json_body: Annotated[
        str | None,
        typer.Option(
            "--json",
            metavar="JSON",
            help="Send this JSON body (@file, @-) with Content-Type: application/json; "
            "implies POST. Checked before connecting.",
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            "-H",
            metavar="'NAME: VALUE'",
            help="Add a header 'Name: value' (repeatable; 'Name:' removes a default one).",
        ),
    ] = None,
    last_event_id: Annotated[
        str | None,
        typer.Option(
            "--last-event-id", metavar="ID", help="Send this Last-Event-ID on the first request."
        ),
    ] = None,
    reconnect: Annotated[
        bool | None,
        typer.Option(
            "--reconnect/--no-reconnect",
            help="Force reconnecting on or off (default: on for GET; for POST and other "
            "methods only once the server has sent an event id).",
            show_default=False,
        ),
    ] = None,
    max_retries: Annotated[
        int | None,
        typer.Option(
            "--max-retries",
            metavar="N",
            help="Give up after this many consecutive failed attempts (default: no bound).",
            callback=_non_negative_int,
        ),
    ] = None,
    connect_timeout: Annotated[
        float,
        typer.Option(
            "--connect-timeout",
            metavar="SECONDS",
            help="Fail a connection attempt after this many seconds.",
            callback=_positive,
        ),
    ] = 30.0,
    idle_timeout: Annotated[
        float | None,
        typer.Option(
            "--idle-timeout",
            metavar="SECONDS",
            help="Count the connection as dropped after this many seconds without any byte "
            "(default: never).",
            callback=_positive,
        ),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", "-k", help="Skip TLS certificate verification (unsafe)."),
    ] = False,
    cacert: Annotated[
        Path | None,
        typer.Option(
            "--cacert", metavar="FILE", help="Verify TLS with the CA certificates in this PEM file."
        ),
    ] = None,
    max_event_size: Annotated[
        str,
        typer.Option(
            "--max-event-size",
            metavar="SIZE",
            help="Fail when one line or event grows past this size (e.g. 512K, 64M).",
        ),
    ] = "16M",
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event", "-e", metavar="TYPE", help="Keep only events of this type (repeatable)."
        ),
    ] = None,
    max_events: Annotated[
        int | None,
        typer.Option(
            "--max-events",
            "-n",
            metavar="N",
            help="Stop after this many events.",
            callback=_non_negative_int,
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
            "--duration",
            metavar="SECONDS",
            help="Stop after this many seconds.",
            callback=_positive,
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
) -> None:
    """Listen to an event stream and print its events as they arrive."""
    from sse_cli.client import ListenOptions
    from sse_cli.render import Messages, RenderOptions
    from sse_cli.session import Limits

    messages = Messages(quiet=quiet)
    try:
        url = _parse_url(url)
        if data is not None and json_body is not None:
            raise UsageError("-d/--data and --json both give a body", "give only one of them")
        headers = [_parse_header(h) for h in header or []]
        # -H 'Last-Event-ID: X' seeds the id like --last-event-id: a reconnect must carry
        # the newest id the server sent, not the one typed at the start.
        for name, value in headers:
            if name.lower() == "last-event-id" and last_event_id is None:
                last_event_id = value
        headers = [(n, v) for n, v in headers if n.lower() != "last-event-id"]
        if last_event_id is not None and _CONTROL.search(last_event_id):
            raise UsageError(
                "--last-event-id holds a line break or control character",
                "give the id as one line of text",
            )
        names = {name.lower() for name, _ in headers}
        body: bytes | None = None
        if json_body is not None:
            body = _read_argument(json_body, "--json")
            import json

            try:
                # NaN and Infinity are Python's extensions, not JSON: servers refuse them.
                json.loads(body, parse_constant=_not_json)
            except ValueError as exc:
                raise UsageError(
                    f"--json is not valid JSON: {exc}", "check quotes and commas"
                ) from None
            if "content-type" not in names:
                headers.append(("Content-Type", "application/json"))
        elif data is not None:
            body = _read_argument(data, "--data")
            if "content-type" not in names:
                headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        verb = (method or ("POST" if body is not None else "GET")).upper()
        if not _HEADER_NAME.match(verb):
            raise UsageError(f"invalid method {method!r}", "e.g. -X POST")
        try:
            size = _parse_size(max_event_size)
        except typer.BadParameter as exc:
            raise UsageError(f"--max-event-size: {exc.message}") from None
        if cacert is not None and not cacert.is_file():
            raise UsageError(f"--cacert file {str(cacert)!r} not found", "give a PEM file")
        if insecure:
            messages.warn("--insecure: TLS certificates are not verified")
        options = ListenOptions(
            url=url,
            method=verb,
            headers=tuple(headers),
            body=body,
            last_event_id=last_event_id or "",
            reconnect=reconnect,
            connect_timeout=connect_timeout,
            idle_timeout=idle_timeout,
            insecure=insecure,
            cacert=str(cacert) if cacert else None,
            max_retries=max_retries,
            max_event_size=size,
        )
        output_format = output_format or ("pretty" if sys.stdout.isatty() else "json")
        extractor = None
        if extract is not None:
            from sse_cli.extract import path_extractor

            extractor = path_extractor(extract)
        if output_format == "text" and until is None:
            from sse_cli.extract import DONE

            until = DONE
        limits = Limits(
            event_types=frozenset(event) if event else None,
            max_events=max_events,
            until=until,
            duration=duration,
            extractor=extractor if output_format in ("json", "data") else None,
        )
        if output_format == "raw" and not (limits.active or strict or stats or verbose):
            options = dataclasses.replace(options, parse=False)  # bytes in, bytes out
        render_options = RenderOptions(
            format=output_format,
            timestamps=timestamps,
            quiet=quiet,
            comments=comments,
            full=full,
            color=color,
            verbose=verbose,
            strict=strict,
            extractor=extractor,
        )
    except SseCliError as exc:
        _fail(exc, messages)
    if max_events == 0:
        raise typer.Exit(ExitCode.OK)
    _run(_listen(options, limits, render_options, messages, stats), messages)


async def _listen(
    options: "ListenOptions",
    limits: "Limits",
    render_options: "RenderOptions",
    messages: "Messages",
    report_stats: bool,
) -> None:
    import aiohttp  # noqa: F401 - the whole stack loads before the collector comes back

    from sse_cli import process
    from sse_cli.client import listen as client_listen
    from sse_cli.render import make_renderer
    from sse_cli.session import run

    renderer = make_renderer(render_options, messages)
    process.settled()
    try:
        await run(client_listen(options), limits, renderer)
    finally:
        if report_stats:
            messages.raw("sse-cli: stats\n" + "\n".join("  " + s for s in renderer.stats.summary()))


@app.command(epilog=DEMO_EPILOG)
def demo(
    output_format: FormatOption = None,
) -> None:
    """Start the demo server on a free loopback port and listen to it: see sse-cli at work."""
    from sse_cli.client import ListenOptions
    from sse_cli.demo import running_server
    from sse_cli.render import Messages, RenderOptions
    from sse_cli.session import Limits

    messages = Messages()
    fmt = output_format or ("pretty" if sys.stdout.isatty() else "json")
    try:
        with running_server() as base:
            url = f"{base}/"
            messages.note(f"demo server up; running: sse-cli listen {url} --no-reconnect")
            options = ListenOptions(url=url, reconnect=False)
            _run(_listen(options, Limits(), RenderOptions(format=fmt), messages, False), messages)
            messages.note(
                "next: run 'sse-cli serve' and, in another terminal, "
                "'sse-cli listen http://127.0.0.1:8000/counter'"
            )
    except SseCliError as exc:
        _fail(exc, messages)


@app.command(epilog=SERVE_EPILOG)
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Bind this address (0.0.0.0 binds every interface).")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option("--port", "-p", min=0, max=65535, help="Bind this port (0 picks a free one)."),
    ] = 8000,
    delay: Annotated[
        float,
        typer.Option(
            "--delay", min=0, help="Pause this many seconds between events (0: no pause)."
        ),
    ] = 0.1,
    ping: Annotated[
        float | None,
        typer.Option(
            "--ping",
            callback=_positive,
            help="Send a heartbeat comment every this many seconds (default: off).",
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            help="Let pages from this origin (scheme://host[:port]) connect, credentials "
            "included (repeatable; default: no cross-origin access).",
        ),
    ] = None,
    max_streams: Annotated[
        int,
        typer.Option(
            "--max-streams", min=1, help="Answer 503 past this many open streams (default 1000)."
        ),
    ] = 1000,
    rate_limit: Annotated[
        float,
        typer.Option(
            "--rate-limit",
            min=0,
            help="Answer 429 past this many requests per second from one address "
            "(default 100; 0: no limit).",
        ),
    ] = 100.0,
    max_body: Annotated[
        str,
        typer.Option(
            "--max-body", help="Answer 413 to request bodies over this size (default 1M)."
        ),
    ] = "1M",
    queue_size: Annotated[
        int,
        typer.Option(
            "--queue-size",
            min=1,
            help="Drop a /subscribe client that falls this many events behind (default 1000).",
        ),
    ] = 1000,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Do not log each request on stderr.")
    ] = False,
) -> None:
    """Run the demo and mock event-stream server."""
    from sse_cli.render import Messages

    messages = Messages()
    try:
        origins = tuple(_cors_origin(origin) for origin in cors_origin or ())
        try:
            body_limit = _parse_size(max_body)
        except typer.BadParameter as exc:
            raise UsageError(f"--max-body: {exc.message}") from None
        from sse_cli.serve import ServeSettings, run_server

        settings = ServeSettings(
            host=host,
            port=port,
            delay=delay,
            ping=ping,
            cors_origins=origins,
            max_streams=max_streams,
            rate_limit=rate_limit,
            max_body=body_limit,
            queue_size=queue_size,
            access_log=not quiet,
        )
        from sse_cli import process

        process.settled()
        run_server(settings)
    except SseCliError as exc:
        _fail(exc, messages)


def _cors_origin(origin: str) -> str:
    """An origin as browsers send it; `*` is refused, since credentials are allowed."""
    if origin.strip() == "*":
        raise UsageError(
            "--cors-origin '*' is refused: streams allow credentials, and '*' with credentials "
            "would let any page read them",
            "name each origin, e.g. --cors-origin http://localhost:5173",
        )
    if not re.fullmatch(r"https?://[^/\s?#]+", origin):
        raise UsageError(
            f"--cors-origin {origin!r} is not an origin",
            "write scheme://host[:port] with no path, e.g. http://localhost:5173",
        )
    return origin


def _fail(exc: SseCliError, messages: Any) -> NoReturn:
    messages.error(str(exc))
    raise typer.Exit(exc.exit_code)


def _run(main: Coroutine[Any, Any, None], messages: Any) -> None:
    """Run `main` on a new event loop; map every expected ending to its exit status.

    Ctrl-C cancels the main task (on 3.10 as on 3.11+), so output ends on a whole line.
    """
    import asyncio
    import signal

    loop = asyncio.new_event_loop()
    task = loop.create_task(main)
    interrupted = False

    def on_interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
        pass
    code = ExitCode.OK
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        code = ExitCode.INTERRUPTED if interrupted else ExitCode.ERROR
        if interrupted:
            messages.note("interrupted")
    except SseCliError as exc:
        messages.error(str(exc))
        code = exc.exit_code
    except BrokenPipeError:
        _silence_stdout()
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
    if code:
        raise typer.Exit(code)


def _silence_stdout() -> None:
    """The reader of stdout went away: point stdout at devnull so shutdown does not fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: list[str] | None = None) -> NoReturn:
    """The console script: run the CLI and exit with its status."""
    sys.exit(run_cli(argv))


def run_cli(argv: list[str] | None = None) -> int:
    from typer._click.exceptions import ClickException

    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="sse-cli", standalone_mode=False)
    except ClickException as exc:
        _stderr_line(f"sse-cli: error: {_usage_message(exc)}")
        return ExitCode.USAGE
    except typer.Abort:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return ExitCode.OK
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception as exc:
        if os.environ.get("SSE_CLI_TRACEBACK"):
            raise
        _stderr_line(
            f"sse-cli: error: unexpected {type(exc).__name__}: {exc} "
            "(this is a bug: rerun with --traceback and report it)"
        )
        return ExitCode.ERROR
    return result if isinstance(result, int) else ExitCode.OK


def _stderr_line(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _usage_message(exc: Any) -> str:
    """Click's usage error as one line, with where to look for help."""
    message = " ".join(str(exc.format_message()).split())
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "sse-cli"
    return f"{message} (see '{where} --help')"
