"""Publish and subscribe: GET /subscribe and POST /publish, over the app's broker.

The broker (`sse_cli.serve.brokers`: in memory, or Redis with --broker) gives each event an
id, keeps each topic's history and fans events out to local inboxes. GET /subscribe is a
bare ASGI app, not a FastAPI endpoint with an EventSourceResponse: a stream is one coroutine
asleep on one future plus a disconnect waiter, one heartbeat task serves every subscriber,
and a publish wakes each writer once.

Resuming: `Last-Event-ID` (or `?last_event_id=` on a first connection) gets every kept event
after that id, then live ones; `?history=N` without an id gets the last N kept events first.
A resume from an id no longer kept is answered with `X-SSE-Resume: incomplete` and a comment.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, cast
from urllib.parse import parse_qs

from fastapi import Query, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from sse_cli.encode import encode_comment
from sse_cli.serve.auth import AuthError, refusal
from sse_cli.serve.brokers import BrokerUnavailableError, Joined
from sse_cli.serve.brokers.fanout import Subscriber
from sse_cli.serve.state import PING, Hub
from sse_cli.serve.streams import (
    SECURITY_HEADERS,
    ApiError,
    JsonBody,
    error_response,
    read_body,
    shared,
)

TOPIC = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
TOPIC_RULE = "topic must be 1 to 64 letters, digits or . _ : -"
HISTORY_RULE = "history must be a whole number of events, at most 100000"
RESUME_HEADER = b"x-sse-resume"
MAX_ID = 256  # characters of a Last-Event-ID looked at; a longer one is unknown
STREAM_HEAD = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"connection", b"keep-alive"),
    *SECURITY_HEADERS,
]
BARE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "X-Accel-Buffering": "no",
}
UNAVAILABLE_HEADERS = {**BARE_HEADERS, "Retry-After": "1"}
FAREWELL = encode_comment("dropped: this client fell too far behind")


class Request_:
    """What a /subscribe request asks for, or why it is refused."""

    __slots__ = ("after", "problem", "recent", "topic")

    def __init__(self, scope: Scope) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        self.topic = query.get("topic", ["default"])[-1]
        self.after = resume_id(scope, query) or None
        recent = query.get("history", ["0"])[-1]
        self.recent = int(recent) if recent.isascii() and recent.isdigit() else -1
        self.problem: tuple[int, str] | None = None
        if scope["method"] not in ("GET", "HEAD"):
            self.problem = (405, "use GET to subscribe")
        elif not TOPIC.fullmatch(self.topic):
            self.problem = (400, TOPIC_RULE)
        elif not 0 <= self.recent <= 100_000:
            self.problem = (400, HISTORY_RULE)


def resume_id(scope: Scope, query: dict[str, list[str]]) -> str:
    """The id a client resumes after: `Last-Event-ID`, else `?last_event_id=` (a page's first
    connection), cut to MAX_ID characters; empty for none. A reconnecting EventSource sends
    the header with the URL of its first connection: the header is the newer id."""
    found = header(scope, b"last-event-id") or query.get("last_event_id", [""])[-1]
    return found[:MAX_ID]


def header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class SubscribeStream:
    """GET /subscribe as a bare ASGI app; its state is the app's `Hub`, so one instance
    serves every app."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub: Hub = scope["app"].state.shared.hub
        asked = Request_(scope)
        if asked.problem is not None:
            status, message = asked.problem
            await error_response(status, message, BARE_HEADERS)(scope, receive, send)
            return
        if (denied := subscribe_refusal(scope, asked.topic)) is not None:
            headers = {**BARE_HEADERS, **denied.headers}
            await error_response(denied.status, str(denied), headers)(scope, receive, send)
            return
        if scope["method"] == "HEAD" or hub.closing:
            await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEAD})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        try:
            joined = await hub.broker.join(asked.topic, asked.after, asked.recent)
        except BrokerUnavailableError as exc:
            await error_response(503, str(exc), UNAVAILABLE_HEADERS)(scope, receive, send)
            return
        subscriber = joined.subscriber
        try:
            head = STREAM_HEAD
            if asked.after is not None:
                resumed = b"complete" if joined.complete else b"incomplete"
                head = [*STREAM_HEAD, (RESUME_HEADER, resumed)]
            await send({"type": "http.response.start", "status": 200, "headers": head})
            subscriber.transport = chunked_transport(send)
            hub.start_heartbeat()
            gone = asyncio.ensure_future(disconnected(receive, subscriber))
            try:
                with hub.activity.generator():
                    hub.activity.events_sent += len(joined.history)
                    await feed(hub, opening(asked, joined), subscriber, gone, send)
            finally:
                gone.cancel()
        finally:
            hub.broker.leave(asked.topic, subscriber)


def chunked_transport(send: Send) -> asyncio.WriteTransport | None:
    """The transport under `send` when it is uvicorn's httptools protocol writing this
    response's body as chunks, or None. The fan-out may then write an event's chunk on it
    itself: the protocol adds nothing else to a body chunk, and ends the body as before."""
    cycle = getattr(send, "__self__", None)
    if type(cycle).__module__ != "uvicorn.protocols.http.httptools_impl":
        return None
    if getattr(cycle, "chunked_encoding", None) is not True:
        return None
    transport = getattr(cycle, "transport", None)
    if not all(hasattr(transport, name) for name in ("write", "get_write_buffer_size")):
        return None  # uvloop's transport is not an asyncio.WriteTransport subclass
    return cast("asyncio.WriteTransport", transport)


def subscribe_refusal(scope: Scope, topic: str) -> AuthError | None:
    """With --jwt-key, a token granting `subscribe` on the topic; with a key made for the
    run, only the relay's topic needs one."""
    settings = scope["app"].state.shared.settings
    if settings.jwt is None:
        return None
    relay = settings.relay.topic_name if settings.relay is not None else None
    guarded = not settings.jwt.generated or topic == relay
    return refusal(scope, settings.jwt, "subscribe", topic, guarded)


def opening(asked: Request_, joined: Joined) -> bytes:
    """The first write: a comment naming the topic, one saying a resume was incomplete, and
    the history."""
    parts = [encode_comment(f"subscribed to topic {asked.topic}")]
    if not joined.complete:
        parts.append(
            encode_comment(
                f"resume incomplete: id {asked.after} is no longer in the topic's history or "
                f"was never given; sending the {len(joined.history)} events kept"
            )
        )
    return b"".join(parts + joined.history)


async def feed(
    hub: Hub, body: bytes, subscriber: Subscriber, gone: asyncio.Future[None], send: Send
) -> None:
    """Write `body`, then what the subscriber's inbox holds each time it is woken, until the
    client goes, the server closes, or the subscriber is dropped for falling behind."""
    loop = asyncio.get_running_loop()
    while True:
        await send({"type": "http.response.body", "body": body, "more_body": True})
        if body is FAREWELL:
            break
        while not subscriber.pending and not subscriber.dropped:
            if gone.done() or hub.closing:
                break
            subscriber.wake = loop.create_future()
            await subscriber.wake
            subscriber.wake = None
        if gone.done():
            return
        if hub.closing:
            break
        if subscriber.dropped:
            body = FAREWELL  # what was still pending is not sent: the client is too slow
        else:
            # A heartbeat is queued only into an empty inbox, so it can only come first.
            pending = subscriber.pending
            hub.activity.events_sent += len(pending) - (pending[0] is PING)
            body = b"".join(subscriber.pending)
            subscriber.pending.clear()
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def disconnected(receive: Receive, subscriber: Subscriber | None = None) -> None:
    """Return once the client has gone, waking the subscriber's writer if given (the request
    body, if any, is read and dropped)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    if subscriber is not None:
        subscriber.notify()


subscribe = SubscribeStream()


async def publish(
    request: Request,
    topic: str = "default",
    event: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    """POST /publish: the body as one event of the topic; answers its id and how many
    subscribers in this process it reached."""
    if not TOPIC.fullmatch(topic):
        raise ApiError(400, TOPIC_RULE)
    if event is not None and (not event or any(c in event for c in "\r\n\0")):
        raise ApiError(422, "event must be a non-empty name without line breaks or NUL")
    denied = refusal(request.scope, shared(request).settings.jwt, "publish", topic)
    if denied is not None:
        raise ApiError(denied.status, str(denied), denied.headers)
    raw = await read_body(request)
    try:
        data = raw.decode()
    except UnicodeDecodeError:
        raise ApiError(400, "request body is not UTF-8") from None
    broker = shared(request).hub.broker
    if not broker.keeps_unsubscribed and not broker.fanout.has_subscribers(topic):
        message = f"topic {topic!r} has no subscribers; subscribe first with GET /subscribe"
        return JsonBody({"error": message, "subscribers": 0}, status_code=404)
    try:
        published = await broker.publish(topic, event, data)
    except BrokerUnavailableError as exc:
        raise ApiError(503, str(exc), {"Retry-After": "1"}) from None
    body = {"id": published.id, "subscribers": published.subscribers, "topic": topic}
    return JsonBody(body)
