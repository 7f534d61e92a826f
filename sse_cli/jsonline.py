"""Events as JSON lines: the stable contract of `--format json` (README, "JSON output").

One line per event, `{"event": ..., "data": ..., "id": ...}` plus `"retry"` when the event's
block set one and `"ts"` under `--timestamps`, spaced exactly as Python's `json.dumps` spaces
a dict, non-ASCII kept as UTF-8. Later features read these lines back (replay), so the shape
changes only with a major version.

Strings are escaped by orjson, faster than the standard library's escaper plus `.encode()`
on text fresh from the wire (bench/RESULTS.md has the figures), and it produces byte for byte
what `json.dumps(text, ensure_ascii=False)` does (a property test checks this). It is imported
by the json renderer only, so `--help` never loads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import orjson

from sse_cli.protocol.decoder import Event

__all__ = ["LineEncoder", "json_line", "json_string"]

_dumps = orjson.dumps
_ID = b', "id": '
_NULL = b"null"
_END = b"}\n"
#: Lines are handed to the writer in pieces of about this many bytes: below the size at which
#: malloc maps fresh memory (and unmaps it after), so the same memory serves every piece.
WRITE_AT = 1 << 16
#: Event types seen are kept with their encoded line start, up to this many (a server could
#: send a new type with every event).
MAX_CACHED_TYPES = 64


def json_string(text: str) -> bytes:
    """`text` as a JSON string literal, UTF-8 encoded."""
    try:
        return _dumps(text)
    except TypeError:
        # A lone surrogate cannot be UTF-8: escape it, as json.dumps does, so the line stays
        # valid JSON that reads back to the same string. Nothing decoded from the wire has one.
        return json.dumps(text).encode()


class LineEncoder:
    """Writes events as JSON lines, for the output of one session.

    Each line is built in a bytearray that `write` is given every `WRITE_AT` bytes or so, and
    orjson's result for each string is appended and freed at once. That matters: orjson
    allocates each result generously, then shrinks it, so thousands of them alive at once
    (one big network chunk's worth, kept in a list to join) fragment the heap and cost more
    than the escaping saves.
    """

    __slots__ = ("_heads",)

    def __init__(self) -> None:
        self._heads: dict[str, bytes] = {}

    def _head(self, event_type: str) -> bytes:
        heads = self._heads
        if len(heads) >= MAX_CACHED_TYPES:
            heads.clear()
        head = heads[event_type] = b'{"event": ' + json_string(event_type) + b', "data": '
        return head

    def write(
        self, items: Iterable[object], write: Callable[[bytearray], object], ts: str | None = None
    ) -> int:
        """Write the lines of the `Event`s among `items` (others are skipped); return how many."""
        end = _END if ts is None else b', "ts": "' + ts.encode() + b'"}\n'
        buffer = bytearray()
        heads = self._heads
        dumps = _dumps
        count = 0
        for item in items:
            if type(item) is not Event:
                continue
            count += 1
            try:
                data = dumps(item.data)
                ident = _NULL if item.id is None else dumps(item.id)
            except TypeError:
                data = json_string(item.data)
                ident = _NULL if item.id is None else json_string(item.id)
            buffer += heads.get(item.event) or self._head(item.event)
            buffer += data
            buffer += _ID
            buffer += ident
            buffer += end if item.retry is None else b', "retry": %d' % item.retry + end
            if len(buffer) >= WRITE_AT:
                write(buffer)
                buffer = bytearray()
        if buffer:
            write(buffer)
        return count


def json_line(event: Event, ts: str | None = None) -> bytes:
    """One event as its JSON line, newline included."""
    lines: list[bytes] = []
    LineEncoder().write((event,), lambda line: lines.append(bytes(line)), ts)
    return b"".join(lines)
