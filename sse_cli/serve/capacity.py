"""How many streams one `serve` process can hold: its open-files limit, and the one log line
when it starts refusing streams and the summary when it stops.

Every stream is a socket, so a process holds at most RLIMIT_NOFILE streams, less what it
needs besides: the listening socket, the event loop's own descriptors, standard streams and
log files, the broker's connections (with --broker, a pool and one reader per topic) and
room for requests that are not streams (/publish) and for the refusals themselves. Past
that, accept() fails with EMFILE and the event loop logs it over and over; so `serve` raises
its soft limit to the hard one at start and refuses new streams with 503 and Retry-After
while it holds as many as the rest leaves room for. Each of --workers has its own limit.

Stdlib only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RESERVE = 64
"""Descriptors kept out of the streams' share beyond those open at start: the event loop's,
the broker's pool, connections that are not streams, and a refusal's own socket."""

log = logging.getLogger("sse_cli.serve")


def raise_open_files_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (at most the kernel's
    nr_open); the soft limit then in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else kernel_ceiling()
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft if soft != resource.RLIM_INFINITY else kernel_ceiling()
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (OSError, ValueError):
        return soft
    return wanted


def kernel_ceiling() -> int:
    try:
        with open("/proc/sys/fs/nr_open") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1 << 20


def open_descriptors() -> int:
    """Descriptors this process has open now."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(folder))
        except OSError:
            continue
    return 16  # a guess where neither exists


@dataclass
class OpenFiles:
    """The streams a process can hold under its open-files limit; `others` counts the
    descriptors the broker holds for them (one Redis reader per topic)."""

    limit: int
    streams: int
    others: Callable[[], int] = lambda: 0

    def full(self, open_streams: int) -> bool:
        return open_streams + self.others() >= self.streams


def open_files(others: Callable[[], int] = lambda: 0) -> OpenFiles:
    """For the process serving now: its soft limit raised to the hard one, and its streams'
    share of it."""
    limit = raise_open_files_limit()
    return OpenFiles(limit, max(1, limit - open_descriptors() - RESERVE), others)


class RefusalLog:
    """One line on stderr when a process starts refusing streams, one when it stops (with
    how many it refused), never one per request."""

    def __init__(self) -> None:
        self.refused = 0

    def refusing(self, why: str) -> None:
        if self.refused == 0:
            log.warning("refusing new streams with 503 (Retry-After: 1): %s", why)
        self.refused += 1

    def room_again(self, open_streams: int) -> None:
        if self.refused:
            log.warning(
                "accepting streams again (%d open); refused %d while full",
                open_streams,
                self.refused,
            )
            self.refused = 0


ACCEPT_FAILED = "socket.accept() out of system resource"
RETRY = "BaseSelectorEventLoop._start_serving"  # the retry that asyncio schedules after one


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio's loop (SSE_CLI_SERVE_STACK=asyncio) reports each accept() that meets EMFILE
    with a traceback while connections that never send a request hold every descriptor, and
    (Python 3.11) schedules a retry for each, which fail with more tracebacks once the
    socket is closed at shutdown: one line the first time instead. uvloop drops such
    connections quietly."""
    told = False

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        nonlocal told
        message = str(context.get("message", ""))
        if message != ACCEPT_FAILED and RETRY not in message:
            loop.default_exception_handler(context)
        elif not told:
            told = True
            log.warning("out of open files: new connections wait until some close")

    loop.set_exception_handler(handler)
