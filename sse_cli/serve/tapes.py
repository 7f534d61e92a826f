"""What `serve --replay PATH` loads: recordings, raw `.sse` files and `listen -f json
--timestamps` lines, each turned into a `Tape` (where it is served, and its wire, timed).

Everything is read and checked before the server binds: a bad file raises `RecordingError`
naming the file, the line and the problem (exit status 2). Stdlib only; it never imports
`sse_cli.client`.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from sse_cli.errors import EventTooLargeError
from sse_cli.protocol.decoder import Comment, Decoder, Diagnostic, Event
from sse_cli.recording import Block, Entry, Item, RecordingError
from sse_cli.recording.reader import read_recording

__all__ = ["Step", "Tape", "load_tapes"]

#: Headers that describe one connection, or that the server sets itself: never replayed.
NOT_REPLAYED = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "trailers", "transfer-encoding", "upgrade", "content-length",
        "content-encoding", "date", "server", "set-cookie",
    }
)  # fmt: skip
SSE_HEADERS = (("Content-Type", "text/event-stream; charset=utf-8"),)


@dataclass(frozen=True, slots=True)
class Step:
    """One item of the wire, ready to send."""

    due_us: int
    """When it is due, in microseconds from the start of the replayed stream."""
    wire: bytes
    event: bool
    last_id: str
    """The last event ID once it is read: a resume after this event starts past it."""


@dataclass(eq=False)
class Tape:
    """One replayable stream: where it is served and its steps."""

    source: str
    method: str
    path: str
    status: int
    headers: tuple[tuple[str, str], ...]
    steps: list[Step] = field(default_factory=list)
    breaks: tuple[int, ...] = ()
    """Where each recorded response after the first starts (indexes into `steps`)."""
    has_retry: bool = False
    paced: bool = False
    """A raw `.sse` file: `due_us` counts events, and --delay sets the time between them."""
    ending: tuple[int, tuple[tuple[str, str], ...]] | None = None
    """The status and headers of the response that ended the recorded stream (the 204 of
    "stop reconnecting"), answered again to a resume past the last event."""

    def finished(self, start: int) -> bool:
        """Does a resume at step `start` come after the last event, where the recorded
        stream was answered `ending`?"""
        return (
            self.ending is not None
            and start > 0
            and not any(step.event for step in self.steps[start:])
        )

    def resume_index(self, last_id: str) -> int | None:
        """The step after the event whose id is `last_id`; None if no event has it."""
        for index, step in enumerate(self.steps):
            if step.event and step.last_id == last_id:
                return index + 1
        return None


def load_tapes(paths: Sequence[str], warn: Callable[[str], None] | None = None) -> list[Tape]:
    """Every replay PATH (a file, or a folder of them) read and checked, in order. In a
    folder, a file that is none of the inputs (notes, a README) is skipped, with one `warn`
    each; a folder with no input at all is still an error."""
    tapes: list[Tape] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            kinds = [(file, _kind(file)) for file in files]
            for file, kind in kinds:
                if kind is None and warn is not None:
                    warn(f"{file}: skipped: not a recording, .sse file or -f json --timestamps")
            tapes.extend(_load(file, kind) for file, kind in kinds if kind is not None)
            if not any(kind for _, kind in kinds):
                raise RecordingError(f"{path}: the folder holds no recording")
        elif path.exists():
            tapes.append(_load(path, _kind(path) or "recording"))
        else:
            raise RecordingError(f"{path}: no such file or folder")
    return tapes


def _kind(path: Path) -> str | None:
    """What input a file is: "sse" (by its name), "recording" (its first line is a format
    line), "timestamped" (`-f json --timestamps` lines); None: none of them."""
    if path.suffix == ".sse":
        return "sse"
    try:
        with path.open("rb") as f:
            first = f.readline()
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    try:
        head = json.loads(first) if first.strip() else None
    except ValueError:
        return None
    if isinstance(head, dict) and "format" in head:
        return "recording"
    if isinstance(head, dict) and "ts" in head:
        return "timestamped"
    return None


def _load(path: Path, kind: str) -> Tape:
    if kind == "sse":
        return _wire_file(path)
    if kind == "timestamped":
        return _timestamped(path)
    recording = read_recording(path)
    if not recording.responses:
        raise RecordingError(f"{path}:2: the recording holds no response to replay")
    first_response, last = recording.responses[0], recording.responses[-1]
    headers = _replayed(first_response.headers) or SSE_HEADERS
    tape = Tape(str(path), recording.method.upper(), urlsplit(recording.url).path or posixpath.sep,
                first_response.status, headers)  # fmt: skip
    _compile(tape, [r.entries for r in recording.responses])
    if len(recording.responses) > 1 and last.status != 200 and not last.entries:
        tape.ending = (last.status, _replayed(last.headers))
    return tape


def _replayed(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((n, v) for n, v in headers if n.lower() not in NOT_REPLAYED)


def _wire_file(path: Path) -> Tape:
    """A raw `.sse` file: its items, one event per `delay` (the server's --delay, applied
    when serving: `due_us` counts events here)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    decoder = Decoder(blocks=True)
    entries: list[Entry] = []
    events = 0
    try:
        items = decoder.feed(raw)  # an unfinished event at the end is dropped, as the spec says
    except EventTooLargeError as exc:
        raise RecordingError(f"{path}: {exc.message}") from None
    for item in items:
        if not isinstance(item, Diagnostic):
            entries.append(Entry(events, item))
            events += type(item) is Event
    tape = Tape(str(path), "GET", f"/replay/{path.stem}", 200, SSE_HEADERS, paced=True)
    _compile(tape, [entries])
    return tape


def _timestamped(path: Path) -> Tape:
    """`listen -f json --timestamps` lines: the gaps come from each event's `ts`."""
    entries: list[Entry] = []
    start: datetime | None = None
    # Split at line feeds only: JSON lines keep U+2028, U+0085 and the like unescaped.
    for number, line in enumerate(path.read_text(errors="replace").split("\n"), 1):
        where = f"{path}:{number}"
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            ts = datetime.fromisoformat(record["ts"].replace("Z", "+00:00"))
            event = Event(record.get("event", "message"), record["data"], record.get("id"),
                          record.get("retry"))  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RecordingError(f"{where}: not an event line of -f json --timestamps ({exc})") \
                from None  # fmt: skip
        if not all(isinstance(v, str) for v in (event.event, event.data)) or not (
            event.id is None or isinstance(event.id, str)
        ):
            raise RecordingError(f"{where}: event, data and id must be strings")
        start = start or ts
        at = int((ts - start).total_seconds() * 1_000_000)
        if entries and at < entries[-1].at_us:
            raise RecordingError(f"{where}: out of time order: ts is before the line before it")
        if at < 0:
            raise RecordingError(f"{where}: out of time order: ts is before the first line")
        entries.append(Entry(at, event))
    if not entries:
        raise RecordingError(f"{path}:1: the file is empty")
    tape = Tape(str(path), "GET", f"/replay/{path.stem}", 200, SSE_HEADERS)
    _compile(tape, [entries])
    return tape


def _compile(tape: Tape, responses: Iterable[Sequence[Entry]]) -> None:
    """The entries of each response as one timeline of wire bytes."""
    steps: list[Step] = []
    breaks: list[int] = []
    last_id = ""
    base = 0
    for entries in responses:
        if steps:
            breaks.append(len(steps))
            base = steps[-1].due_us
        for at_us, item in entries:
            wire, last_id = encode(item, last_id)
            tape.has_retry = tape.has_retry or (
                not isinstance(item, Comment) and item.retry is not None
            )
            steps.append(Step(base + at_us, wire, type(item) is Event, last_id))
    tape.steps = steps
    tape.breaks = tuple(b for b in breaks if b < len(steps))


def encode(item: Item, last_id: str) -> tuple[bytes, str]:
    """An item's wire bytes, and the last event ID after it. An `id:` line is written only
    where the last event ID changes, which reproduces every event's id exactly."""
    if isinstance(item, Comment):
        return b":" + item.text.encode() + b"\n", last_id
    lines: list[str] = []
    if isinstance(item, Block):
        if item.id is not None:
            lines.append(f"id: {item.id}" if item.id else "id")
            last_id = item.id
        if item.retry is not None:
            lines.append(f"retry: {item.retry}")
        return ("\n".join(lines) + "\n\n").encode(), last_id
    if (item.id or "") != last_id:
        last_id = item.id or ""
        lines.append(f"id: {last_id}" if last_id else "id")
    if item.event != "message":
        lines.append(f"event: {item.event}")
    if item.retry is not None:
        lines.append(f"retry: {item.retry}")
    lines.extend(f"data: {line}" for line in item.data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode(), last_id
