"""`sse-cli serve`: its options, then one call that checks them and runs the server."""

import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from sse_cli.cli.app import app, checked, fail
from sse_cli.cli.options import Seconds
from sse_cli.errors import SseCliError, UsageError
from sse_cli.request import check_between

if TYPE_CHECKING:
    from sse_cli.serve.tapes import Tape


def check_host(value: str) -> str:
    """An address to bind. An empty one would bind every interface, silently: `--host
    "$HOST"` with the variable unset must not open the server to the network."""
    if not value.strip():
        raise UsageError(
            "is empty, which would bind every interface: give 127.0.0.1 (this machine) "
            "or 0.0.0.0 (every interface)"
        )
    return value


def unless_none(check: Callable[[float], float]) -> Callable[[float | None], float | None]:
    """`check` for an option whose default, None, means "decided later"."""
    return lambda value: value if value is None else check(value)


SERVE_EPILOG = """\
\b
Endpoints (the banner prints each with a command to try):
  GET  /                     a message, one character per event
  POST /sse                  streams back a posted {"message": "..."}
  GET  /counter              ids 1, 2, 3 ...; ?limit=N, ?drop_after=K
  GET  /clock                a tick a second, its time as JSON; ?interval=S
  GET  /showcase             one of every wire feature
  POST /v1/chat/completions  an OpenAI-compatible mock
  GET  /v1/models            the mock's model list, as the API lists it
  GET  /subscribe            what /publish sends to ?topic=; ?history=N
  POST /publish              its body as one event on ?topic= (?event= names it)
  GET  /exec                 with --exec-per-client: a process per client
  GET  /ui                   a page that shows the streams live
  GET  /stats                JSON: generators, streams, events, subscribers

\b
A replay (--replay) also takes, per request:
  ?speed=X        X times faster (0: no waiting)
  ?drop_after=K   end the response after every K events
  ?status=CODE    answer CODE with a JSON error instead
  ?stall_after=K  stop sending after K events, without closing
  ?reconnects=1   end each response where the recorded one ended

\b
Examples:
  sse-cli serve
  sse-cli serve --port 0 --delay 0
  sse-cli serve --host 0.0.0.0 --cors-origin http://localhost:5173
  sse-cli serve --exec 'tail -n 100 -F app.log'
  tail -F app.log | sse-cli serve --stdin
  sse-cli serve --replay counter.jsonl --speed 0
  sse-cli serve --broker redis://127.0.0.1:6379/0 --workers 4
"""


@app.command(epilog=SERVE_EPILOG, help="Run the demo and mock event-stream server.")
def serve(
    host: Annotated[
        str,
        typer.Option(
            "--host",
            metavar="HOST",
            help="Bind this address (default: 127.0.0.1; 0.0.0.0 binds every interface).",
            callback=checked(check_host),
            show_default=False,
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port",
            "-p",
            metavar="PORT",
            help="Bind this port (default: 8000; 0 picks a free one).",
            callback=checked(check_between(0, 65535)),
            show_default=False,
        ),
    ] = 8000,
    delay: Annotated[
        float,
        typer.Option(
            "--delay",
            metavar="SECONDS",
            help="Pause this many seconds between events (default: 0.1; 0: no pause).",
            callback=checked(check_between(0)),
            show_default=False,
        ),
    ] = 0.1,
    ping: Annotated[
        float | None,
        typer.Option(
            "--ping",
            metavar="SECONDS",
            callback=Seconds,
            help="Send a heartbeat comment every this many seconds (default: off).",
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            metavar="ORIGIN",
            help="Let pages from this origin (scheme://host[:port]) connect, credentials "
            "included (repeatable; '*' is refused, since it would let any page read them; "
            "default: no cross-origin access).",
        ),
    ] = None,
    max_streams: Annotated[
        int,
        typer.Option(
            "--max-streams",
            metavar="N",
            help="Answer 503 past this many open streams (default: 1000).",
            callback=checked(check_between(1)),
            show_default=False,
        ),
    ] = 1000,
    rate_limit: Annotated[
        float | None,
        typer.Option(
            "--rate-limit",
            metavar="N",
            help="Answer 429 past this many requests per second from one address "
            "(default: none on loopback, 100 on any other address; 0: no limit).",
            callback=checked(unless_none(check_between(0))),
            show_default=False,
        ),
    ] = None,
    max_body: Annotated[
        str,
        typer.Option(
            "--max-body",
            metavar="SIZE",
            help="Answer 413 to request bodies over this size (default: 1M).",
            show_default=False,
        ),
    ] = "1M",
    queue_size: Annotated[
        int,
        typer.Option(
            "--queue-size",
            metavar="N",
            help="Drop a /subscribe client that falls this many events behind (default: 1000).",
            callback=checked(check_between(1)),
            show_default=False,
        ),
    ] = 1000,
    history: Annotated[
        int,
        typer.Option(
            "--history",
            metavar="N",
            help="Keep each topic's last N events for resuming (default: 1000; 0: none).",
            callback=checked(check_between(0, 1_000_000)),
            show_default=False,
        ),
    ] = 1000,
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            metavar="URL",
            help="Keep topics in Redis (redis://HOST:PORT/DB), shared by every serve "
            "process using it (default: in this process; needs sse-cli[redis]).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            metavar="N",
            help="Serve the port from N processes (default: 1; more needs --broker).",
            callback=checked(check_between(1, 256)),
            show_default=False,
        ),
    ] = 1,
    replay: Annotated[
        list[str] | None,
        typer.Option(
            "--replay",
            metavar="PATH",
            help="Serve this recording (listen --record), .sse file or listen -f json "
            "--timestamps file, or a folder of them, at its recorded method and path "
            "(repeatable).",
            show_default=False,
        ),
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            "--speed",
            metavar="FACTOR",
            callback=checked(unless_none(check_between(0, 1e6))),
            help="Replay recorded gaps this many times faster (default: 1; 0: no waiting); "
            "needs --replay.",
            show_default=False,
        ),
    ] = None,
    exec_: Annotated[
        str | None,
        typer.Option(
            "--exec",
            metavar="CMD",
            help="Run CMD once (split as a shell would, run without one) and publish each "
            "line it writes on topic exec, for /subscribe (default: off).",
            show_default=False,
        ),
    ] = None,
    exec_topic: Annotated[
        str | None,
        typer.Option(
            "--exec-topic",
            metavar="NAME",
            help="Publish --exec's or --stdin's lines on this topic (default: exec or stdin).",
            show_default=False,
        ),
    ] = None,
    exec_restart: Annotated[
        bool,
        typer.Option(
            "--exec-restart", help="Run the --exec command again when it ends, after a backoff."
        ),
    ] = False,
    stdin: Annotated[
        bool,
        typer.Option("--stdin", help="Publish each line of standard input on topic stdin."),
    ] = False,
    lines: Annotated[
        str | None,
        typer.Option(
            "--lines",
            metavar="FORMAT",
            help="Read relayed lines as text, or as json events as listen -f json writes "
            "them (default: text).",
            show_default=False,
        ),
    ] = None,
    flush_after: Annotated[
        float | None,
        typer.Option(
            "--flush-after",
            metavar="SECONDS",
            help="Send a relayed line that has waited this long without its end as it "
            "stands (default: 0.2).",
            callback=checked(unless_none(check_between(0.001, 3600))),
            show_default=False,
        ),
    ] = None,
    exec_per_client: Annotated[
        str | None,
        typer.Option(
            "--exec-per-client",
            metavar="CMD",
            help="Serve GET /exec: run CMD for each client, its lines as that client's "
            "stream (default: off).",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print a short banner and no request log on stderr."),
    ] = False,
) -> None:
    start(
        host,
        port,
        delay,
        ping,
        tuple(cors_origin or ()),
        max_streams,
        rate_limit,
        max_body,
        queue_size,
        quiet,
        replay=(tuple(replay or ()), speed),
        scaling=(history, broker, workers),
        relay=(exec_, stdin, exec_topic, exec_restart, lines, flush_after, exec_per_client),
    )


def start(
    host: str,
    port: int,
    delay: float,
    ping: float | None,
    cors_origins: tuple[str, ...],
    max_streams: int,
    rate_limit: float | None,
    max_body: str,
    queue_size: int,
    quiet: bool,
    replay: tuple[tuple[str, ...], float | None] = ((), None),
    scaling: tuple[int, str | None, int] = (1000, None, 1),
    relay: tuple[str | None, bool, str | None, bool, str | None, float | None, str | None]
    | None = None,
) -> None:
    """Check the settings, then serve until Ctrl-C. `scaling`: --history, --broker and
    --workers; `relay`: --exec, --stdin, --exec-topic, --exec-restart, --lines, --flush-after
    and --exec-per-client."""
    from sse_cli import process
    from sse_cli.request import parse_size

    try:
        origins = tuple(parse_cors_origin(origin) for origin in cors_origins)
        body_limit = parse_size(max_body, "--max-body")
        from sse_cli.serve import ServeSettings, run_server
        from sse_cli.serve.relay_settings import relay_settings

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
            history=scaling[0],
            broker=scaling[1],
            workers=scaling[2],
            access_log=not quiet,
            quiet=quiet,
            replays=load_replays(*replay),
            speed=1.0 if replay[1] is None else replay[1],
            relay=relay_settings(*relay, workers=scaling[2]) if relay is not None else None,
        )
        process.settled()
        run_server(settings)
    except SseCliError as exc:
        fail(exc)


def load_replays(paths: tuple[str, ...], speed: float | None = None) -> tuple["Tape", ...]:
    """Every --replay PATH read and checked: a bad one stops `serve` before it binds. A
    --speed without --replay, which it would shape, is refused, not ignored."""
    if not paths:
        if speed is not None:
            raise UsageError("--speed needs --replay", "add --replay FILE")
        return ()
    from sse_cli.serve.tapes import load_tapes

    def warn(message: str) -> None:
        sys.stderr.write(f"sse-cli: warning: {message}\n")

    return tuple(load_tapes(paths, warn))


def parse_cors_origin(origin: str) -> str:
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
