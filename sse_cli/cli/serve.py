"""`sse-cli serve`: its options, then one call that checks them and runs the server.

The flags become one `ServeFlags` (`sse_cli.serve.flags`, beside the server's settings and
their checks), imported when `serve` runs: the server's package loads FastAPI.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from sse_cli.checks import check_between
from sse_cli.cli.app import Command, app, checked, environment, fail
from sse_cli.cli.options import JwtAudienceOption, JwtIssuerOption, JwtKeyOption
from sse_cli.env import Environment
from sse_cli.errors import SseCliError

if TYPE_CHECKING:
    from sse_cli.serve.flags import ServeFlags


def unless_none(check: Callable[[float], float]) -> Callable[[float | None], float | None]:
    """`check` for an option whose default, None, means "decided later"."""
    return lambda value: value if value is None else check(value)


def _host(ctx: typer.Context, value: str) -> str:
    """--host checked as it is parsed (`serve.flags.check_host`); not while completing a
    command line, where loading the server's package would slow each TAB press."""
    if ctx.resilient_parsing:
        return value
    from sse_cli.serve.flags import check_host

    return checked(check_host)(value)


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
  GET  /.well-known/mercure  a Mercure hub; POST publishes a form (see --jwt-key)
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


@app.command(cls=Command, epilog=SERVE_EPILOG, help="Run the demo and mock event-stream server.")
def serve(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            metavar="HOST",
            help="Bind this address (default: 127.0.0.1; 0.0.0.0 binds every interface).",
            callback=_host,
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
        float,
        typer.Option(
            "--ping",
            metavar="SECONDS",
            callback=checked(check_between(0)),
            help="Send a heartbeat comment every this many seconds, so that proxies' idle "
            "timeouts do not cut a quiet stream (default: 15; 0: none).",
            show_default=False,
        ),
    ] = 15.0,
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
            help="Answer 503 past this many open streams, or past what each process's "
            "open-files limit leaves room for (raised to its hard limit at start) "
            "(default: 1000).",
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
    jwt_key: JwtKeyOption = None,
    jwt_issuer: JwtIssuerOption = None,
    jwt_audience: JwtAudienceOption = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print a short banner and no request log on stderr."),
    ] = False,
) -> None:
    from sse_cli.serve.flags import ServeFlags

    flags = ServeFlags(
        host=host,
        port=port,
        delay=delay,
        ping=ping,
        cors_origin=cors_origin or (),
        max_streams=max_streams,
        rate_limit=rate_limit,
        max_body=max_body,
        queue_size=queue_size,
        history=history,
        broker=broker,
        workers=workers,
        replay=replay or (),
        speed=speed,
        exec_=exec_,
        exec_topic=exec_topic,
        exec_restart=exec_restart,
        stdin=stdin,
        lines=lines,
        flush_after=flush_after,
        exec_per_client=exec_per_client,
        quiet=quiet,
        jwt_key=jwt_key,
        jwt_issuer=jwt_issuer,
        jwt_audience=jwt_audience,
    )
    start(flags, environment(ctx))


def start(flags: "ServeFlags", env: Environment) -> None:
    """Check the flags, then serve until Ctrl-C."""
    from sse_cli import process
    from sse_cli.render import Messages

    def warn(message: str) -> None:
        env.stderr.write(f"sse-cli: warning: {message}\n")

    try:
        settings = flags.settings(warn, env.environ)
        from sse_cli.serve import run_server

        process.settled()
        run_server(settings, env.stdin)
    except SseCliError as exc:
        fail(exc, Messages(env.stderr))
