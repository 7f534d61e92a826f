"""Encoding events to the wire format: the inverse of `protocol.decoder.Decoder`, stdlib only.

Used by `serve` (and by anything that replays events). Every function returns bytes that
`Decoder` reads back as the same event, whatever the data holds: each line of the data
(split on CRLF, CR or LF) becomes its own `data:` line, and fields that cannot hold a line
break (`event`, `id`) refuse one instead of silently corrupting the stream.
"""

from __future__ import annotations

import re

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _field_value(name: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"an SSE {name} cannot contain a line break")
    if name == "id" and "\0" in value:
        raise ValueError("an SSE id cannot contain NUL")
    return value


def encode_event(
    data: str,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
) -> bytes:
    """One event block: optional `event`, `id` and `retry` fields, the data, a blank line."""
    parts = []
    if event is not None:
        parts.append(f"event: {_field_value('event', event)}\n")
    if id is not None:
        parts.append(f"id: {_field_value('id', id)}\n")
    if retry is not None:
        parts.append(f"retry: {int(retry)}\n")
    if "\n" in data or "\r" in data:
        parts.extend(f"data: {line}\n" for line in _LINE_BREAK.split(data))
    else:
        parts.append(f"data: {data}\n")
    parts.append("\n")
    return "".join(parts).encode()


def encode_comment(text: str) -> bytes:
    """A comment block (`: text`), one comment line per line of text, then a blank line."""
    return "".join(f": {line}\n" for line in _LINE_BREAK.split(text)).encode() + b"\n"
