"""`sse-cli serve`: the demo and mock event-stream server (FastAPI + sse-starlette on uvicorn).

`create_app(settings)` builds a fresh app (tests make one per server, and may hand it the
standard input that --stdin relays); `run_server(settings)` binds the socket itself, so
`--port 0` reports the port it got, prints the banner on stderr and runs uvicorn until Ctrl-C
or SIGTERM, which end open streams within a second and exit 0.

Every stream is pre-encoded bytes (`sse_cli.encode`): events that are ready at the same
moment go out in one write, and an event produced after a pause goes out the moment it
exists. Most endpoints are generators behind sse-starlette's `EventSourceResponse`;
`/subscribe` is a bare ASGI stream, lean enough for thousands of idle subscribers. A client
that leaves stops its stream at once.

The package: `routes` (the one table of endpoints), `guard` (caps and headers), `streams`
(what endpoints share), `demo`, `openai`, `pubsub`, `exec_client`, `ui` (the endpoints),
`relay` (--exec and --stdin, run by the app's lifespan; with `relay_settings`, `framing` and
`children`), `runner` (uvicorn, binding, banner, shutdown). It never imports `sse_cli.client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import IO, Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from sse_cli.serve.brokers import make_broker
from sse_cli.serve.capacity import quiet_accept_errors
from sse_cli.serve.exec_client import Clients
from sse_cli.serve.guard import Guard
from sse_cli.serve.refusals import (
    OPENAI_PREFIX,
    ApiError,
    JsonBody,
    error_response,
    invalid_field,
    refused,
)
from sse_cli.serve.relay import relaying
from sse_cli.serve.routes import ROUTES, STREAM_PATHS, install
from sse_cli.serve.settings import ServeError, ServeSettings, rate_limit_for
from sse_cli.serve.state import Activity, Hub, Shared, shared
from sse_cli.serve.ui import ui_page

__all__ = ["ServeApp", "ServeError", "ServeSettings", "create_app", "run_server"]


class ServeApp(FastAPI):
    """FastAPI with the guard in front of it all: every request meets the caps first, and
    the bare streams (/subscribe, the Mercure hub) go from the guard straight to their app,
    holding none of the framework's frames while they idle."""

    guard: Guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self  # the bare apps find the app's state here, as behind Starlette
        await self.guard(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def create_app(
    settings: ServeSettings,
    clock: Callable[[], float] = time.monotonic,
    stdin: IO[bytes] | None = None,
) -> ServeApp:
    """A fresh app for `settings`: no state is shared between two apps. `stdin` is what
    --stdin relays (None: the process's standard input)."""
    app = ServeApp(
        title="sse-cli serve", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    activity = Activity()
    hub = Hub(make_broker(settings), activity, settings.ping)
    app.state.shared = Shared(settings, activity, hub)
    app.state.exec_clients = Clients()
    app.state.stdin = stdin
    ui_page()  # a missing page fails the start, not the first visit
    app.add_exception_handler(ApiError, api_error)  # type: ignore[arg-type]
    app.add_exception_handler(ClientDisconnect, client_gone)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    if settings.replays:  # ahead of the route table: a replay wins on its method and path
        from sse_cli.serve import replay

        replay.install(app, settings.replays)
    install(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, **cors(settings))
    app.guard = Guard(
        app.framework,
        rate_limit=rate_limit_for(settings.host, settings.rate_limit),
        max_streams=settings.max_streams,
        stream_paths=STREAM_PATHS | {tape.path for tape in settings.replays},
        bare_apps=bare_apps(settings),
        clock=clock,
    )
    return app


def cors(settings: ServeSettings) -> dict[str, Any]:
    return {
        "allow_origins": list(settings.cors_origins),
        "allow_credentials": True,
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["Content-Type", "Last-Event-ID", "Authorization"],
        "max_age": 600,
    }


def bare_apps(settings: ServeSettings) -> dict[str, ASGIApp]:
    """The bare streams by path, each behind CORS when --cors-origin asks for it; a path a
    replay serves is the replay's (it wins on its path), so it stays with the framework."""
    replayed = {tape.path for tape in settings.replays}
    apps: dict[str, ASGIApp] = {}
    for route in ROUTES:
        if route.bare and route.path not in replayed:
            handler: ASGIApp = route.handler
            apps[route.path] = (
                CORSMiddleware(handler, **cors(settings)) if settings.cors_origins else handler
            )
    return apps


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While the app runs: the shared relay (--exec, --stdin); at its end, the per-client
    processes (--exec-per-client) are stopped too."""
    state: Shared = app.state.shared
    quiet_accept_errors(asyncio.get_running_loop())
    settings = state.settings
    async with relaying(state.hub.broker, settings.relay, settings.max_body, app.state.stdin):
        try:
            yield
        finally:
            await app.state.exec_clients.close()


def stop_streams(app: FastAPI) -> None:
    """Ctrl-C or SIGTERM: end every open stream now (the server then stops)."""
    app.state.shared.hub.close()
    app.state.exec_clients.closing.set()


async def api_error(request: Request, exc: ApiError) -> Response:
    return refused(exc, request.url.path)


async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
    """A client that left before its request body was complete: an ordinary ending, so no
    traceback, only a count in /stats. The reply is never sent (uvicorn drops writes to a
    gone client), and so never logged."""
    shared(request).activity.abandoned += 1
    return Response(status_code=400)


async def invalid(request: Request, exc: RequestValidationError) -> Response:
    """422 naming each field at fault in one line, with FastAPI's detail beside it (under
    /v1/, the OpenAI mock's 400 naming the first)."""
    if request.url.path.startswith(OPENAI_PREFIX):
        errors = exc.errors()
        first = {**errors[0], "loc": errors[0].get("loc", ())[1:]} if errors else {}
        return refused(invalid_field(first), request.url.path)
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    body = {"error": "; ".join(problems), "detail": jsonable_encoder(exc.errors())}
    return JsonBody(body, status_code=422)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    path = request.url.path
    if path.startswith(OPENAI_PREFIX) and exc.status_code in (404, 405):
        message = f"Invalid URL ({request.method} {path})"  # the API's words
    elif exc.status_code == 404:
        message = f"no endpoint at {path}; see GET /ui or 'sse-cli serve --help'"
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, message, getattr(exc, "headers", None), path=path)


def run_server(settings: ServeSettings, stdin: IO[bytes] | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM; the banner goes to stderr once the port is bound.
    --stdin reads `stdin` (None: the process's standard input)."""
    from sse_cli.serve.runner import serve

    serve(settings, stdin)
