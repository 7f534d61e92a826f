"""A scripted raw-socket HTTP/1.1 server on 127.0.0.1 port 0, and handlers for it.

The socket server controls every byte and every TCP write, so tests can split a UTF-8
character over two writes, drop a connection mid-field, or hold a stream open and silent.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from support.cli import WAIT


@dataclass
class Request:
    """One HTTP request as the server received it."""

    method: str
    target: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    index: int  # 0 for the first connection, 1 for the next, ...


Handler = Callable[[socket.socket, Request], None]


def read_request(conn: socket.socket, index: int) -> Request | None:
    """Read one request head and its Content-Length body, or None if the peer left first."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return None
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        rest += piece
    return Request(method, target, headers, rest[:length], index)


def head(
    status: int = 200,
    content_type: str | None = "text/event-stream",
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """A response head for a body that ends when the connection closes."""
    lines = [f"HTTP/1.1 {status} {'OK' if status < 300 else 'Status'}", "Connection: close"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def stream(
    *writes: bytes, status: int = 200, content_type: str | None = "text/event-stream"
) -> Handler:
    """A handler that sends a head, then each write as its own TCP send, then closes."""

    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(head(status, content_type))
        for piece in writes:
            conn.sendall(piece)

    return handler


def steps(
    *steps: bytes | threading.Event,
    status: int = 200,
    content_type: str | None = "text/event-stream",
) -> Handler:
    """Like `stream`, but an Event among the writes holds the connection open until it is set.

    A test that sets the Event after reading the CLI's output proves what arrived when.
    """

    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(head(status, content_type))
        for step in steps:
            if isinstance(step, threading.Event):
                step.wait(WAIT)
            else:
                conn.sendall(step)

    return handler


def by_connection(*handlers: Handler) -> Handler:
    """Answer connection i with handlers[i]; the last handler answers every later one."""

    def handler(conn: socket.socket, request: Request) -> None:
        handlers[min(request.index, len(handlers) - 1)](conn, request)

    return handler


@dataclass
class SocketServer:
    """A raw HTTP/1.1 server on 127.0.0.1:0 in threads; `handler` answers each request.

    Every request is recorded in `requests`; `wait_requests(n)` blocks until n have come.
    The connection is closed when the handler returns (the body ends with the connection).
    """

    handler: Handler
    requests: list[Request] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    _seen: threading.Condition = field(default_factory=threading.Condition)
    _sock: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def port(self) -> int:
        assert self._sock is not None
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def wait_requests(self, count: int, timeout: float = WAIT) -> list[Request]:
        with self._seen:
            assert self._seen.wait_for(lambda: len(self.requests) >= count, timeout), (
                f"expected {count} requests, saw {len(self.requests)}"
            )
            return list(self.requests)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            with self._seen:
                index = len(self.requests)
            request = read_request(conn, index)
            if request is None:
                return
            with self._seen:
                request.index = len(self.requests)
                self.requests.append(request)
                self._seen.notify_all()
            try:
                self.handler(conn, request)
            except OSError:
                pass  # the client left; that is its right

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def __enter__(self) -> SocketServer:
        self._sock = socket.create_server(("127.0.0.1", 0))
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        assert self._sock is not None
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self._sock.close()
        for thread in self._threads:
            thread.join(WAIT)


def endless(conn: socket.socket, request: Request) -> None:
    """Events with ids and a non-ASCII character until the client leaves (bounded: 200,000
    events, about 4 MB, so a broken test stays finite)."""
    conn.sendall(head())
    for n in range(1, 200_001):
        conn.sendall(b"id: %d\ndata: %d \xc3\xa9\n\n" % (n, n))
