"""A pure, incremental decoder for `text/event-stream`.

Bytes in, `Event` / `Comment` / `Diagnostic` out, following the WHATWG HTML Standard,
section "Server-sent events": "Parsing an event stream" and "Interpreting an event stream".
It does no I/O and imports only the standard library, so it is tested byte by byte and
reused by every source (the HTTP client now; replay and load testing later).

It works per chunk, not per byte: a chunk is decoded once, split into lines once (with
`str.split("\\n")` when it holds no CR), and the lines are interpreted in one loop.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import NamedTuple

from sse_cli.errors import EventTooLargeError

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "Comment",
    "Decoder",
    "LineSplitter",
    "Diagnostic",
    "Event",
    "Item",
]

#: The default bound on one line or one event's data, in characters of decoded text.
DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024
#: The largest reconnection time kept, in ms; a longer `retry:` is clamped to it.
MAX_RETRY = 10**18 - 1
#: Past this many pending `data:` lines, a chunk's lines are joined into one block: every
#: string costs memory besides its text, so a flood of short lines with no blank line would
#: otherwise take many times the size bound in memory.
DATA_BLOCK_LINES = 64
#: Pieces of an unfinished line are merged up to this many characters, for the same reason.
#: Large enough that merged pieces get memory of their own from malloc: left as one read's
#: worth each, the space freed between them is too small to reuse (bench/RESULTS.md).
MERGED_PIECE = 1 << 18


class Event(NamedTuple):
    """A dispatched event. The JSON output's keys are these field names.

    A NamedTuple, not a dataclass: one is built per event on the hot path and a tuple is
    the cheapest immutable record Python has.
    """

    event: str
    """The event type: the block's `event:` field, else "message"."""
    data: str
    """The `data:` lines joined with "\\n"."""
    id: str | None
    """The last event ID in force when the event was dispatched; None when it is empty."""
    retry: int | None = None
    """The reconnection time in ms when this event's block set one, else None."""


class Comment(NamedTuple):
    """A line that starts with a colon, with the colon removed (heartbeats, mostly)."""

    text: str


class Diagnostic(NamedTuple):
    """Something the spec tells a client to ignore or drop silently, reported instead."""

    code: str
    """A stable name: unknown-field, invalid-retry, id-contains-nul, incomplete-event."""
    message: str


Item = Event | Comment | Diagnostic


class LineSplitter:
    """Bytes in, complete lines out: the first steps of "Parsing an event stream".

    It decodes UTF-8 incrementally (invalid sequences become U+FFFD), drops one leading
    BOM, ends lines at CRLF, LF or CR, and keeps the pieces of an unfinished line. It works
    per chunk: a chunk with no CR is split with one `str.split("\\n")`.
    """

    __slots__ = ("_bom_pending", "_decode", "_skip_lf", "pending", "pending_size", "span")

    def __init__(self) -> None:
        self._decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
        self._bom_pending = True
        self._skip_lf = False
        self.pending: list[str] = []
        """The pieces of the unfinished line, joined once it ends."""
        self.pending_size = 0
        """The unfinished line's length in characters."""
        self.span = 0
        """How many characters the last `split` covered, the unfinished line's included."""

    def split(self, chunk: bytes) -> list[str]:
        """The lines this chunk completes, without their line endings (often none)."""
        text = self._decode(chunk)
        if self._bom_pending and text:
            # "One leading U+FEFF BYTE ORDER MARK character must be ignored if any are present."
            self._bom_pending = False
            if text[0] == "\ufeff":
                text = text[1:]
        if self._skip_lf and text:
            # The previous chunk ended with CR: an LF starting this one completes a CRLF.
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if not text:
            return []
        if "\r" in text:
            # Lines end with CRLF, LF or CR. A CR that ends the chunk ends its line now, so a
            # complete event is never held back waiting for the next chunk.
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        pending = self.pending
        if "\n" not in text:
            self._hold(text)
            return []
        self.span = self.pending_size + len(text)
        lines = text.split("\n")
        if pending:
            pending.append(lines[0])
            lines[0] = "".join(pending)
            pending.clear()
        tail = lines.pop()
        self.pending_size = len(tail)
        if tail:
            pending.append(tail)
        return lines

    def _hold(self, text: str) -> None:
        """Keep a piece of a long line. Small pieces are merged pairwise (the one before is
        no longer) up to MERGED_PIECE characters: bounded memory when a line drips in."""
        pending = self.pending
        pending.append(text)
        while (
            len(pending) > 1
            and len(pending[-2]) <= len(pending[-1])
            and len(pending[-2]) + len(pending[-1]) <= MERGED_PIECE
        ):
            pending[-2:] = [pending[-2] + pending[-1]]
        self.pending_size += len(text)

    def discard(self) -> None:
        """Drop the unfinished line."""
        self.pending.clear()
        self.pending_size = 0

    def close(self) -> bool:
        """End the input; whether an unfinished line (or an unfinished character) was left."""
        left = bool(self._decode(b"", True) or self.pending)
        self.discard()
        return left


class Decoder:
    """An incremental event-stream decoder for one connection.

    `feed()` takes the body's bytes in any chunking and returns what they completed;
    `close()` ends the stream. A decoder for a reconnection is seeded with the previous
    connection's `last_event_id` (the spec's last event ID string persists across
    connections).
    """

    __slots__ = (
        "_block_retry",
        "_data",
        "_data_blocks",
        "_data_size",
        "_event_type",
        "_id_buffer",
        "_lines",
        "_max_line",
        "_max_size",
        "ids_seen",
        "last_event_id",
        "retry",
    )

    def __init__(
        self, last_event_id: str = "", max_event_size: int = DEFAULT_MAX_EVENT_SIZE
    ) -> None:
        self._lines = LineSplitter()
        self._max_size = max_event_size
        # A line holds its field name too ("data: "): it may be that much longer.
        self._max_line = max_event_size + 8
        # "Interpreting an event stream": the data, event type and last event ID buffers.
        self._data: list[str] = []
        self._data_blocks = 0  # how many of `_data`'s first strings are joined blocks of lines
        self._data_size = 0
        self._event_type = ""
        self._id_buffer = last_event_id
        self._block_retry: int | None = None
        self.last_event_id = last_event_id
        """The last event ID string: set at each dispatch step, sent as Last-Event-ID."""
        self.retry: int | None = None
        """The last valid `retry:` value in ms, set even when no event is dispatched."""
        self.ids_seen = False
        """Whether the stream sent an `id:` field (so the server can resume it)."""

    @property
    def pending_data_lines(self) -> int:
        """How many `data:` lines wait for the blank line that dispatches them."""
        blocks = self._data[: self._data_blocks]
        return len(self._data) - len(blocks) + sum(block.count("\n") + 1 for block in blocks)

    def feed(self, chunk: bytes) -> list[Item]:
        """Decode one chunk of the body and return the items it completed, in order.

        Raises `EventTooLargeError` when a line or an event grows past the size bound.
        """
        splitter = self._lines
        lines = splitter.split(chunk)
        if not lines:
            if splitter.pending_size > self._max_line:
                raise self._too_large("a line")
            return []
        # Whether a bound could trip in this chunk: if all of it went into one line or one
        # event's data, would that pass the bound? Almost never, and then the loop skips the
        # checks and the running count of the data's size.
        checked = splitter.span + self._data_size > self._max_size
        out = self._interpret(lines, checked)
        if splitter.pending_size > self._max_line:
            raise self._too_large("a line", out)
        return out

    def close(self) -> list[Diagnostic]:
        """End the stream: drop an incomplete event, as the spec says, and report it."""
        dropped = self._lines.close() or bool(self._data)
        self._clear_data()
        self._event_type = ""
        self._block_retry = None
        if not dropped:
            return []
        return [
            Diagnostic(
                "incomplete-event",
                "the stream ended inside an event, which was discarded "
                "(an event is dispatched only by the blank line after it)",
            )
        ]

    def _clear_data(self) -> None:
        self._data.clear()
        self._data_blocks = 0
        self._data_size = 0

    def _too_large(self, what: str, completed: list[Item] | None = None) -> EventTooLargeError:
        # The connection fails: nothing buffered is kept (the chunk's tail included).
        self._lines.discard()
        self._clear_data()
        error = EventTooLargeError(
            f"{what} in the stream grew past {self._max_size:,} characters without ending",
            "raise the bound with --max-event-size",
        )
        error.items = completed or []
        return error

    def _interpret(self, lines: list[str], checked: bool) -> list[Item]:
        # The hot loop, its buffers in locals. The event type, id and retry buffers and the last
        # event ID are written back in `finally`: right even when a bound trips (the client
        # resumes from them); `_too_large` resets the rest.
        out: list[Item] = []
        append = out.append
        data = self._data
        data_size = self._data_size
        typ = self._event_type
        id_buffer = self._id_buffer
        last_id = self.last_event_id
        retry = self._block_retry
        blocks = self._data_blocks
        ids_seen = False
        try:
            for line in lines:
                if not line:
                    # Blank line: dispatch the event. Step 1 sets the last event ID string
                    # even when the data buffer is empty and nothing is dispatched.
                    last_id = id_buffer
                    if data:
                        event = (typ or "message", "\n".join(data), id_buffer or None, retry)
                        append(_new_event(Event, event))
                        data.clear()
                        blocks = data_size = 0
                    typ = ""
                    retry = None
                    continue
                if checked and len(line) > self._max_line:
                    raise self._too_large("a line", out)
                if line.startswith("data:"):  # the common case, without a partition's copy
                    value = line[6:] if line.startswith(" ", 5) else line[5:]
                    if checked:
                        # The bound is on the joined data: a newline between lines counts.
                        data_size += len(value) + 1 if data else len(value)
                        if data_size > self._max_size:
                            raise self._too_large("an event's data", out)
                    data.append(value)
                elif line.startswith("id: ") and "\0" not in line:  # the next most common
                    id_buffer = line[4:]
                    ids_seen = True
                elif line.startswith("event: "):
                    typ = line[7:]
                elif line[0] == ":":
                    append(Comment(line[1:]))
                else:  # the other spellings and fields, through one helper
                    typ, id_buffer, retry, grown = self._field(line, append, typ, id_buffer, retry)
                    data_size += grown
        finally:
            self._event_type = typ
            self._id_buffer = id_buffer
            self.last_event_id = last_id
            self._block_retry = retry
            if ids_seen:
                self.ids_seen = True
        self._settle(blocks, data_size, checked)
        return out

    def _field(
        self,
        line: str,
        append: Callable[[Item], None],
        event_type: str,
        id_buffer: str,
        block_retry: int | None,
    ) -> tuple[str, str, int | None, int]:
        """Process a field in the spec's general form; return the event type, id and retry
        buffers it leaves, and by how much it grew the data."""
        # The field name runs to the first colon; a line without one is a field with an empty
        # value. Exactly one leading space of the value is removed.
        name, _, value = line.partition(":")
        if value and value[0] == " ":
            value = value[1:]
        grown = 0
        if name == "id":
            # "If the field value does not contain U+0000 NULL, set the ID buffer to it."
            if "\0" in value:
                append(Diagnostic("id-contains-nul", "an id field holding NUL was ignored"))
            else:
                id_buffer = value
                self.ids_seen = True
        elif name == "event":
            event_type = value
        elif name == "data":  # "data" with no colon: an empty line of data
            grown = 1 if self._data else 0
            self._data.append(value)
        elif name != "retry":
            append(Diagnostic("unknown-field", _unknown_field(name)))
        elif value.isascii() and value.isdigit():
            # Only ASCII digits: int() would accept "+5", " 5", "1_000" and other scripts.
            # Past 18 digits (over 30,000 years) the value is clamped: int() refuses strings
            # of more than 4,300 digits, and JSON output could not print one.
            self.retry = block_retry = int(value) if len(value) <= 18 else MAX_RETRY
        else:
            message = f"retry: {value[:40]!r} was ignored (only ASCII digits count)"
            append(Diagnostic("invalid-retry", message))
        return event_type, id_buffer, block_retry, grown

    def _settle(self, blocks: int, data_size: int, checked: bool) -> None:
        """Keep the pending data compact, and its size counted, for the next chunk."""
        data = self._data
        if len(data) - blocks > DATA_BLOCK_LINES:
            # Bounded memory: the lines since the last block become one string.
            data[blocks:] = ["\n".join(data[blocks:])]
            blocks += 1
        self._data_blocks = blocks
        if not checked:  # counted once, for what waits for the next chunk
            data_size = sum(map(len, data)) + len(data) - 1 if data else 0
        self._data_size = data_size


#: Builds an Event from a tuple without the Python-level `__new__` a NamedTuple call runs.
_new_event = tuple.__new__


def _unknown_field(name: str) -> str:
    shown = repr(name[:40])
    if name[:1] in ("{", "["):
        # One message whatever the line holds, so an NDJSON stream is warned about once.
        return (
            "lines starting with '{' or '[' are JSON, not SSE fields, and were ignored: the "
            "stream looks like NDJSON (SSE puts 'data: ' before each line, a blank line after "
            "each event)"
        )
    if name[:1] in ('"', "'"):
        return (
            f"field {shown} was ignored: SSE field names are written without quotes "
            "(data, event, id, retry)"
        )
    return f"field {shown} is not an SSE field and was ignored (fields are data, event, id, retry)"
