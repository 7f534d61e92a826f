"""The guard every request passes first: a token bucket per client address (429), a cap on
open streams (503: --max-streams, or what the process's open-files limit leaves room for,
logged once when refusing starts and once when it stops), both with Retry-After; nosniff
and X-Accel-Buffering on every response, and Cache-Control: no-cache unless the endpoint
set one.

It routes only the bare ASGI streams (/subscribe, the Mercure hub): it calls them itself, so
an idle subscriber holds none of the framework's frames (FastAPI's, the router's, the
exception middleware's: about 5 KiB a stream). Which paths are streams and which are bare it
is told (the route table knows), and the time comes from the clock it is given, so its rules
have in-process tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sse_cli.serve.capacity import OpenFiles, RefusalLog
from sse_cli.serve.refusals import error_response
from sse_cli.serve.streams import SECURITY_HEADERS

MAX_CLIENTS = 10_000  # client addresses remembered; past this the buckets start afresh


class RateLimit:
    """A token bucket per client: `rate` tokens a second, at most `rate` held."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, time)

    def allow(self, client: str) -> bool:
        now = self.clock()
        tokens, then = self.buckets.get(client, (self.rate, now))
        tokens = min(self.rate, tokens + (now - then) * self.rate)
        if tokens < 1:
            self.buckets[client] = (tokens, now)
            return False
        if len(self.buckets) > MAX_CLIENTS and client not in self.buckets:
            self.buckets.clear()  # bounded memory against many addresses
        self.buckets[client] = (tokens - 1, now)
        return True


class Guard:
    """ASGI middleware: the caps and the headers, in front of the app."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rate_limit: float,
        max_streams: int,
        stream_paths: Collection[str],
        clock: Callable[[], float],
        bare_apps: Mapping[str, ASGIApp] | None = None,
    ) -> None:
        self.app = app
        self.limit = RateLimit(rate_limit, clock)
        self.max_streams = max_streams
        self.stream_paths = frozenset(stream_paths)
        # Answered by a bare ASGI app that sets these headers itself and ends its own body:
        # called here, past the framework, and its writes go out unwrapped.
        self.bare_apps = dict(bare_apps or {})
        self.open_streams = 0
        self.open_files: OpenFiles | None = None  # set by the runner: the process's share
        self.refusals = RefusalLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "-"
        rate = self.limit.rate
        if rate > 0 and not self.limit.allow(client):
            retry = str(max(1, math.ceil(1 / rate)))
            message = f"too many requests from {client}: the limit is {rate:g} per second"
            refusal = error_response(429, message, {"Retry-After": retry}, path=scope["path"])
            await refusal(scope, receive, with_headers(send, {}))
            return
        is_stream = scope["path"] in self.stream_paths
        if is_stream and (full := self.full()) is not None:
            message, why = full
            self.refusals.refusing(why)
            # Connection: close gives the refused socket back at once.
            headers = {"Retry-After": "1", "Connection": "close"}
            refusal = error_response(503, message, headers, path=scope["path"])
            await refusal(scope, receive, with_headers(send, {}))
            return
        if is_stream:
            self.open_streams += 1
        try:
            bare = self.bare_apps.get(scope["path"])
            if bare is not None:
                await bare(scope, receive, send)
            else:
                await self.framework(scope, receive, send)
        finally:
            if is_stream:
                self.open_streams -= 1
                self.refusals.room_again(self.open_streams)

    def full(self) -> tuple[str, str] | None:
        """Why a new stream cannot be held now (for the client, for the log), or None."""
        held = self.open_streams
        if held >= self.max_streams:
            return (
                f"too many open streams: the limit is {self.max_streams}",
                f"{held} streams open, the --max-streams limit",
            )
        files = self.open_files
        if files is not None and files.full(held):
            return (
                f"too many open streams: this process holds {held}, all that its "
                f"open-files limit ({files.limit}) leaves room for",
                f"{held} streams open, all that this process's open-files limit "
                f"(ulimit -n {files.limit}) leaves room for",
            )
        return None

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = {"started": False, "complete": False}
        await self.app(scope, receive, with_headers(send, state))
        if state["started"] and not state["complete"]:
            # A stream cut short by shutdown: end its body cleanly for the client.
            await send({"type": "http.response.body", "body": b"", "more_body": False})


def with_headers(send: Send, state: dict[str, bool]) -> Send:
    """`send` adding the security headers to the response start, and noting in `state`
    whether the response started and completed."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            state["complete"] = True
        elif message["type"] == "http.response.start":
            state["started"] = True
            message = {**message, "headers": with_security_headers(message)}
        await send(message)

    return send_with_headers


def with_security_headers(start: Message) -> list[tuple[bytes, bytes]]:
    """A response start's headers, with the security headers and no-cache it lacks."""
    headers = list(start.get("headers", ()))
    names = {name.lower() for name, _ in headers}
    headers += [h for h in SECURITY_HEADERS if h[0] not in names]
    if b"cache-control" not in names:
        headers.append((b"cache-control", b"no-cache"))
    return headers
