"""The demo streams: GET / (a message), POST /sse (a posted message), GET /counter,
GET /clock and GET /showcase."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from typing import Annotated

from fastapi import Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from sse_cli.encode import encode_comment, encode_event
from sse_cli.serve.streams import ApiError, Delay, delay_of, paced, read_model, stream

DEFAULT_MESSAGE = "七夕情人节即将来临,我们为您准备了精美的鲜花和美味的蛋糕"
MESSAGE_RETRY_MS = 15000
MAX_MESSAGE = 100_000  # characters in a message to stream back
MAX_LIMIT = 10**9

Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT)]

ID_EVENT = encode_event("an event with an id", id="1")
SHOWCASE_END = "2"  # the last event's id: a reconnect that carries it gets 204
SHOWCASE = (
    encode_comment("sse-cli showcase: one of every wire feature"),
    b"retry: 3000\n\n",
    encode_event("hello", event="greeting"),
    ID_EVENT,
    encode_event("line one\nline two\nline three", event="multiline"),
    encode_event(json.dumps({"n": 1, "ok": True, "tags": ["a", "b"]}), event="json"),
    encode_comment("a comment: clients ignore it, proxies see traffic"),
    encode_event("unicode survives: 七夕 ✓ 🎉", event="message"),
    encode_event("something went wrong (a demo error)", event="error", id=SHOWCASE_END),
)
SHOWCASE_RESUME = {"1": SHOWCASE.index(ID_EVENT) + 1}  # Last-Event-ID -> where to go on

LastEventId = Annotated[str | None, Header()]
ENDED = 204  # a finite stream answers a reconnect after its last id so: EventSource stops


def characters(message: str, start: int | None = None) -> Iterator[bytes]:
    """The message from its `start`th character on, each event's id its position; with no
    `start`, all of it without ids (POST /sse: a client would resend the POST to resume)."""
    first = start or 1
    for n, character in enumerate(message[first - 1 :], first):
        ids = str(n) if start is not None else None
        yield encode_event(character, event="message", id=ids, retry=MESSAGE_RETRY_MS)


async def message_stream(
    request: Request,
    message: Annotated[str, Query(min_length=1, max_length=MAX_MESSAGE)] = DEFAULT_MESSAGE,
    delay: Delay = None,
    last_event_id: LastEventId = None,
) -> Response:
    """GET /: the message, one character per event; resumes after Last-Event-ID. A browser
    navigating here (Accept: text/html, not text/event-stream) gets the /ui page."""
    accept = request.headers.get("accept", "")
    if "text/html" in accept and "text/event-stream" not in accept:
        from sse_cli.serve.ui import ui

        return await ui()
    start = first_after(last_event_id)
    if start > len(message):
        return Response(status_code=ENDED)
    return stream(request, paced(characters(message, start), delay_of(request, delay)))


class EchoRequest(BaseModel):
    message: str = Field(min_length=1)


async def echo_stream(request: Request, delay: Delay = None) -> Response:
    """POST /sse: the posted `{"message": ...}`, one character per event."""
    message = (await read_model(request, EchoRequest)).message
    if len(message) > MAX_MESSAGE:
        raise ApiError(413, f'"message" is over {MAX_MESSAGE} characters')
    return stream(request, paced(characters(message), delay_of(request, delay)))


def first_after(last_event_id: str | None) -> int:
    """The counter to start at: 1, or one past a valid Last-Event-ID (else 400)."""
    if not last_event_id:
        return 1
    ok = last_event_id.isascii() and last_event_id.isdigit() and len(last_event_id) <= 10
    if not ok or int(last_event_id) >= MAX_LIMIT:
        shown = last_event_id[:24]
        message = f"Last-Event-ID must be a counter id (0 to {MAX_LIMIT - 1}), not {shown!r}"
        raise ApiError(400, message)
    return int(last_event_id) + 1


def counted(start: int, end: int, retry: int | None) -> Iterator[bytes]:
    for n in range(start, end + 1):
        text = str(n)
        yield encode_event(text, id=text, retry=retry if n == start else None)


async def counter(
    request: Request,
    limit: Limit = None,
    drop_after: Limit = None,
    delay: Delay = None,
    retry: Annotated[int | None, Query(ge=0, le=86_400_000)] = None,
    last_event_id: LastEventId = None,
) -> Response:
    """GET /counter: ids 1, 2, 3 ...; resumes after Last-Event-ID."""
    start = first_after(last_event_id)
    if limit is not None and start > limit:
        return Response(status_code=ENDED)
    end = limit if limit is not None else MAX_LIMIT
    if drop_after is not None:
        end = min(end, start + drop_after - 1)
    if retry is None and drop_after is not None:
        retry = 250
    return stream(request, paced(counted(start, end, retry), delay_of(request, delay)))


def rfc3339(ns: int) -> str:
    moment = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


async def ticks(interval: float, limit: int | None, start: int = 1) -> AsyncIterator[bytes]:
    began = time.monotonic()
    for seq in range(start, (limit if limit is not None else MAX_LIMIT) + 1):
        now = time.time_ns()
        data = json.dumps({"seq": seq, "t_ns": now, "time": rfc3339(now)})
        yield encode_event(data, event="tick", id=str(seq))
        await asyncio.sleep(max(0.0, began + (seq - start + 1) * interval - time.monotonic()))


async def clock_stream(
    request: Request,
    interval: Annotated[float, Query(ge=0.001, le=3600)] = 1.0,
    limit: Limit = None,
    last_event_id: LastEventId = None,
) -> Response:
    """GET /clock: a tick event every `interval` seconds, its time as JSON; resumes after
    Last-Event-ID, and after the last of `limit` ticks answers 204."""
    start = first_after(last_event_id)
    if limit is not None and start > limit:
        return Response(status_code=ENDED)
    return stream(request, ticks(interval, limit, start))


async def showcase(
    request: Request, delay: Delay = None, last_event_id: LastEventId = None
) -> Response:
    """GET /showcase: one of every wire feature; a reconnect after its last id gets 204."""
    if last_event_id == SHOWCASE_END:
        return Response(status_code=ENDED)
    blocks = SHOWCASE[SHOWCASE_RESUME.get(last_event_id or "", 0) :]
    return stream(request, paced(blocks, delay_of(request, delay)))
