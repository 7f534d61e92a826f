"""Shared test helpers: the CLI as a subprocess, and a scripted raw-socket HTTP server.

The socket server controls every byte and every TCP write, so tests can split a UTF-8
character over two writes, drop a connection mid-field, or hold a stream open and silent.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO

import pytest
from hypothesis import HealthCheck, settings

SSE_CLI = [sys.executable, "-m", "sse_cli"]
WAIT = 15.0  # the bound on any single wait in a test, in seconds

# Hypothesis profiles. "ci" (the default) checks the same examples on every run, in bounded
# time; `pytest --hypothesis-profile=long` explores many more, new ones each run, for a long
# local session. Tests that should scale with the profile leave max_examples unset.
settings.register_profile(
    "ci",
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=20_000,
    derandomize=False,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: no PYTHONUNBUFFERED (it hides missing flushes)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "NO_COLOR")}
    env.update(extra)
    return env


def run_cli(
    *args: str, input: bytes | None = None, timeout: float = 30, **env: str
) -> subprocess.CompletedProcess[bytes]:
    """Run `sse-cli ARGS` to its end; stdin is empty unless `input` is given."""
    return subprocess.run(
        [*SSE_CLI, *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        env=cli_env(**env),
        timeout=timeout,
    )


def spawn_cli(
    *args: str, stdout: int | None = subprocess.PIPE, **env: str
) -> subprocess.Popen[bytes]:
    """Start `sse-cli ARGS` with piped stdout and stderr and no stdin."""
    return subprocess.Popen(
        [*SSE_CLI, *args],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=cli_env(**env),
    )


def read_line(stream: IO[bytes], timeout: float = WAIT) -> bytes:
    """One line from a child's pipe, or fail the test if none comes within `timeout`."""
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no line on the pipe within {timeout} s") from None


def finish(proc: subprocess.Popen[bytes], timeout: float = WAIT) -> tuple[int, bytes, bytes]:
    """Wait for a spawned CLI to exit (killing it after `timeout`): status, rest of stdout, stderr.

    Both pipes are drained while waiting, so a chatty child never blocks on a full pipe, and
    closed at the end.
    """
    output: dict[str, bytes] = {}

    def drain(name: str, stream: IO[bytes] | None) -> None:
        if stream is not None and not stream.closed:
            with stream:
                output[name] = stream.read()

    drains = [
        threading.Thread(target=drain, args=(name, stream), daemon=True)
        for name, stream in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for thread in drains:
        thread.start()
    try:
        status = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(WAIT)
        raise AssertionError(f"sse-cli still running after {timeout} s") from None
    for thread in drains:
        thread.join(WAIT)
    return status, output.get("out", b""), output.get("err", b"")


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


@pytest.fixture
def serve_socket() -> Iterator[Callable[[Handler], SocketServer]]:
    """Start SocketServers for a test; all are stopped when it ends."""
    servers: list[SocketServer] = []

    def start(handler: Handler) -> SocketServer:
        server = SocketServer(handler).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture
def gate(serve_socket: Callable[[Handler], SocketServer]) -> Iterator[threading.Event]:
    """An Event for `steps` to hold a connection on; set at the end, before servers stop."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def spawned() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """`spawn_cli` for a test; any CLI still running when the test ends is killed."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        proc = spawn_cli(*args)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(WAIT)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
