"""The one table of `sse-cli serve`'s endpoints: method, path, handler, what it does, a
command to try it, and whether it is an event stream.

The table drives the app's routes, which paths count against --max-streams, the start-up
banner and the README check. No other module writes an endpoint's path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response

from sse_cli.serve import demo, exec_client, openai, pubsub, streams, ui
from sse_cli.serve.mercure import hub as mercure
from sse_cli.serve.settings import ServeSettings

CHAT_EXAMPLE = '{"messages": [{"role": "user", "content": "hi"}], "stream": true}'
MESSAGE_EXAMPLE = '{"message": "hello"}'


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[..., Any]
    """A FastAPI endpoint function, or an ASGI app instance that answers every method."""
    description: str
    example: str | None = None
    """A command that reads it ({u}: the base URL; {j}, {c}: the example bodies); None keeps
    the route off the banner."""
    stream: bool = False
    """An event stream: it counts against --max-streams."""
    documented: bool = True
    """Listed in the README's endpoint table."""
    shown: Callable[[ServeSettings], bool] | None = None
    """When the banner lists it; None: always (if it has an example)."""

    @property
    def bare(self) -> bool:
        """Served by an ASGI app instance rather than a FastAPI endpoint function."""
        return not inspect.isfunction(self.handler)

    def command(self, base: str) -> str:
        assert self.example is not None
        return self.example.format(u=base, j=MESSAGE_EXAMPLE, c=CHAT_EXAMPLE)


ROUTES = (
    Route(
        "GET",
        "/",
        demo.message_stream,
        "a message, one character per event",
        "sse-cli listen {u}/",
        stream=True,
    ),
    Route(
        "POST",
        "/sse",
        demo.echo_stream,
        "streams back a posted message",
        "sse-cli listen {u}/sse --json '{j}'",
        stream=True,
    ),
    Route(
        "GET",
        "/counter",
        demo.counter,
        "ids 1, 2, 3 ...; resumes after Last-Event-ID",
        "sse-cli listen {u}/counter",
        stream=True,
    ),
    Route(
        "GET",
        "/clock",
        demo.clock_stream,
        "a tick event a second, its time as JSON",
        "sse-cli listen {u}/clock",
        stream=True,
    ),
    Route(
        "GET",
        "/showcase",
        demo.showcase,
        "one of every wire feature",
        "sse-cli listen {u}/showcase",
        stream=True,
    ),
    Route(
        "POST",
        "/v1/chat/completions",
        openai.chat,
        "an OpenAI-compatible mock",
        "sse-cli listen {u}/v1/chat/completions --json '{c}' -f text",
        stream=True,
    ),
    Route(
        "GET",
        "/v1/models",
        openai.models,
        "the mock's model list, as the API lists",
        "curl {u}/v1/models",
    ),
    Route("GET", "/v1/models/{model_id}", openai.model, "one model, or the API's 404"),
    Route(
        "GET",
        "/subscribe",
        pubsub.subscribe,
        "live fan-out of what /publish sends",
        "sse-cli listen {u}/subscribe",
        stream=True,
    ),
    Route(
        "POST",
        "/publish",
        pubsub.publish,
        "one event to every subscriber",
        "curl -d hello {u}/publish",
    ),
    Route(
        "GET",
        "/exec",
        exec_client.exec_stream,
        "a process per client (--exec-per-client)",
        "sse-cli listen {u}/exec",
        stream=True,
        shown=lambda settings: settings.relay is not None and bool(settings.relay.per_client),
    ),
    Route(
        "GET",
        "/.well-known/mercure",
        mercure.endpoint,
        "a Mercure hub: GET subscribes, POST publishes (form-encoded)",
        "sse-cli listen '{u}/.well-known/mercure?topic=*'",
        stream=True,
    ),
    Route("GET", "/ui", ui.ui, "a page that shows the streams live", "open {u}/ui in a browser"),
    Route("GET", "/stats", streams.stats, "JSON: generators, streams, events, subscribers"),
    Route("GET", "/favicon.ico", ui.favicon, "none: browsers ask for it", documented=False),
)

STREAM_PATHS = frozenset(route.path for route in ROUTES if route.stream)
BARE_PATHS = frozenset(route.path for route in ROUTES if route.bare)


async def stream_head() -> Response:
    """HEAD on a stream: the headers its GET answers with (as `curl -I` asks), no body and
    no stream started."""
    head = Response(status_code=200, media_type="text/event-stream; charset=utf-8")
    del head.headers["content-length"]
    return head


def install(app: FastAPI) -> None:
    """Add every route of the table to `app`, and HEAD to each GET stream."""
    for route in ROUTES:
        if route.stream and route.method == "GET" and not route.bare:
            app.add_api_route(route.path, stream_head, methods=["HEAD"], include_in_schema=False)
        if not route.bare:
            app.add_api_route(
                route.path,
                route.handler,
                methods=[route.method],
                response_model=None,
                include_in_schema=route.documented,
            )
        else:  # a bare ASGI app: Starlette calls it as it is, for any method
            app.add_route(route.path, route.handler, include_in_schema=False)
