"""POST /v1/chat/completions: an OpenAI-compatible mock that echoes the last user message,
word by word as `chat.completion.chunk` events, or whole as one `chat.completion`."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from sse_cli.encode import encode_event
from sse_cli.serve.streams import ApiError, Delay, delay_of, paced, read_json, shared, stream


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


async def chat(request: Request, delay: Delay = None) -> Response:
    """POST /v1/chat/completions: the mock's reply, streamed when the body asks for it."""
    raw = await read_json(request)
    try:
        body = ChatRequest.model_validate(raw)
    except ValidationError as exc:  # name the fields at fault
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise ApiError(422, problems or "invalid chat completion request") from None
    completion_id = f"chatcmpl-{shared(request).activity.streams_started + 1:08d}"
    created = int(time.time())
    reply = chat_reply(body)
    if not body.stream:
        return JSONResponse(chat_completion(completion_id, created, body.model, reply))
    chunks = chat_chunks(completion_id, created, body.model, reply)
    return stream(request, paced(chunks, delay_of(request, delay)))
