"""Running the app: the listening socket (TCP_NODELAY), the start-up banner, uvicorn, and a
shutdown on Ctrl-C or SIGTERM that ends open streams and exits 0."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any

import uvicorn

from sse_cli.errors import ExitCode, UsageError
from sse_cli.serve import create_app, stop_streams
from sse_cli.serve.capacity import open_files
from sse_cli.serve.relay_settings import public_warnings
from sse_cli.serve.routes import ROUTES
from sse_cli.serve.settings import ServeError, ServeSettings, rate_limit_for

LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "sse-cli: %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "uvicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "sse_starlette": {"handlers": ["stderr"], "level": "CRITICAL", "propagate": False},
        "sse_cli": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}


def stack(wanted: str = "auto") -> tuple[str, str]:
    """The event loop and HTTP parser to run on, as uvicorn names them, for the stack
    `wanted` (`auto` or `asyncio`, ServeSettings.stack). Chosen here, not by uvicorn's
    `auto`, so the banner names what runs."""
    if wanted == "asyncio":
        return "asyncio", "h11"
    return (
        "uvloop" if _importable("uvloop") else "asyncio",
        "httptools" if _importable("httptools") else "h11",
    )


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


class _Server(uvicorn.Server):
    """uvicorn's server without re-raising the signal after a clean shutdown: Ctrl-C and
    SIGTERM end `serve` with exit status 0, the open streams closed."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_exit = on_exit  # ends the streams sse-starlette does not know about

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        asyncio.get_event_loop().call_soon_threadsafe(self.on_exit)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def banner(
    settings: ServeSettings, port: int, loop_and_parser: tuple[str, str] | None = None
) -> list[str]:
    """The start-up lines: the address bound, each endpoint served with a command to try,
    then the event loop and HTTP parser when given; under -q only the address and how to
    stop (and any warning)."""
    host = settings.host
    shown = f"[{host}]" if ":" in host else host
    wildcard = host in ("0.0.0.0", "::", "")
    base = f"http://{shown}:{port}"
    local = f"http://127.0.0.1:{port}" if wildcard else base
    lines = [f"sse-cli: serving on {base} (Ctrl-C to stop)"]
    if not settings.quiet:
        lines += [rate_line(settings), *endpoint_lines(settings, local)]
        if loop_and_parser is not None:
            loop, parser = loop_and_parser
            lines.append(f"sse-cli: event loop {loop}, HTTP parser {parser}")
    if wildcard:
        lines.append(
            "sse-cli: warning: listening on every interface: anyone who can reach this "
            "machine can connect (use --host 127.0.0.1 to keep it local); each address may "
            f"make {rate_limit_for(host, settings.rate_limit):g} requests a second (--rate-limit)"
        )
    from sse_cli.serve.auth import banner_lines as token_lines

    return lines + public_warnings(settings.relay, host) + token_lines(settings.jwt)


def endpoint_lines(settings: ServeSettings, local: str) -> list[str]:
    """What is served, one line each: the built-in endpoints a replay does not replace, the
    relay's topic, then the replays."""
    replaced = {(tape.method, tape.path) for tape in settings.replays}
    rows = []
    for route in ROUTES:
        if (route.method, route.path) in replaced:
            continue
        if route.example is not None and (route.shown is None or route.shown(settings)):
            rows.append((route.method, route.path, route.description, route.command(local)))
    relay = settings.relay
    if relay is not None and relay.shared:
        topic = relay.topic_name
        what = "standard input, a line an event" if relay.stdin else "the command's lines"
        path = f"/subscribe?topic={topic}"
        example = f"sse-cli listen '{local}{path}&history=100'"
        rows.append(("GET", path, what + " (the relay)", example))
    # Each column as wide as its longest entry, so the commands line up whatever is served
    # (the paths at least as wide as the replays' lines have them).
    paths = max([21, *(len(row[1]) for row in rows)])
    texts = max((len(row[2]) for row in rows), default=0)
    lines = [
        f"  {method:<4} {path:<{paths}} {text:<{texts}} {command}"
        for method, path, text, command in rows
    ]
    if settings.replays:
        from sse_cli.serve.replay import banner_lines

        lines += banner_lines(settings.replays, {(r.method, r.path) for r in ROUTES})
    return lines


def rate_line(settings: ServeSettings) -> str:
    """Which rate limit is in force, and why."""
    rate = rate_limit_for(settings.host, settings.rate_limit)
    if rate > 0:
        return f"sse-cli: rate limit: {rate:g} requests a second per address (--rate-limit)"
    why = "--rate-limit 0" if settings.rate_limit is not None else "loopback: only this machine"
    return f"sse-cli: rate limit: off ({why})"


def bind(settings: ServeSettings) -> socket.socket:
    """The listening socket. Its protocol is set to TCP explicitly: asyncio turns Nagle's
    algorithm off (TCP_NODELAY) only on sockets that say so, and with it on every small
    response waits for a delayed ACK."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((settings.host, settings.port))
        sock.listen(4096)
    except OSError as exc:
        sock.close()
        raise bind_failure(settings, exc) from None
    except (UnicodeError, ValueError) as exc:
        sock.close()
        message = f"--host {settings.host!r} is not an address: {exc}"
        raise UsageError(message, "give an address such as 127.0.0.1") from None
    return sock


class BindError(ServeError):
    """The address cannot be bound: exit status 3, as for any network failure (1 is for
    bugs)."""

    exit_code = ExitCode.CONNECTION


def bind_failure(settings: ServeSettings, exc: OSError) -> BindError:
    """The one line naming why binding failed: the port, the host, or the privilege."""
    host, port = settings.host, settings.port
    where = f"cannot listen on {f'[{host}]' if ':' in host else host}:{port}"
    if isinstance(exc, socket.gaierror):
        hint = "give an address such as 127.0.0.1, or a name this machine resolves"
        return BindError(f"{where}: host {host!r} does not resolve", hint)
    if exc.errno == errno.EADDRINUSE:
        hint = "pick another --port, or --port 0 for a free one"
        return BindError(f"{where}: port {port} is already in use", hint)
    if exc.errno == errno.EADDRNOTAVAIL:
        hint = "use --host 127.0.0.1, or --host 0.0.0.0 for every interface"
        return BindError(f"{where}: {host} is not an address of this machine", hint)
    if exc.errno == errno.EACCES and 0 < port < 1024:
        hint = "pick --port 1024 or above, or --port 0 for a free one"
        return BindError(f"{where}: ports below 1024 need privileges", hint)
    return BindError(f"{where}: {exc.strerror or exc}")


def listen(
    settings: ServeSettings, loop_and_parser: tuple[str, str]
) -> tuple[socket.socket, list[str]]:
    """The listening socket and the banner naming the port it bound (the one the system
    picked for --port 0): what `serve` prints before it serves."""
    sock = bind(settings)
    lines = banner(settings, int(sock.getsockname()[1]), loop_and_parser)
    if settings.broker is not None and not settings.quiet:
        from sse_cli.serve.brokers.urls import shown_url

        lines.append(
            f"sse-cli: {settings.workers} worker(s), topics in {shown_url(settings.broker)}"
        )
    return sock, lines


def serve(settings: ServeSettings, stdin: IO[bytes] | None = None) -> None:
    """Reach the broker if there is one, bind, print the banner, run a fresh app (in each
    of --workers processes) until Ctrl-C or SIGTERM; --stdin reads `stdin` (one worker)."""
    if settings.workers > 1 and settings.broker is None:
        raise UsageError(
            f"--workers {settings.workers} needs --broker: without one, topics would split "
            "between processes and a publish would reach only one worker's subscribers",
            "add --broker redis://HOST:PORT/DB, or run one worker",
        )
    if settings.broker is not None:
        from sse_cli.serve.brokers import check_broker

        check_broker(settings.broker)  # exit 2 or 3 before binding
    loop, parser = stack(settings.stack)
    sock, lines = listen(settings, (loop, parser))

    def announce() -> None:
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()

    if settings.workers == 1:
        run_worker(settings, sock, loop, parser, announce, stdin)
        return
    from sse_cli.serve.workers import supervise

    def work() -> None:
        run_worker(settings, sock, loop, parser, None)

    if supervise(settings.workers, work, announce):
        raise ServeError("a worker failed; the others were stopped")


def run_worker(
    settings: ServeSettings,
    sock: socket.socket,
    loop: str,
    parser: str,
    announce: Callable[[], None] | None,
    stdin: IO[bytes] | None = None,
) -> None:
    """One process serving a fresh app on `sock` until Ctrl-C or SIGTERM; `announce` prints
    the banner once the app exists (a Ctrl-C after the banner then ends `serve` cleanly)."""
    app = create_app(settings, stdin=stdin)
    broker = app.state.shared.hub.broker
    # With --broker, each topic subscribed to here holds a Redis connection of its own.
    topics = (lambda: len(broker.fanout.topics)) if settings.broker else (lambda: 0)
    app.guard.open_files = open_files(topics)  # per process: each worker has its own limit
    config = uvicorn.Config(
        app,
        log_config=LOG_CONFIG,
        access_log=settings.access_log,
        lifespan="on",  # the shared relay (--exec, --stdin) runs in it
        timeout_graceful_shutdown=settings.shutdown_timeout,
        server_header=False,
        loop=loop,
        http=parser,
    )
    if announce is not None:
        announce()
    _Server(config, on_exit=lambda: stop_streams(app)).run(sockets=[sock])
