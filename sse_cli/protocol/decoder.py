"""Lines in, `Event` / `Comment` / `Diagnostic` out: "Interpreting an event stream" (WHATWG
HTML Standard, "Server-sent events"), incremental and pure, fed the body's bytes in any chunking.

It works per chunk, not per byte: a chunk is decoded once and its line endings made "\\n"
(`sse_cli.protocol.lines`), and its complete lines are interpreted in one loop, `scan_lines`.
That loop has a C twin, `sse_cli._speedups.scan`, which reads the lines in place; it is built
with the package when a compiler is at hand and used when it imports: about 4x faster on small
events (bench/RESULTS.md, "The decoder alone"). Every decoder test runs on both twins;
SSE_CLI_PURE_PYTHON=1 in the environment keeps to Python. `sse-cli --version` names the one
in use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from sse_cli.errors import EventTooLargeError
from sse_cli.protocol.lines import LineSplitter
from sse_cli.speedups import chosen

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "Comment",
    "Decoder",
    "Block",
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


class Block(NamedTuple):
    """A block that dispatched no event but changed the last event ID or set the reconnection
    time: reported only by a `Decoder(blocks=True)` (the recorder keeps them, so a replay
    resumes and waits as the server asked)."""

    id: str | None
    """The last event ID the block set, if it changed it."""
    retry: int | None
    """The reconnection time in ms the block set, if any."""


Item = Event | Comment | Diagnostic | Block


class Decoder:
    """An incremental event-stream decoder for one connection.

    `feed()` takes the body's bytes in any chunking and returns what they completed;
    `close()` ends the stream. A decoder for a reconnection is seeded with the previous
    connection's `last_event_id` (the spec's last event ID string persists across
    connections).
    """

    __slots__ = (
        "_block",
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
        self,
        last_event_id: str = "",
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        blocks: bool = False,
    ) -> None:
        self._lines = LineSplitter()
        self._block = Block if blocks else None  # the type of what a block without data gives
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
        text, end = splitter.cut(chunk)
        if not end:
            if splitter.pending_size > self._max_line:
                raise self._too_large("a line")
            return []
        # Whether a bound could trip in this chunk: if all of it went into one line or one
        # event's data, would that pass the bound? Almost never, and then the loop skips the
        # checks and the running count of the data's size.
        checked = splitter.span + self._data_size > self._max_size
        out = self._interpret(text, end, checked)
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

    def _interpret(self, text: str, end: int, checked: bool) -> list[Item]:
        # The event type, id and retry buffers and the last event ID are kept even when a
        # bound trips (the client resumes from them); `_too_large` resets the rest.
        (
            out,
            self._event_type,
            self._id_buffer,
            self.last_event_id,
            self._block_retry,
            blocks,
            data_size,
            trip,
            ids_seen,
        ) = _scan(
            text,
            end,
            self._data,
            self._event_type,
            self._id_buffer,
            self.last_event_id,
            self._block_retry,
            self._data_blocks,
            self._data_size,
            checked,
            self._max_line,
            self._max_size,
            self._field,
            self._block,
        )
        if ids_seen:
            self.ids_seen = True
        if trip is not None:
            raise self._too_large(trip, out)
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
_new_record = tuple.__new__

#: What one pass over a chunk's lines leaves: the items it completed; the event type, id
#: buffer, last event ID and retry it leaves; the data blocks and size; what tripped the size
#: bound (None, "a line" or "an event's data"); whether an `id:` field was seen.
Scanned = tuple[list[Item], str, str, str, "int | None", int, int, "str | None", bool]
#: A general-form field: (line, append, event type, id buffer, retry) -> (event type, id
#: buffer, retry, how much the data grew).
Field = Callable[
    [str, Callable[[Item], None], str, str, "int | None"], tuple[str, str, "int | None", int]
]


def scan_lines(
    text: str,
    end: int,
    data: list[str],
    typ: str,
    id_buffer: str,
    last_id: str,
    retry: int | None,
    blocks: int,
    data_size: int,
    checked: bool,
    max_line: int,
    max_size: int,
    field: Field,
    block: type[Block] | None = None,
) -> Scanned:
    """ "Interpreting an event stream" for the lines text[:end], each ended by "\\n" (the rest is
    the splitter's), buffers in locals; `data` changes in place; stops at a line over the bound;
    `block`: see `Decoder`. `sse_cli/_speedups.c` is its C twin: change both or neither."""
    out: list[Item] = []
    append = out.append
    trip, ids_seen = None, False
    for line in text.split("\n")[:-1]:
        if not line:
            # Blank line: dispatch the event. Step 1 sets the last event ID string even when
            # the data buffer is empty and nothing is dispatched.
            if block is not None and not data and (retry is not None or id_buffer != last_id):
                append(_new_record(block, (None if id_buffer == last_id else id_buffer, retry)))
            last_id = id_buffer
            if data:
                event = (typ or "message", "\n".join(data), id_buffer or None, retry)
                append(_new_record(Event, event))
                data.clear()
                blocks = data_size = 0
            typ = ""
            retry = None
            continue
        if checked and len(line) > max_line:
            trip = "a line"
            break
        if line.startswith("data:"):  # the common case, without a partition's copy
            value = line[6:] if line.startswith(" ", 5) else line[5:]
            if checked:
                # The bound is on the joined data: a newline between lines counts.
                data_size += len(value) + 1 if data else len(value)
                if data_size > max_size:
                    trip = "an event's data"
                    break
            data.append(value)
        elif line.startswith("id: ") and "\0" not in line:  # the next most common
            id_buffer = line[4:]
            ids_seen = True
        elif line.startswith("event: "):
            typ = line[7:]
        elif line[0] == ":":
            append(_new_record(Comment, (line[1:],)))
        else:  # the other spellings and fields, through one helper
            typ, id_buffer, retry, grown = field(line, append, typ, id_buffer, retry)
            data_size += grown
    return out, typ, id_buffer, last_id, retry, blocks, data_size, trip, ids_seen


def _load_scan() -> Callable[..., Scanned]:
    """The C twin of `scan_lines` when it is to be used (`sse_cli.speedups`)."""
    fast = chosen()
    if fast is None:
        return scan_lines
    fast.bind(Event, Comment)  # the types it makes, once (a Block's comes with each call)
    scan: Callable[..., Scanned] = fast.scan
    return scan


_scan = _load_scan()


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
