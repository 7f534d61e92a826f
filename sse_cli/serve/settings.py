"""What `sse-cli serve` is told, and the one error it raises before it serves.

Its own module, not `__init__`, because every module of the package needs the settings type
and `__init__` imports them all. Stdlib only.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sse_cli.errors import SseCliError

if TYPE_CHECKING:
    from sse_cli.serve.auth import JwtSettings
    from sse_cli.serve.relay_settings import RelaySettings
    from sse_cli.serve.tapes import Tape


class ServeError(SseCliError):
    """The server could not start (the address is taken, say)."""


DEFAULT_RATE_LIMIT = 100.0  # requests a second per client address, off loopback


def is_loopback(host: str) -> bool:
    """Whether only this machine can connect to `host`."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def rate_limit_for(host: str, asked: float | None) -> float:
    """The rate limit in force: the one asked for, else none on loopback (it would only
    stop local load tests) and DEFAULT_RATE_LIMIT on any other address."""
    if asked is not None:
        return asked
    return 0.0 if is_loopback(host) else DEFAULT_RATE_LIMIT


@dataclass(frozen=True)
class ServeSettings:
    """Everything `sse-cli serve` is told; defaults match the command's."""

    host: str = "127.0.0.1"
    port: int = 8000
    delay: float = 0.1  # seconds between events
    ping: float | None = None  # seconds between heartbeat comments; None: none
    cors_origins: tuple[str, ...] = ()
    max_streams: int = 1000  # open streams at once; more get 503
    rate_limit: float | None = None  # requests a second per client address; 0: no limit;
    # None: rate_limit_for(host) decides
    max_body: int = 1 << 20  # bytes in a request body; more get 413
    queue_size: int = 1000  # events a subscriber may fall behind before it is dropped
    history: int = 1000  # events each topic keeps for resuming; 0: none
    broker: str | None = None  # a redis:// URL; None: topics live in this process
    workers: int = 1  # processes serving the one port (more than 1 needs a broker)
    access_log: bool = True
    quiet: bool = False  # -q: a short banner (the address, how to stop, warnings)
    shutdown_timeout: int = 1  # seconds open streams get to end on Ctrl-C
    replays: tuple[Tape, ...] = ()  # --replay: recorded streams, read before binding
    speed: float = 1.0  # --speed: replayed gaps are divided by this; 0: no waiting
    relay: RelaySettings | None = None  # --exec, --stdin, --exec-per-client and their options
    jwt: JwtSettings | None = None  # --jwt-key and the claims checked; None: no tokens
    stack: str = "auto"  # SSE_CLI_SERVE_STACK: "auto" (uvloop, httptools if they import) or
    # "asyncio" (asyncio and h11)
