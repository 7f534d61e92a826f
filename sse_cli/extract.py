"""Pulling text out of event data: `--extract PATH` (JMESPath) and the LLM shapes text mode knows.

Pure: events in, strings out. JMESPath is a small, well-kept library with a specified
grammar (`choices[0].delta.content`, `delta.text`, filters, functions), which is why it is used
instead of a hand-written path parser; it is imported only when a path is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sse_cli.errors import UsageError
from sse_cli.protocol.decoder import Event

#: The data that ends an OpenAI-style stream; text mode stops on it.
DONE = "[DONE]"

Extractor = Callable[[Event], "str | None"]


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(text: str) -> str:
    """`text` with any lone surrogate (JSON's `"\\ud800"` escape) made U+FFFD, as a browser's
    TextEncoder does: it cannot be written as UTF-8, and the output is UTF-8."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _clean(value)
    return _clean(json.dumps(value, ensure_ascii=False))


def _loads(data: str) -> Any:
    if not data or data[0] not in "{[":
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def path_extractor(path: str) -> Extractor:
    """An extractor for a JMESPath expression; raises UsageError for a bad expression."""
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        compiled = jmespath.compile(path)
    except JMESPathError as exc:
        message = " ".join(str(exc).split())
        raise UsageError(
            f"--extract {path!r} is not a valid JMESPath expression: {message}",
            "e.g. --extract 'choices[0].delta.content'",
        ) from None

    def extract(event: Event) -> str | None:
        value = _loads(event.data)
        if value is None:
            return None
        return _as_text(compiled.search(value))

    return extract


def llm_text(event: Event) -> str | None:
    """The text an event adds to a chat reply, for the shapes text mode recognises.

    OpenAI chat completions (`choices[0].delta.content`, and `choices[0].text` for legacy
    completions), Anthropic messages (`content_block_delta` with `delta.text`); data that is
    not JSON is text already. Other JSON events (pings, starts, stops) add nothing.
    """
    text = _llm_text(event)
    return None if text is None else _clean(text)


def _llm_text(event: Event) -> str | None:
    """`llm_text` before lone surrogates are replaced."""
    data = event.data
    if data == DONE:
        return None
    value = _loads(data)
    if value is None:
        return data if data[:1] not in "{[" else None
    if not isinstance(value, dict):
        return None
    choices = value.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        delta = choice.get("delta")
        if isinstance(delta, dict):
            content = delta.get("content")
            return content if isinstance(content, str) else None
        text = choice.get("text")
        return text if isinstance(text, str) else None
    delta = value.get("delta")
    if isinstance(delta, dict) and value.get("type") == "content_block_delta":
        text = delta.get("text")
        return text if isinstance(text, str) else None
    return None
