"""`sse-cli serve`: the demo and mock event-stream server (FastAPI + sse-starlette on uvicorn).

`create_app(settings)` builds a fresh app (tests make one per server); `run_server(settings)`
binds the socket itself, so `--port 0` reports the port it got, prints the banner on
stderr and runs uvicorn until Ctrl-C or SIGTERM, which end open streams within a second
and exit 0.

Every stream is pre-encoded bytes (`sse_cli.encode`): events that are ready at the same
moment go out in one write, and an event produced after a pause goes out the moment it
exists. Most endpoints are generators behind sse-starlette's `EventSourceResponse`;
`/subscribe` is a bare ASGI stream, lean enough for thousands of idle subscribers. A client
that leaves stops its stream at once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import math
import re
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from typing import Annotated, Any
from urllib.parse import parse_qs

import uvicorn
from fastapi import FastAPI, Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sse_cli.encode import encode_comment, encode_event
from sse_cli.errors import SseCliError

DEFAULT_MESSAGE = "七夕情人节即将来临,我们为您准备了精美的鲜花和美味的蛋糕"
MESSAGE_RETRY_MS = 15000
MAX_DELAY = 60.0  # seconds: the largest pause a query may ask for
MAX_MESSAGE = 100_000  # characters in a message to stream back
MAX_LIMIT = 10**9
BATCH_BYTES = 16384  # events ready together are written in pieces of about this size
SEND_TIMEOUT = 60.0  # seconds a single write may wait on a client that stopped reading
TOPIC = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
TOPIC_RULE = "topic must be 1 to 64 letters, digits or . _ : -"
STREAM_PATHS = frozenset(
    {"/", "/sse", "/counter", "/clock", "/showcase", "/subscribe", "/v1/chat/completions"}
)
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-accel-buffering", b"no"),
)


class ServeError(SseCliError):
    """The server could not start (the address is taken, say)."""


@dataclass(frozen=True)
class ServeSettings:
    """Everything `sse-cli serve` is told; defaults match the command's."""

    host: str = "127.0.0.1"
    port: int = 8000
    delay: float = 0.1  # seconds between events
    ping: float | None = None  # seconds between heartbeat comments; None: none
    cors_origins: tuple[str, ...] = ()
    max_streams: int = 1000  # open streams at once; more get 503
    rate_limit: float = 100.0  # requests per second per client address; 0: no limit
    max_body: int = 1 << 20  # bytes in a request body; more get 413
    queue_size: int = 1000  # events a subscriber may fall behind before it is dropped
    access_log: bool = True
    shutdown_timeout: int = 1  # seconds open streams get to end on Ctrl-C


class ApiError(Exception):
    """A request the server refuses: its status and a message naming the problem."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


# ----------------------------------------------------------------------------- bookkeeping


@dataclass
class Activity:
    """What the server is doing, for `/stats` and the leak tests."""

    generators: int = 0  # stream generators running now
    streams_started: int = 0
    events_sent: int = 0

    @contextlib.contextmanager
    def generator(self) -> Iterator[None]:
        self.generators += 1
        self.streams_started += 1
        try:
            yield
        finally:
            self.generators -= 1


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


@dataclass
class Broker:
    """Topics and their subscribers; a publish encodes once and queues the bytes for each."""

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
        """Queue `block` for every subscriber of `topic`; drop those too far behind."""
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

    @property
    def subscribers(self) -> int:
        return sum(len(s) for s in self.topics.values())


class SubscribeStream:
    """GET /subscribe as a bare ASGI app, not a FastAPI route with an EventSourceResponse.

    A stream is one coroutine asleep on one future, plus a disconnect waiter: no task group,
    no per-stream timer. One heartbeat task serves every subscriber, and a publish wakes each
    writer once. So thousands of idle subscribers stay cheap in memory and a publish reaches
    them fast (bench/ measures both against a plain sse-starlette broadcast).
    """

    def __init__(self, broker: Broker, activity: Activity, ping: float | None) -> None:
        self.broker = broker
        self.activity = activity
        self.ping = ping
        self.closing = False
        self.heartbeat: asyncio.Task[None] | None = None

    def close(self) -> None:
        """End every stream (the server is shutting down)."""
        self.closing = True
        for subscribers in list(self.broker.topics.values()):
            for subscriber in subscribers:
                subscriber.notify()
        if self.heartbeat is not None:
            self.heartbeat.cancel()

    async def _beat(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            for subscribers in list(self.broker.topics.values()):
                for subscriber in subscribers:
                    if not subscriber.pending:
                        subscriber.pending.append(PING)
                        subscriber.notify()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        topic = query.get("topic", ["default"])[-1]
        if scope["method"] not in ("GET", "HEAD"):
            await error_response(405, "use GET to subscribe", BARE_HEADERS)(scope, receive, send)
            return
        if not TOPIC.fullmatch(topic):
            await error_response(400, TOPIC_RULE, BARE_HEADERS)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEAD})
        if scope["method"] == "HEAD" or self.closing:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if self.ping and self.heartbeat is None:
            self.heartbeat = asyncio.ensure_future(self._beat(self.ping))
        subscriber = self.broker.subscribe(topic)
        gone = asyncio.ensure_future(disconnected(receive))
        gone.add_done_callback(lambda _: subscriber.notify())
        try:
            with self.activity.generator():
                await self._feed(topic, subscriber, gone, send)
        finally:
            self.broker.unsubscribe(topic, subscriber)
            gone.cancel()

    async def _feed(
        self, topic: str, subscriber: Subscriber, gone: asyncio.Future[None], send: Send
    ) -> None:
        loop = asyncio.get_running_loop()
        body = encode_comment(f"subscribed to topic {topic}")
        while True:
            await send({"type": "http.response.body", "body": body, "more_body": True})
            if body is FAREWELL:
                break
            while not subscriber.pending and not subscriber.dropped:
                if gone.done() or self.closing:
                    break
                subscriber.wake = loop.create_future()
                await subscriber.wake
                subscriber.wake = None
            if gone.done():
                return
            if self.closing:
                break
            if subscriber.dropped:
                body = FAREWELL  # what was still pending is not sent: the client is too slow
            else:
                body = b"".join(subscriber.pending)
                subscriber.pending.clear()
                self.activity.events_sent += body.count(b"\n\n")
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def disconnected(receive: Receive) -> None:
    """Return once the client has gone (the request body, if any, is read and dropped)."""
    while (await receive())["type"] != "http.disconnect":
        pass


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


# ----------------------------------------------------------------------------- guard middleware


class Guard:
    """Caps, headers and bare routes for every request: a token bucket per client address
    (429), a cap on open streams (503), both with Retry-After; nosniff and X-Accel-Buffering
    on every response and Cache-Control: no-cache unless the endpoint set one."""

    def __init__(
        self,
        app: ASGIApp,
        settings: ServeSettings,
        clock: Callable[[], float],
        routes: dict[str, ASGIApp],
    ) -> None:
        self.app = app
        self.routes = routes  # paths answered by a bare ASGI app, past FastAPI
        self.rate = settings.rate_limit
        self.max_streams = settings.max_streams
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, time)
        self.open_streams = 0

    def _allow(self, client: str) -> bool:
        now = self.clock()
        tokens, then = self.buckets.get(client, (self.rate, now))
        tokens = min(self.rate, tokens + (now - then) * self.rate)
        if tokens < 1:
            self.buckets[client] = (tokens, now)
            return False
        if len(self.buckets) > 10_000 and client not in self.buckets:
            self.buckets.clear()  # bounded memory against many addresses
        self.buckets[client] = (tokens - 1, now)
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "-"
        state = {"started": False, "complete": False}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                state["complete"] = True
            elif message["type"] == "http.response.start":
                state["started"] = True
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        if self.rate > 0 and not self._allow(client):
            retry = str(max(1, math.ceil(1 / self.rate)))
            message = f"too many requests from {client}: the limit is {self.rate:g} per second"
            await error_response(429, message, {"Retry-After": retry})(
                scope, receive, send_with_headers
            )
            return
        is_stream = scope["path"] in STREAM_PATHS
        if is_stream and self.open_streams >= self.max_streams:
            message = f"too many open streams: the limit is {self.max_streams}"
            await error_response(503, message, {"Retry-After": "1"})(
                scope, receive, send_with_headers
            )
            return

        if is_stream:
            self.open_streams += 1
        try:
            bare = self.routes.get(scope["path"])
            if bare is not None:  # sets its own headers and ends its own body
                await bare(scope, receive, send)
                return
            await self.app(scope, receive, send_with_headers)
            if state["started"] and not state["complete"]:
                # A stream cut short by shutdown: end its body cleanly for the client.
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if is_stream:
                self.open_streams -= 1


# ----------------------------------------------------------------------------- stream helpers


async def paced(blocks: Iterable[bytes], delay: float) -> AsyncIterator[bytes]:
    """Yield encoded events: one per `delay` seconds, or, with no delay, joined in pieces."""
    if delay > 0:
        first = True
        for block in blocks:
            if not first:
                await asyncio.sleep(delay)
            first = False
            yield block
        return
    batch: list[bytes] = []
    size = 0
    for block in blocks:
        batch.append(block)
        size += len(block)
        if size >= BATCH_BYTES:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)


def characters(message: str) -> Iterator[bytes]:
    for character in message:
        yield encode_event(character, event="message", retry=MESSAGE_RETRY_MS)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 once it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body of {declared} bytes is over the {limit}-byte limit")
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise ApiError(413, f"request body is over the {limit}-byte limit")
    return bytes(body)


def parse_json_body(raw: bytes) -> Any:
    try:
        value = json.loads(raw)
    except UnicodeDecodeError:
        raise ApiError(400, "request body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "request body is not valid JSON: nested too deeply") from None
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        message = (
            "request body is not valid JSON: a string holds a lone surrogate (\\ud800-\\udfff)"
        )
        raise ApiError(400, message) from None
    return value


def rfc3339(ns: int) -> str:
    moment = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


# ----------------------------------------------------------------------------- OpenAI mock


class ChatMessage(BaseModel):
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model: str = "sse-cli-mock"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


def chat_reply(request: ChatRequest) -> str:
    """The mock's answer: it echoes the last user message."""
    said = ""
    for message in reversed(request.messages):
        if message.role == "user":
            content = message.content
            if isinstance(content, list):
                content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            said = content or ""
            break
    return f"Hello! You said: {said}" if said else "Hello! How can I help you today?"


def words(text: str) -> list[str]:
    """Split text into tokens as LLM streams do: each word carries its leading space."""
    return re.findall(r"\s*\S+|\s+$", text)


def chat_chunks(completion_id: str, created: int, model: str, reply: str) -> Iterator[bytes]:
    def chunk(delta: dict[str, str], finish: str | None) -> bytes:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_sse_cli",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        return encode_event(json.dumps(body, ensure_ascii=False, separators=(",", ":")))

    yield chunk({"role": "assistant", "content": ""}, None)
    for word in words(reply):
        yield chunk({"content": word}, None)
    yield chunk({}, "stop")
    yield encode_event("[DONE]")


def chat_completion(completion_id: str, created: int, model: str, reply: str) -> dict[str, Any]:
    tokens = len(words(reply))
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_sse_cli",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": tokens, "total_tokens": tokens},
    }


# ----------------------------------------------------------------------------- the page


def ui_page() -> tuple[str, str]:
    """The `/ui` page and its Content-Security-Policy: only its own script and style run."""
    page = resources.files("sse_cli").joinpath("static/ui.html").read_text(encoding="utf-8")

    def digest(tag: str) -> str:
        body = page.split(f"<{tag}>", 1)[1].split(f"</{tag}>", 1)[0]
        return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"

    policy = (
        f"default-src 'none'; script-src {digest('script')}; style-src {digest('style')}; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return page, policy


SHOWCASE = (
    encode_comment("sse-cli showcase: one of every wire feature"),
    b"retry: 3000\n\n",
    encode_event("hello", event="greeting"),
    encode_event("an event with an id", id="1"),
    encode_event("line one\nline two\nline three", event="multiline"),
    encode_event(json.dumps({"n": 1, "ok": True, "tags": ["a", "b"]}), event="json"),
    encode_comment("a comment: clients ignore it, proxies see traffic"),
    encode_event("unicode survives: 七夕 ✓ 🎉", event="message"),
    encode_event("something went wrong (a demo error)", event="error"),
)


# ----------------------------------------------------------------------------- the app

Delay = Annotated[float | None, Query(ge=0, le=MAX_DELAY, description="seconds between events")]
Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT)]


def create_app(settings: ServeSettings, clock: Callable[[], float] = time.monotonic) -> FastAPI:
    """A fresh app for `settings`: no state is shared between two apps."""
    app = FastAPI(title="sse-cli serve", docs_url=None, redoc_url=None, openapi_url=None)
    activity = Activity()
    broker = Broker(settings.queue_size)
    app.state.activity = activity
    app.state.broker = broker
    page, policy = ui_page()

    def stream(source: AsyncIterator[bytes], ping: bool = True) -> EventSourceResponse:
        async def tracked() -> AsyncIterator[bytes]:
            with activity.generator():
                async for chunk in source:
                    activity.events_sent += chunk.count(b"\n\n")
                    yield chunk
                    await asyncio.sleep(0)  # a checkpoint: a gone client's cancel lands here

        return EventSourceResponse(
            tracked(),
            headers={"Cache-Control": "no-cache"},
            ping=(settings.ping or 0) if ping else 0,
            ping_message_factory=lambda: ServerSentEvent(comment="ping", sep="\n"),
            sep="\n",
            send_timeout=SEND_TIMEOUT,
        )

    def delay_of(value: float | None) -> float:
        return settings.delay if value is None else value

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
        body = {"error": "; ".join(problems), "detail": jsonable_encoder(exc.errors())}
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            message = f"no endpoint at {request.url.path}; see GET /ui or 'sse-cli serve --help'"
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, message, getattr(exc, "headers", None))

    @app.get("/")
    async def message_stream(
        message: Annotated[str, Query(min_length=1, max_length=MAX_MESSAGE)] = DEFAULT_MESSAGE,
        delay: Delay = None,
    ) -> Response:
        return stream(paced(characters(message), delay_of(delay)))

    @app.post("/sse")
    async def echo_stream(request: Request, delay: Delay = None) -> Response:
        body = parse_json_body(await read_body(request, settings.max_body))
        if not isinstance(body, dict) or "message" not in body:
            raise ApiError(422, 'body must be a JSON object with a "message" string')
        message = body["message"]
        if not isinstance(message, str) or not message:
            raise ApiError(422, '"message" must be a non-empty string')
        if len(message) > MAX_MESSAGE:
            raise ApiError(413, f'"message" is over {MAX_MESSAGE} characters')
        return stream(paced(characters(message), delay_of(delay)))

    @app.get("/counter")
    async def counter(
        limit: Limit = None,
        drop_after: Limit = None,
        delay: Delay = None,
        retry: Annotated[int | None, Query(ge=0, le=86_400_000)] = None,
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> Response:
        start = 1
        if last_event_id:
            ok = last_event_id.isascii() and last_event_id.isdigit() and len(last_event_id) <= 10
            if not ok or int(last_event_id) >= MAX_LIMIT:
                shown = last_event_id[:24]
                message = (
                    f"Last-Event-ID must be a counter id (0 to {MAX_LIMIT - 1}), not {shown!r}"
                )
                raise ApiError(400, message)
            start = int(last_event_id) + 1
        if limit is not None and start > limit:
            return Response(status_code=204)  # all sent: tells EventSource to stop
        end = limit if limit is not None else MAX_LIMIT
        if drop_after is not None:
            end = min(end, start + drop_after - 1)
        if retry is None and drop_after is not None:
            retry = 250

        def blocks() -> Iterator[bytes]:
            for n in range(start, end + 1):
                text = str(n)
                yield encode_event(text, id=text, retry=retry if n == start else None)

        return stream(paced(blocks(), delay_of(delay)))

    @app.get("/clock")
    async def clock_stream(
        interval: Annotated[float, Query(ge=0.001, le=3600)] = 1.0,
        limit: Limit = None,
    ) -> Response:
        async def ticks() -> AsyncIterator[bytes]:
            began = time.monotonic()
            seq = 0
            while limit is None or seq < limit:
                seq += 1
                now = time.time_ns()
                data = json.dumps({"seq": seq, "t_ns": now, "time": rfc3339(now)})
                yield encode_event(data, event="tick", id=str(seq))
                await asyncio.sleep(max(0.0, began + seq * interval - time.monotonic()))

        return stream(ticks())

    @app.get("/showcase")
    async def showcase(delay: Delay = None) -> Response:
        return stream(paced(SHOWCASE, delay_of(delay)))

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request, delay: Delay = None) -> Response:
        raw = parse_json_body(await read_body(request, settings.max_body))
        try:
            body = ChatRequest.model_validate(raw)
        except ValidationError as exc:  # name the fields at fault
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            raise ApiError(422, problems or "invalid chat completion request") from None
        completion_id = f"chatcmpl-{activity.streams_started + 1:08d}"
        created = int(time.time())
        reply = chat_reply(body)
        if not body.stream:
            return JSONResponse(chat_completion(completion_id, created, body.model, reply))
        chunks = chat_chunks(completion_id, created, body.model, reply)
        return stream(paced(chunks, delay_of(delay)))

    @app.post("/publish")
    async def publish(
        request: Request,
        topic: str = "default",
        event: Annotated[str | None, Query(max_length=256)] = None,
    ) -> Response:
        if not TOPIC.fullmatch(topic):
            raise ApiError(400, TOPIC_RULE)
        if event is not None and (not event or any(c in event for c in "\r\n\0")):
            raise ApiError(422, "event must be a non-empty name without line breaks or NUL")
        raw = await read_body(request, settings.max_body)
        try:
            data = raw.decode()
        except UnicodeDecodeError:
            raise ApiError(400, "request body is not UTF-8") from None
        if topic not in broker.topics:
            message = f"topic {topic!r} has no subscribers; subscribe first with GET /subscribe"
            return JSONResponse({"error": message, "subscribers": 0}, status_code=404)
        reached = broker.publish(topic, encode_event(data, event=event))
        return JSONResponse({"subscribers": reached, "topic": topic})

    @app.get("/ui")
    async def ui() -> Response:
        return HTMLResponse(page, headers={"Content-Security-Policy": policy})

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)  # browsers ask; there is none

    @app.get("/stats")
    async def stats() -> Response:
        return JSONResponse(
            {
                "generators": activity.generators,
                "streams_started": activity.streams_started,
                "events_sent": activity.events_sent,
                "subscribers": broker.subscribers,
                "tasks": len(asyncio.all_tasks()),
            }
        )

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Last-Event-ID", "Authorization"],
            max_age=600,
        )
    subscribe = SubscribeStream(broker, activity, settings.ping)
    app.state.subscribe = subscribe
    routes: dict[str, ASGIApp] = {"/subscribe": subscribe}
    app.add_middleware(Guard, settings=settings, clock=clock, routes=routes)  # outermost
    return app


# ----------------------------------------------------------------------------- running


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
    },
}


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
        import signal

        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


ENDPOINTS = (  # method, path, what it does, a command that reads it ({u}: the base URL)
    ("GET", "/", "a message, one character per event", "sse-cli listen {u}/"),
    ("POST", "/sse", "streams back a posted message", "sse-cli listen {u}/sse --json '{j}'"),
    (
        "GET",
        "/counter",
        "ids 1, 2, 3 ...; resumes after Last-Event-ID",
        "sse-cli listen {u}/counter",
    ),
    ("GET", "/clock", "a tick event a second, its time as JSON", "sse-cli listen {u}/clock"),
    ("GET", "/showcase", "one of every wire feature", "sse-cli listen {u}/showcase"),
    (
        "POST",
        "/v1/chat/completions",
        "an OpenAI-compatible mock",
        "sse-cli listen {u}/v1/chat/completions --json '{c}' -f text",
    ),
    ("GET", "/subscribe", "live fan-out of what /publish sends", "sse-cli listen {u}/subscribe"),
    ("POST", "/publish", "one event to every subscriber", "curl -d hello {u}/publish"),
    ("GET", "/ui", "a page that shows the streams live", "open {u}/ui in a browser"),
)
CHAT_EXAMPLE = '{"messages": [{"role": "user", "content": "hi"}], "stream": true}'


def banner(settings: ServeSettings, port: int) -> list[str]:
    """The start-up lines: the address bound, then each endpoint with a command to try."""
    host = settings.host
    shown = f"[{host}]" if ":" in host else host
    wildcard = host in ("0.0.0.0", "::", "")
    base = f"http://{shown}:{port}"
    local = f"http://127.0.0.1:{port}" if wildcard else base
    lines = [f"sse-cli: serving on {base} (Ctrl-C to stop)"]
    for method, path, what, command in ENDPOINTS:
        example = command.format(u=local, j='{"message": "hello"}', c=CHAT_EXAMPLE)
        lines.append(f"  {method:<4} {path:<21} {what:<45} {example}")
    if wildcard:
        lines.append(
            "sse-cli: warning: listening on every interface: anyone who can reach this "
            "machine can connect (use --host 127.0.0.1 to keep it local)"
        )
    return lines


def bind(settings: ServeSettings) -> socket.socket:
    """The listening socket. Its protocol is set to TCP explicitly: asyncio turns Nagle's
    algorithm off (TCP_NODELAY) only on sockets that say so, and with it on every small
    response waits about 40 ms for a delayed ACK."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((settings.host, settings.port))
        sock.listen(4096)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ServeError(
            f"cannot listen on {settings.host}:{settings.port}: {reason}",
            "pick another --port, or --port 0 for a free one",
        ) from None
    except (UnicodeError, ValueError) as exc:
        sock.close()
        raise ServeError(f"cannot listen on {settings.host}:{settings.port}: {exc}") from None
    return sock


def run_server(settings: ServeSettings) -> None:
    """Serve until Ctrl-C or SIGTERM; the banner goes to stderr once the port is bound."""
    sock = bind(settings)
    port = int(sock.getsockname()[1])
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        log_config=LOG_CONFIG,
        access_log=settings.access_log,
        lifespan="off",
        timeout_graceful_shutdown=settings.shutdown_timeout,
        server_header=False,
    )
    sys.stderr.write("\n".join(banner(settings, port)) + "\n")
    sys.stderr.flush()
    _Server(config, on_exit=app.state.subscribe.close).run(sockets=[sock])
