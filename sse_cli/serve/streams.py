"""What every endpoint shares: the app's state (`sse_cli.serve.state`), pacing, the
event-stream response, and the one way a request body is read and validated (refusals.py
holds the error shapes).

Endpoint modules import from here; this module imports no endpoint module.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent

from sse_cli.serve.refusals import ApiError, JsonBody, error_response, invalid_field, kind_of
from sse_cli.serve.state import shared

MAX_DELAY = 60.0  # seconds: the largest pause a query may ask for
BATCH_BYTES = 16384  # events ready together are written in pieces of about this size
SEND_TIMEOUT = 60.0  # seconds a single write may wait on a client that stopped reading
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-accel-buffering", b"no"),
)

# for the endpoint modules, from one place
__all__ = ["ApiError", "JsonBody", "error_response", "shared"]

Model = TypeVar("Model", bound=BaseModel)
Delay = Annotated[float | None, Query(ge=0, le=MAX_DELAY, description="seconds between events")]


def delay_of(request: Request, value: float | None) -> float:
    """The pause a query asked for, or the server's --delay."""
    return shared(request).settings.delay if value is None else value


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


def stream(
    request: Request,
    source: AsyncIterator[bytes],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    heartbeat: bool = True,
) -> EventSourceResponse:
    """The event-stream response for encoded events from `source`, counted in the activity
    and with the server's heartbeat comments (none with `heartbeat=False`); a replay gives
    its recording's status and headers."""
    state = shared(request)
    activity = state.activity

    async def tracked() -> AsyncIterator[bytes]:
        with activity.generator():
            async for chunk in source:
                activity.events_sent += chunk.count(b"\n\n")
                yield chunk
                await asyncio.sleep(0)  # a checkpoint: a gone client's cancel lands here

    return EventSourceResponse(
        tracked(),
        status_code=status,
        headers={"Cache-Control": "no-cache"} if headers is None else dict(headers),
        ping=(state.settings.ping or 0) if heartbeat else 0,
        ping_message_factory=lambda: ServerSentEvent(comment="ping", sep="\n"),
        sep="\n",
        send_timeout=SEND_TIMEOUT,
    )


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 once it passes the server's --max-body.

    The one way an endpoint reads a body. A client that leaves before its body is complete
    raises Starlette's `ClientDisconnect`, which the app's one handler ends quietly."""
    limit = shared(request).settings.max_body
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body of {declared} bytes is over the {limit}-byte limit")
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise ApiError(413, f"request body is over the {limit}-byte limit")
    return bytes(body)


async def read_json(request: Request) -> Any:
    """The request body as JSON, refused with 400 naming what is wrong with it."""
    raw = await read_body(request)
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


async def read_model(request: Request, model: type[Model]) -> Model:
    """The request body as JSON, validated strictly (no "yes" for a boolean) by `model`:
    the one way an endpoint takes a JSON body. A refusal names the first field at fault."""
    value = await read_json(request)
    if not isinstance(value, dict):
        raise ApiError(422, f"request body must be a JSON object, not {kind_of(value)}")
    try:
        return model.model_validate(value, strict=True)
    except ValidationError as exc:
        raise invalid_field(exc.errors()[0]) from None


async def stats(request: Request) -> Response:
    """GET /stats: the activity counters, the broker's subscribers and the running tasks."""
    state = shared(request)
    return JsonBody(
        {
            "generators": state.activity.generators,
            "streams_started": state.activity.streams_started,
            "events_sent": state.activity.events_sent + state.hub.broker.fanout.written,
            "abandoned": state.activity.abandoned,
            "subscribers": state.hub.broker.subscribers,
            "tasks": len(asyncio.all_tasks()),
        }
    )
