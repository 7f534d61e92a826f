"""POST /v1/chat/completions: an OpenAI-compatible mock that echoes the last user message,
word by word as `chat.completion.chunk` events, or whole as one `chat.completion`."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from sse_cli.encode import encode_event
from sse_cli.serve.streams import (
    ApiError,
    Delay,
    JsonBody,
    delay_of,
    paced,
    read_model,
    shared,
    stream,
)

MOCK_MODEL = "sse-cli-mock"
CREATED = 1_700_000_000  # the models' creation time: fixed, as a real model's is


class ChatMessage(BaseModel):
    role: str
    content: Any = None

    @field_validator("content", mode="plain")
    @classmethod
    def text_or_parts(cls, value: Any) -> str | list[dict[str, Any]] | None:
        parts = isinstance(value, list) and all(isinstance(p, dict) for p in value)
        if value is None or isinstance(value, str) or parts:
            return value  # type: ignore[no-any-return]
        raise PydanticCustomError("content_type", "content must be text or content parts")


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The fields the mock uses, typed as the API types them; others are ignored."""

    model: str = MOCK_MODEL
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None


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


def usage(request: ChatRequest, reply: str) -> dict[str, int]:
    """Token counts, a word counting as a token."""
    prompt = sum(len(words(m.content)) for m in request.messages if isinstance(m.content, str))
    completion = len(words(reply))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def chat_chunks(
    completion_id: str, created: int, request: ChatRequest, reply: str
) -> Iterator[bytes]:
    """The streamed reply; with `stream_options.include_usage`, every chunk carries
    `"usage": null` and a last chunk with no choices carries the usage, as the API sends."""
    with_usage = request.stream_options is not None and request.stream_options.include_usage

    def chunk(choices: list[dict[str, Any]], counts: dict[str, int] | None = None) -> bytes:
        body: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": request.model,
            "system_fingerprint": "fp_sse_cli",
            "choices": choices,
        }
        if with_usage:
            body["usage"] = counts
        return encode_event(json.dumps(body, ensure_ascii=False, separators=(",", ":")))

    def choice(delta: dict[str, str], finish: str | None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    yield chunk(choice({"role": "assistant", "content": ""}, None))
    for word in words(reply):
        yield chunk(choice({"content": word}, None))
    yield chunk(choice({}, "stop"))
    if with_usage:
        yield chunk([], usage(request, reply))
    yield encode_event("[DONE]")


def chat_completion(
    completion_id: str, created: int, request: ChatRequest, reply: str
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": request.model,
        "system_fingerprint": "fp_sse_cli",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage(request, reply),
    }


async def chat(request: Request, delay: Delay = None) -> Response:
    """POST /v1/chat/completions: the mock's reply, streamed when the body asks for it."""
    body = await read_model(request, ChatRequest)
    if body.stream_options is not None and not body.stream:
        message = "The 'stream_options' parameter is only allowed when 'stream' is enabled."
        raise ApiError(422, message, param="stream_options", code="invalid_value")
    completion_id = f"chatcmpl-{shared(request).activity.streams_started + 1:08d}"
    created = int(time.time())
    reply = chat_reply(body)
    if not body.stream:
        return JsonBody(chat_completion(completion_id, created, body, reply))
    chunks = chat_chunks(completion_id, created, body, reply)
    return stream(request, paced(chunks, delay_of(request, delay)))


def model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": "sse-cli"}


async def models(request: Request) -> Response:
    """GET /v1/models: the one model the mock serves, as the API lists models."""
    return JsonBody({"object": "list", "data": [model_object(MOCK_MODEL)]})


async def model(request: Request, model_id: str) -> Response:
    """GET /v1/models/{model_id}: the mock's model, or the API's 404 for any other."""
    if model_id != MOCK_MODEL:
        message = f"The model '{model_id}' does not exist or you do not have access to it."
        raise ApiError(404, message, param=None, code="model_not_found")
    return JsonBody(model_object(model_id))
