"""Publish and subscribe: the broker behind a small interface, GET /subscribe and POST /publish.

`MemoryBroker` keeps topics in this process: a publish encodes an event once and queues the
bytes for each subscriber. GET /subscribe is a bare ASGI app, not a FastAPI endpoint with an
EventSourceResponse: a stream is one coroutine asleep on one future plus a disconnect
waiter, one heartbeat task serves every subscriber, and a publish wakes each writer once.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Protocol
from urllib.parse import parse_qs

from fastapi import Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from sse_cli.encode import encode_comment, encode_event
from sse_cli.serve.streams import (
    SECURITY_HEADERS,
    Activity,
    ApiError,
    error_response,
    read_body,
    shared,
)

TOPIC = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
TOPIC_RULE = "topic must be 1 to 64 letters, digits or . _ : -"
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
PING = b": ping\n\n"
FAREWELL = encode_comment("dropped: this client fell too far behind")


class Subscriber:
    """One /subscribe stream's inbox: encoded events waiting to be written, and the future
    its writer sleeps on while there are none."""

    __slots__ = ("dropped", "pending", "wake")

    def __init__(self) -> None:
        self.pending: list[bytes] = []
        self.wake: asyncio.Future[None] | None = None
        self.dropped = False

    def notify(self) -> None:
        wake = self.wake
        if wake is not None and not wake.done():
            wake.set_result(None)


class Broker(Protocol):
    """Topics and their subscribers, as /subscribe and /publish use them."""

    def subscribe(self, topic: str) -> Subscriber: ...

    def unsubscribe(self, topic: str, subscriber: Subscriber) -> None: ...

    def publish(self, topic: str, block: bytes) -> int:
        """Queue encoded events for every subscriber of `topic`; how many it reached."""
        ...

    def has_subscribers(self, topic: str) -> bool: ...

    def everyone(self) -> Iterator[Subscriber]:
        """Every subscriber of every topic (for the heartbeat and shutdown)."""
        ...

    @property
    def subscribers(self) -> int: ...


@dataclass
class MemoryBroker:
    """The broker in this process's memory; a subscriber `queue_size` blocks behind is
    dropped."""

    queue_size: int
    topics: dict[str, set[Subscriber]] = field(default_factory=dict)

    def subscribe(self, topic: str) -> Subscriber:
        subscriber = Subscriber()
        self.topics.setdefault(topic, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        subscribers = self.topics.get(topic)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self.topics[topic]

    def publish(self, topic: str, block: bytes) -> int:
        reached = 0
        for subscriber in list(self.topics.get(topic, ())):
            if len(subscriber.pending) >= self.queue_size:
                subscriber.dropped = True
                self.unsubscribe(topic, subscriber)
            else:
                subscriber.pending.append(block)
                reached += 1
            subscriber.notify()
        return reached

    def has_subscribers(self, topic: str) -> bool:
        return topic in self.topics

    def everyone(self) -> Iterator[Subscriber]:
        for subscribers in list(self.topics.values()):
            yield from subscribers

    @property
    def subscribers(self) -> int:
        return sum(len(s) for s in self.topics.values())


class Hub:
    """One app's /subscribe state: its broker, the heartbeat task and whether it is closing."""

    def __init__(self, broker: Broker, activity: Activity, ping: float | None) -> None:
        self.broker = broker
        self.activity = activity
        self.ping = ping
        self.closing = False
        self.heartbeat: asyncio.Task[None] | None = None

    def start_heartbeat(self) -> None:
        if self.ping and self.heartbeat is None:
            self.heartbeat = asyncio.ensure_future(self._beat(self.ping))

    def close(self) -> None:
        """End every stream (the server is shutting down)."""
        self.closing = True
        for subscriber in self.broker.everyone():
            subscriber.notify()
        if self.heartbeat is not None:
            self.heartbeat.cancel()

    async def _beat(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            for subscriber in self.broker.everyone():
                if not subscriber.pending:
                    subscriber.pending.append(PING)
                    subscriber.notify()


class SubscribeStream:
    """GET /subscribe as a bare ASGI app; its state is the app's `Hub`, so one instance
    serves every app."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub: Hub = scope["app"].state.shared.hub
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        topic = query.get("topic", ["default"])[-1]
        if scope["method"] not in ("GET", "HEAD"):
            await error_response(405, "use GET to subscribe", BARE_HEADERS)(scope, receive, send)
            return
        if not TOPIC.fullmatch(topic):
            await error_response(400, TOPIC_RULE, BARE_HEADERS)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEAD})
        if scope["method"] == "HEAD" or hub.closing:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        hub.start_heartbeat()
        subscriber = hub.broker.subscribe(topic)
        gone = asyncio.ensure_future(disconnected(receive))
        gone.add_done_callback(lambda _: subscriber.notify())
        try:
            with hub.activity.generator():
                await feed(hub, topic, subscriber, gone, send)
        finally:
            hub.broker.unsubscribe(topic, subscriber)
            gone.cancel()


async def feed(
    hub: Hub, topic: str, subscriber: Subscriber, gone: asyncio.Future[None], send: Send
) -> None:
    """Write what the subscriber's inbox holds each time it is woken, until the client goes,
    the server closes, or the subscriber is dropped for falling behind."""
    loop = asyncio.get_running_loop()
    body = encode_comment(f"subscribed to topic {topic}")
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
            body = b"".join(subscriber.pending)
            subscriber.pending.clear()
            hub.activity.events_sent += body.count(b"\n\n")
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def disconnected(receive: Receive) -> None:
    """Return once the client has gone (the request body, if any, is read and dropped)."""
    while (await receive())["type"] != "http.disconnect":
        pass


subscribe = SubscribeStream()


async def publish(
    request: Request,
    topic: str = "default",
    event: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    """POST /publish: the body as one event to every subscriber of the topic."""
    if not TOPIC.fullmatch(topic):
        raise ApiError(400, TOPIC_RULE)
    if event is not None and (not event or any(c in event for c in "\r\n\0")):
        raise ApiError(422, "event must be a non-empty name without line breaks or NUL")
    raw = await read_body(request)
    try:
        data = raw.decode()
    except UnicodeDecodeError:
        raise ApiError(400, "request body is not UTF-8") from None
    broker = shared(request).hub.broker
    if not broker.has_subscribers(topic):
        message = f"topic {topic!r} has no subscribers; subscribe first with GET /subscribe"
        return JSONResponse({"error": message, "subscribers": 0}, status_code=404)
    reached = broker.publish(topic, encode_event(data, event=event))
    return JSONResponse({"subscribers": reached, "topic": topic})
