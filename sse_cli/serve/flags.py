"""What `sse-cli serve` was told on its command line, and the checks that make it the
`ServeSettings` the server runs with. Stdlib only (recordings are read only when given).

A check that needs one flag's value alone (`check_host`) is also run by the command line as
the flag is parsed, so its message names the flag as Typer words it; the checks that need
more than one flag, or read files, run in `ServeFlags.settings()`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sse_cli.errors import UsageError
from sse_cli.serve.settings import ServeSettings

if TYPE_CHECKING:
    from sse_cli.serve.tapes import Tape


@dataclass(frozen=True, slots=True)
class ServeFlags:
    """Every flag of `serve` as given; defaults match the command's."""

    host: str = "127.0.0.1"
    port: int = 8000
    delay: float = 0.1
    ping: float = 15.0
    """Seconds between heartbeat comments; 0: none."""
    cors_origin: Sequence[str] = ()
    max_streams: int = 1000
    rate_limit: float | None = None
    max_body: str = "1M"
    queue_size: int = 1000
    history: int = 1000
    broker: str | None = None
    workers: int = 1
    replay: Sequence[str] = ()
    speed: float | None = None  # None: 1, and refused without --replay
    exec_: str | None = None
    exec_topic: str | None = None
    exec_restart: bool = False
    stdin: bool = False
    lines: str | None = None
    flush_after: float | None = None
    exec_per_client: str | None = None
    quiet: bool = False
    jwt_key: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None

    def settings(
        self, warn: Callable[[str], None] | None = None, environ: Mapping[str, str] | None = None
    ) -> ServeSettings:
        """The flags checked, recordings read: what the server runs with. Raises
        `UsageError` (or the recording's error) naming the flag; `warn` is told of each
        file a --replay folder skips; `environ` is the run's environment (the stack)."""
        from sse_cli.request import parse_size
        from sse_cli.serve.auth import load_settings
        from sse_cli.serve.relay_settings import relay_settings

        # In this order, so that of two bad flags the same one is named as before.
        origins = tuple(parse_cors_origin(origin) for origin in self.cors_origin)
        max_body = parse_size(self.max_body, "--max-body")
        replays = load_replays(self.replay, self.speed, warn)
        relay = relay_settings(
            self.exec_,
            self.stdin,
            self.exec_topic,
            self.exec_restart,
            self.lines,
            self.flush_after,
            self.exec_per_client,
            workers=self.workers,
        )
        return ServeSettings(
            host=check_host(self.host),
            port=self.port,
            delay=self.delay,
            ping=self.ping or None,
            cors_origins=origins,
            max_streams=self.max_streams,
            rate_limit=self.rate_limit,
            max_body=max_body,
            queue_size=self.queue_size,
            history=self.history,
            broker=self.broker,
            workers=self.workers,
            access_log=not self.quiet,
            quiet=self.quiet,
            replays=replays,
            speed=1.0 if self.speed is None else self.speed,
            relay=relay,
            jwt=load_settings(self.jwt_key, self.jwt_issuer, self.jwt_audience, self.host),
            stack=check_stack((environ or {}).get(STACK_ENV, "auto")),
        )


def check_host(value: str) -> str:
    """An address to bind. An empty one would bind every interface, silently: `--host
    "$HOST"` with the variable unset must not open the server to the network."""
    if not value.strip():
        raise UsageError(
            "is empty, which would bind every interface: give 127.0.0.1 (this machine) "
            "or 0.0.0.0 (every interface)"
        )
    return value


STACK_ENV = "SSE_CLI_SERVE_STACK"
"""`auto` (the default): uvloop and httptools when importable; `asyncio`: asyncio and h11."""


def check_stack(value: str) -> str:
    """The stack asked for by SSE_CLI_SERVE_STACK: `auto` or `asyncio`."""
    if value not in ("auto", "asyncio"):
        raise UsageError(f"{STACK_ENV}={value!r} is not a stack", "use auto or asyncio")
    return value


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


def load_replays(
    paths: Sequence[str], speed: float | None = None, warn: Callable[[str], None] | None = None
) -> tuple[Tape, ...]:
    """Every --replay PATH read and checked: a bad one stops `serve` before it binds. A
    --speed without --replay, which it would shape, is refused, not ignored."""
    if not paths:
        if speed is not None:
            raise UsageError("--speed needs --replay", "add --replay FILE")
        return ()
    from sse_cli.serve.tapes import load_tapes

    return tuple(load_tapes(tuple(paths), warn))


__all__ = [
    "STACK_ENV",
    "ServeFlags",
    "check_host",
    "check_stack",
    "load_replays",
    "parse_cors_origin",
]
