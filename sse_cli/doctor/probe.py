"""One probe: a raw HTTP/1.1 connection that watches a stream and keeps what a check needs.

A transport around the shared core: `loadtest.wire`'s `StreamProtocol` reads the response
head and undoes chunked framing, zlib undoes gzip or deflate, and the protocol's `Decoder`
turns the bytes into events. Around that the probe keeps what a library client hides: the
time and size of every read off the socket, the raw head, and the compressed byte count.
`br` is not decoded (the standard library has no Brotli): the compression is still seen.

Stdlib only; it never prints.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from dataclasses import dataclass, field

from sse_cli.errors import EventTooLargeError
from sse_cli.loadtest.wire import HeadError, Response, StreamProtocol
from sse_cli.protocol.decoder import Comment, Decoder, Diagnostic, Event, Item
from sse_cli.protocol.response import Head, Outcome

__all__ = ["Arrival", "Probe", "ProbeSpec", "Read"]

PREVIEW = 200  # bytes of a body that is not an event stream kept for the message


@dataclass(frozen=True)
class ProbeSpec:
    """Where one probe connects and what it sends."""

    name: str
    """`curl`, `browser` or `resume`: whom the probe asks like."""
    host: str
    port: int
    request: bytes
    headers: tuple[tuple[str, str], ...]
    """The headers sent, for the report (secrets are masked there)."""
    ssl: ssl.SSLContext | None = None
    server_hostname: str | None = None
    connect_timeout: float | None = 30.0
    last_event_id: str = ""
    max_event_size: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class Read:
    """One read off the socket: when (s since the watch began), its size on the wire, and
    how many events and comments it completed."""

    at: float
    size: int
    events: int = 0
    comments: int = 0


@dataclass(frozen=True)
class Arrival:
    """A dispatched event and when it arrived: watch time and wall-clock nanoseconds."""

    at: float
    wall_ns: int
    event: Event


@dataclass
class Probe:
    """One connection's record. `run()` fills it in; the checks read it."""

    spec: ProbeSpec
    origin: float
    """The `time.monotonic()` the watch started at: every `at` counts from it."""
    connected_at: float | None = None
    head_at: float | None = None
    response: Response | None = None
    version: str = ""
    head_size: int = 0
    reads: list[Read] = field(default_factory=list)
    arrivals: list[Arrival] = field(default_factory=list)
    comments: list[float] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    wire_bytes: int = 0
    body_bytes: int = 0
    """Body bytes after chunked framing and before decompression."""
    decoded_bytes: int = 0
    encoding: str = ""
    decodable: bool = True
    preview: bytes = b""
    retry: int | None = None
    ids_seen: bool = False
    error: BaseException | None = None
    """Why the connection could not be made, or broke; None when it ended cleanly or not at all."""
    ended_at: float | None = None
    """When the connection ended (None: still open when the watch stopped)."""
    _raw: bytes = b""
    _decoder: Decoder | None = None
    _inflate: _Inflater | None = None
    _done: asyncio.Future[None] | None = None
    _protocol: StreamProtocol | None = None

    def head(self, url: str = "") -> Head | None:
        """The response head as the protocol core reads it (None: no head arrived)."""
        response = self.response
        if response is None:
            return None
        return Head(
            response.status,
            response.reason,
            response.headers.get("content-type"),
            response.headers.get("retry-after"),
            url,
        )

    def opened(self) -> bool:
        """The response opened an event stream, as every client of the core decides."""
        head = self.head()
        return head is not None and head.outcome is Outcome.OPEN

    def now(self) -> float:
        return time.monotonic() - self.origin

    async def run(self, until: float) -> None:
        """Connect, then watch until the connection ends or `until` (watch time) comes."""
        spec = self.spec
        loop = asyncio.get_running_loop()
        done = self._done = loop.create_future()
        protocol = self._protocol = _TimedProtocol(spec.request, self)
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: protocol,
                    spec.host,
                    spec.port,
                    ssl=spec.ssl,
                    server_hostname=spec.server_hostname,
                ),
                spec.connect_timeout,
            )
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
            protocol.ended = True
            self.error = exc if str(exc) else TimeoutError("connect timeout")
            self.ended_at = self.now()
            return
        self.connected_at = self.now()
        try:
            await asyncio.wait_for(asyncio.shield(done), max(0.0, until - self.now()))
        except asyncio.TimeoutError:
            pass
        finally:
            if not protocol.ended:
                protocol.abort()  # the watch is over: the stream was still open

    def on_read(self, data: bytes) -> None:
        self.wire_bytes += len(data)
        if self.response is None and len(self._raw) < 65536:
            self._raw += data
        self.reads.append(Read(self.now(), len(data)))

    def on_head(self, response: Response) -> None:
        self.head_at = self.now()
        self.response = response
        raw = self._raw.split(b"\r\n\r\n", 1)[0]
        self.head_size = len(raw) + 4
        self.version = raw.split(b" ", 1)[0].decode("latin-1")
        self._raw = b""
        if not self.opened():
            return
        self.encoding = response.headers.get("content-encoding", "").strip().lower()
        self._inflate = _Inflater.for_coding(self.encoding)
        self.decodable = self._inflate is not None
        self._decoder = Decoder(self.spec.last_event_id, self.spec.max_event_size)

    def on_body(self, data: bytes) -> None:
        self.body_bytes += len(data)
        decoder, inflate = self._decoder, self._inflate
        if decoder is None or inflate is None:
            if len(self.preview) < PREVIEW:
                self.preview += data[: PREVIEW - len(self.preview)]
            return
        try:
            text = inflate.feed(data)
        except zlib.error as exc:
            self._stop(HeadError(f"the {self.encoding} body does not decode: {exc}"))
            return
        self.decoded_bytes += len(text)
        try:
            items = decoder.feed(text)
        except EventTooLargeError as exc:
            items = exc.items
            self._stop(exc)
        self._count(items, decoder)

    def _count(self, items: list[Item], decoder: Decoder) -> None:
        at, wall = self.now(), time.time_ns()
        events = comments = 0
        for item in items:
            if isinstance(item, Event):
                self.arrivals.append(Arrival(at, wall, item))
                events += 1
            elif isinstance(item, Comment):
                self.comments.append(at)
                comments += 1
            elif isinstance(item, Diagnostic):
                self.diagnostics.append(item)
        self.retry, self.ids_seen = decoder.retry, decoder.ids_seen
        if (events or comments) and self.reads:
            last = self.reads[-1]
            self.reads[-1] = Read(
                last.at, last.size, last.events + events, last.comments + comments
            )

    def _stop(self, error: BaseException) -> None:
        if self._protocol is not None and not self._protocol.ended:
            self._protocol.abort()
        self.on_end(error)

    def on_end(self, error: BaseException | None) -> None:
        if self.ended_at is not None:
            return
        self.ended_at = self.now()
        self.error = error
        if self._decoder is not None and error is None:
            self.diagnostics.extend(self._decoder.close())
        if self._done is not None and not self._done.done():
            self._done.set_result(None)


class _TimedProtocol(StreamProtocol):
    """`StreamProtocol` that tells the probe of every read before parsing it."""

    def __init__(self, request: bytes, probe: Probe) -> None:
        super().__init__(request, probe)
        self.probe = probe

    def data_received(self, data: bytes) -> None:
        if not self.ended:
            self.probe.on_read(data)
        super().data_received(data)


class _Inflater:
    """Undo a Content-Encoding piece by piece: identity, gzip, or deflate (zlib-wrapped or,
    as some servers send it, raw)."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._zlib: zlib._Decompress | None = None
        if coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
        self._started = False

    @classmethod
    def for_coding(cls, coding: str) -> _Inflater | None:
        if coding in ("", "identity", "gzip", "x-gzip", "deflate"):
            return cls(coding)
        return None

    def feed(self, data: bytes) -> bytes:
        if self._zlib is None:
            return data
        if self.coding == "deflate" and not self._started and data:
            self._started = True
            try:
                return self._zlib.decompress(data)
            except zlib.error:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._zlib.decompress(data)
