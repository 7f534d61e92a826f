"""A lean HTTP/1.1 client protocol for many concurrent streams: one request, one response.

`aiohttp` costs tens of KiB per open response (session objects, a StreamReader, header
multidicts); a load generator holding 10,000 streams needs far less. `StreamProtocol` parses
the response head, then hands the body on as it arrives, undoing chunked transfer encoding
or counting a Content-Length; a body without either ends with the connection. It never
follows redirects (a load test names the URL it measures), and it does no SSE decoding: the
stream worker feeds the body to the same `Decoder` that `listen` uses.

Stdlib only.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, cast

__all__ = ["HeadError", "Response", "Sink", "StreamProtocol", "build_request"]

#: The most bytes a response head may take before the stream is refused as malformed.
MAX_HEAD = 64 * 1024
HEXDIGITS = b"0123456789abcdefABCDEF"


class HeadError(Exception):
    """The response head or the chunked framing is malformed."""


class Response:
    """A response head: status, reason and the headers (names in lower case)."""

    __slots__ = ("headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: dict[str, str]) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers


def build_request(
    method: str, target: str, host: str, headers: list[tuple[str, str]], body: bytes | None
) -> bytes:
    """The request's bytes: request line, Host, the headers in order, Content-Length, body."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + (body or b"")


def parse_head(raw: bytes) -> Response:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HeadError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise HeadError(f"malformed header line {line[:80]!r}")
        name = name.strip().lower()
        value = value.strip()
        # Repeated headers join with a comma, as HTTP allows (Set-Cookie aside: unused here).
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers)


class Sink(Protocol):
    """What a `StreamProtocol` tells of its exchange."""

    def on_head(self, response: Response) -> None:
        """The response head is read."""

    def on_body(self, data: bytes) -> None:
        """A piece of the body, de-chunked."""

    def on_end(self, error: BaseException | None) -> None:
        """Once: the body ended (None), or the connection failed (an exception)."""


class StreamProtocol(asyncio.Protocol):
    """One HTTP/1.1 exchange, told to a `Sink` by callbacks: no awaitable, no bound method
    per connection, so an idle stream costs a few objects."""

    __slots__ = (
        "_buffer",
        "_chunk_left",
        "_framing",
        "_length_left",
        "_state",
        "ended",
        "request",
        "sink",
        "transport",
    )

    def __init__(
        self,
        request: bytes,
        sink: Sink,
    ) -> None:
        self.request = request
        self.sink = sink
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._state = "head"  # head, body, size, data, crlf, trailer, done
        self._framing = "close"  # close, length, chunked
        self._length_left = 0
        self._chunk_left = 0
        self.ended = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A duck-typed transport: uvloop's is not an asyncio.Transport subclass.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)
        self.request = b""

    def data_received(self, data: bytes) -> None:
        if self.ended:
            return
        if self._state == "body":
            self._close_delimited(data)
            return
        try:
            if self._state == "head":
                data = self._head(data)
            if data and self._framing == "chunked":
                self._chunked(data)
            elif data:
                self._close_delimited(data)
        except HeadError as exc:
            self._finish(exc)

    def _head(self, data: bytes) -> bytes:
        buffer = self._buffer + data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD:
                raise HeadError(f"the response head is over {MAX_HEAD} bytes")
            self._buffer = buffer
            return b""
        self._buffer = b""
        response = parse_head(buffer[:end])
        coding = response.headers.get("transfer-encoding", "").lower()
        if "chunked" in coding:
            self._framing, self._state = "chunked", "size"
        elif "content-length" in response.headers:
            length = response.headers["content-length"]
            if not length.isascii() or not length.isdigit():
                raise HeadError(f"malformed Content-Length {length!r}")
            self._framing, self._state = "length", "length"
            self._length_left = int(length)
        else:
            self._state = "body"
        self.sink.on_head(response)
        rest = buffer[end + 4 :]
        if self._framing == "length" and self._length_left == 0:
            self._finish(None)
            return b""
        return rest

    def _close_delimited(self, data: bytes) -> None:
        if self._framing == "length":
            data = data[: self._length_left]
            self._length_left -= len(data)
            if data:
                self.sink.on_body(data)
            if self._length_left == 0:
                self._finish(None)
            return
        self.sink.on_body(data)

    def _chunked(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        self._buffer = b""
        pos = 0
        while pos < len(buffer) and not self.ended:
            state = self._state
            if state == "data":
                take = min(self._chunk_left, len(buffer) - pos)
                self.sink.on_body(buffer[pos : pos + take])
                pos += take
                self._chunk_left -= take
                if self._chunk_left == 0:
                    self._state = "crlf"
                continue
            end = buffer.find(b"\r\n", pos)
            if end < 0:
                self._buffer = buffer[pos:]
                if len(self._buffer) > MAX_HEAD:
                    raise HeadError("a chunk-size line is too long")
                return
            line = buffer[pos:end]
            pos = end + 2
            if state == "size":
                self._chunk_size(line)
                left = self._chunk_left
                if self._state == "data" and buffer[pos + left : pos + left + 2] == b"\r\n":
                    # The usual read (an event a read): the whole chunk and its CRLF are here.
                    self._state, self._chunk_left = "size", 0
                    self.sink.on_body(buffer[pos : pos + left])
                    pos += left + 2
            elif state == "crlf":
                if line:
                    raise HeadError("a chunk does not end with CRLF")
                self._state = "size"
            elif not line:  # the trailer section ends with an empty line
                self._finish(None)

    def _chunk_size(self, line: bytes) -> None:
        size = line if line.isalnum() else line.split(b";", 1)[0].strip()
        try:
            self._chunk_left = int(size, 16)
        except ValueError:
            raise HeadError(f"malformed chunk size {size[:20]!r}") from None
        if not size or size.strip(HEXDIGITS):  # 1*HEXDIG (RFC 9112): no sign, "0x" or "_"
            raise HeadError(f"malformed chunk size {size[:20]!r}")
        self._state = "trailer" if self._chunk_left == 0 else "data"

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost tells the rest

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ended:
            return
        if exc is None and self._state == "body":
            self._finish(None)  # a close-delimited body ends with the connection
        elif exc is None and self._state == "head" and not self._buffer:
            self._finish(ConnectionResetError("the server closed the connection before a response"))
        elif exc is None:
            self._finish(ConnectionResetError("the server closed the connection mid-body"))
        else:
            self._finish(exc)

    def _finish(self, error: BaseException | None) -> None:
        if self.ended:
            return
        self.ended = True
        self._state = "done"
        if self.transport is not None:
            self.transport.close()
        self.sink.on_end(error)

    def abort(self) -> None:
        """Drop the connection at once (the test is over, or the stream is done)."""
        self.ended = True
        if self.transport is not None:
            self.transport.abort()
