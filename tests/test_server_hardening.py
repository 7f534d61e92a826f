"""`sse-cli serve` under abuse: bad requests, abandoned streams, signals, exposure and caps.

The servers are what `sse-cli serve --port 0 ARGS` serves, read by the command itself, run as a
fresh app on a thread of this process (`serve`, support/serve.py): what it would print on
stderr (its banner, its log lines) is kept, so a test can wait for a line and check that no
traceback was printed or logged. Where the process is the point (signals and exit statuses,
the fds and RSS of the serve process), the server is a real `sse-cli serve` child
(`serve_child`), its stderr drained on a thread and kept. The clients are raw sockets, so a
test controls every byte: chunked bodies with no Content-Length, non-UTF-8 headers, resets
(SO_LINGER 0) and clients that vanish in the middle of an event.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.cli import WAIT, Result, cli_env, invoke
from support.measure import memory_kib, open_fds
from support.relays import descendants, forever_script, running_now
from support.serve import InProcessServer, serve_flags, serving, serving_args
from support.sse_reader import StreamReader, close_all
from support.waiting import wait_until

from sse_cli.launcher import BANNER, Launched, LaunchError, launch, serve_command
from sse_cli.serve.routes import ROUTES

MAX_BODY = 1 << 20  # the documented default of --max-body (1M)


# ----------------------------------------------------------------------------- the server


@dataclass
class Server:
    """A running `sse-cli serve` child, and the client sockets a test opened on it."""

    child: Launched
    clients: list[socket.socket] = field(default_factory=list)  # closed by kill()

    @property
    def pid(self) -> int:
        return self.child.pid

    @property
    def url(self) -> str:
        return self.child.url

    @property
    def host(self) -> str:
        return self.child.host

    @property
    def port(self) -> int:
        return self.child.port

    @property
    def stderr(self) -> str:
        return self.child.stderr

    def mark(self) -> int:
        return self.child.mark()

    def lines(self, since: int = 0) -> list[str]:
        return self.child.lines(since)

    def wait_line(self, pattern: str, timeout: float = WAIT) -> str:
        """The first stderr line containing `pattern`, waiting for it up to `timeout`."""
        try:
            return self.child.wait_line(pattern, timeout)
        except LaunchError as exc:
            raise AssertionError(str(exc)) from None

    def stop(self, sig: int = signal.SIGINT, timeout: float = WAIT) -> tuple[int, float]:
        """Send `sig`; the exit status and the seconds it took, once stderr is drained too."""
        began = time.monotonic()
        try:
            status = self.child.stop(sig, timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"serve still running {timeout} s after signal {sig}") from None
        return status, time.monotonic() - began

    def kill(self) -> None:
        for sock in self.clients:
            sock.close()
        self.child.kill()


@dataclass
class AppServer:
    """A fresh app served on a thread of this process (support/serve.py), for the tests where
    the process is not the point, and the client sockets a test opened on it. Its address is
    the one its banner names; its stderr is what a child's would have been."""

    app: InProcessServer
    clients: list[socket.socket] = field(default_factory=list)  # closed at the test's end
    url: str = field(init=False)
    host: str = field(init=False)
    port: int = field(init=False)

    def __post_init__(self) -> None:
        match = BANNER.search(self.app.banner[0])
        assert match is not None, self.app.banner
        self.url, self.host, self.port = match[1], match[2], int(match[3])

    @property
    def stderr(self) -> str:
        return self.app.stderr

    def mark(self) -> int:
        return self.app.log.mark()

    def lines(self, since: int = 0) -> list[str]:
        return self.app.log.lines(since)

    def wait_line(self, pattern: str, timeout: float = WAIT) -> str:
        return self.app.log.wait_line(pattern, timeout)


#: What the raw-HTTP helpers below talk to: a child serve or an app in this process.
Reachable = Server | AppServer


@pytest.fixture
def app_server() -> Iterator[Callable[..., AppServer]]:
    """`app_server(**settings)`: a fresh app for `ServeSettings(port=0, **settings)`, served
    in this process until the test ends."""
    with ExitStack() as stack:
        started: list[AppServer] = []

        def start(**fields: Any) -> AppServer:
            server = AppServer(stack.enter_context(serving(**fields)))
            started.append(server)
            return server

        yield start
        for server in started:
            for sock in server.clients:
                sock.close()


def start_server(args: Sequence[str]) -> Server:
    """Start `sse-cli serve --port 0 ARGS`; return once its banner names the address."""
    return Server(launch(serve_command(args), env=cli_env(), timeout=WAIT))


@pytest.fixture
def serve(app_server: Callable[..., AppServer]) -> Callable[..., AppServer]:
    """`serve(*ARGS)`: what `sse-cli serve --port 0 ARGS` serves, in this process until the
    test ends."""
    return lambda *args: app_server(**serve_flags(*args)[0])


@pytest.fixture
def serve_child() -> Iterator[Callable[..., Server]]:
    """Start `sse-cli serve` children for one test; any still running at its end is killed."""
    servers: list[Server] = []

    def start(*args: str) -> Server:
        server = start_server(args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


def no_traceback(server: Reachable, since: int = 0) -> None:
    """Nothing like a traceback on stderr (from line `since`); in this process, no ERROR
    record with an exception from uvicorn, Starlette, FastAPI or sse-cli either."""
    text = "".join(server.lines(since))
    found = [i for i in (text.find("Traceback"), text.find("ASGI callable")) if i >= 0]
    assert not found, (
        f"{text.count('Traceback')} tracebacks; the first:\n{text[min(found) :][:3000]}"
    )
    if isinstance(server, AppServer):
        logged = server.app.log.tracebacks(since)
        assert not logged, f"{len(logged)} exceptions logged; the first: {logged[0].getMessage()}"


# ----------------------------------------------------------------------------- raw HTTP


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> dict[str, object]:
        value = json.loads(self.body)
        assert isinstance(value, dict), value
        return value


def build(
    method: str,
    target: str,
    body: bytes | None = None,
    headers: Sequence[tuple[str, bytes | str]] = (),
    close: bool = True,
) -> bytes:
    """A request head (and body, with its Content-Length), header values taken as raw bytes."""
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    for name, value in headers:
        raw = value.encode("latin-1") if isinstance(value, str) else value
        lines.append(name.encode() + b": " + raw)
    if body is not None and not any(n.lower() == "transfer-encoding" for n, _ in headers):
        lines.append(b"Content-Length: %d" % len(body))
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def chunked(data: bytes, size: int = 65536) -> bytes:
    """`data` as a chunked request body, terminating chunk included."""
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


class Reader:
    """Buffered reads from a socket, for parsing one HTTP response."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def fill(self) -> bool:
        piece = self.sock.recv(65536)
        self.buffer += piece
        return bool(piece)

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            if not self.fill():
                raise EOFError(f"connection closed before {marker!r}: {self.buffer[:200]!r}")
        data, _, self.buffer = self.buffer.partition(marker)
        return data

    def exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            if not self.fill():
                raise EOFError(f"connection closed {count - len(self.buffer)} bytes short")
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def head(self) -> tuple[int, dict[str, str]]:
        lines = self.until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def body(self, headers: dict[str, str]) -> bytes:
        if "content-length" in headers:
            return self.exactly(int(headers["content-length"]))
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while size := int(self.until(b"\r\n").split(b";")[0], 16):
                body += self.exactly(size)
                self.until(b"\r\n")
            return body
        while self.fill():
            pass
        return self.buffer


def connect(server: Reachable) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    server.clients.append(sock)
    return sock


def exchange(server: Reachable, request: bytes, read_success_body: bool = True) -> Reply:
    """Send `request` on a new connection and read the whole reply.

    A 2xx reply to a request a test expects to be refused may be an endless stream: with
    `read_success_body=False` its body is not read.
    """
    with connect(server) as sock:
        try:
            sock.sendall(request)
        except OSError:
            pass  # the server may answer (413) and close before it has read everything
        reader = Reader(sock)
        status, headers = reader.head()
        if 200 <= status < 300 and not read_success_body:
            return Reply(status, headers, b"")
        body = reader.body(headers)
        try:
            while reader.fill():  # until the server has closed its end (and so its fd)
                pass
        except ConnectionResetError:
            pass  # it closed with part of a refused body unread: that is a reset
        return Reply(status, headers, body)


def get(server: Reachable, target: str, headers: Sequence[tuple[str, bytes | str]] = ()) -> Reply:
    return exchange(server, build("GET", target, headers=headers))


def stats(server: Reachable) -> dict[str, int]:
    """The server's counters, read on a connection the server has closed (and so its fd)
    by the time this returns: an fd count taken next does not see the /stats request."""
    reply = get(server, "/stats")
    assert reply.status == 200, reply
    counts = json.loads(reply.body)
    assert isinstance(counts, dict), counts
    return {k: v for k, v in counts.items() if isinstance(v, int)}


def events_of(body: bytes) -> list[str]:
    return [line[6:] for line in body.decode().split("\n") if line.startswith("data: ")]


def assert_streams(server: Reachable, marker: str) -> None:
    """A normal stream still works: GET /?message=MARKER sends it back, one character each."""
    reply = get(server, f"/?message={marker}&delay=0")
    assert reply.status == 200, reply
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert events_of(reply.body) == list(marker)


# ----------------------------------------------------------------------------- bad requests


@dataclass(frozen=True)
class Bad:
    name: str
    request: bytes
    status: int
    names: str  # a word the "error" message must contain (case-insensitive)


def post_json(target: str, body: bytes) -> bytes:
    return build("POST", target, body, [("Content-Type", "application/json")])


def post_chunked(target: str, data: bytes) -> bytes:
    headers = [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]
    return build("POST", target, headers=headers) + chunked(data)


def counter_after_any(last_event_id: bytes) -> bytes:
    return build("GET", "/counter", headers=[("Last-Event-ID", last_event_id)])


def declared_over_limit(target: str) -> bytes:
    """Only the head of a request whose Content-Length is over the limit: the server must
    refuse it from the head alone, without waiting for a body that is never sent."""
    headers = [("Content-Type", "application/json"), ("Content-Length", str(MAX_BODY + 1))]
    return build("POST", target, headers=headers)


def counter_after(last_event_id: bytes) -> bytes:
    return build("GET", "/counter?limit=5", headers=[("Last-Event-ID", last_event_id)])


CHAT = "/v1/chat/completions"
USER_HI = b'{"messages": [{"role": "user", "content": "hi"}]'
OVER = b'{"message": "' + b"x" * MAX_BODY + b'"}'
NESTED = b"[" * 100_000  # 100 kB: within the body limit, far past json's recursion limit

BAD_REQUESTS = [
    # POST /sse: the body
    Bad("sse-malformed-json", post_json("/sse", b'{"message": '), 400, "JSON"),
    Bad("sse-empty-body", post_json("/sse", b""), 400, "JSON"),
    Bad("sse-non-utf8-body", post_json("/sse", b'{"message": "\xff\xfe"}'), 400, "UTF-8"),
    Bad("sse-message-wrong-type", post_json("/sse", b'{"message": 5}'), 422, "message"),
    Bad("sse-message-missing", post_json("/sse", b'{"text": "hi"}'), 422, "message"),
    Bad("sse-body-not-object", post_json("/sse", b'["hi"]'), 422, "object"),
    Bad("sse-message-empty", post_json("/sse", b'{"message": ""}'), 422, "message"),
    Bad("sse-body-over-limit-declared", declared_over_limit("/sse"), 413, "limit"),
    Bad("sse-body-over-limit-chunked", post_chunked("/sse", OVER), 413, "limit"),
    Bad(
        "sse-message-too-long",
        post_json("/sse", b'{"message": "%s"}' % (b"x" * 100_001)),
        413,
        "message",
    ),
    # query values out of range or of the wrong type
    Bad("sse-negative-delay", post_json("/sse?delay=-1", b'{"message": "hi"}'), 422, "delay"),
    Bad("sse-delay-not-a-number", post_json("/sse?delay=soon", b'{"message": "hi"}'), 422, "delay"),
    Bad("message-absurd-delay", build("GET", "/?delay=1e308"), 422, "delay"),
    Bad("message-nan-delay", build("GET", "/?delay=nan"), 422, "delay"),
    Bad("message-empty", build("GET", "/?message="), 422, "message"),
    Bad("counter-negative-limit", build("GET", "/counter?limit=-1"), 422, "limit"),
    Bad("counter-zero-limit", build("GET", "/counter?limit=0"), 422, "limit"),
    Bad("counter-absurd-limit", build("GET", "/counter?limit=" + "9" * 30), 422, "limit"),
    Bad("counter-fractional-limit", build("GET", "/counter?limit=1.5"), 422, "limit"),
    Bad("counter-zero-drop-after", build("GET", "/counter?drop_after=0"), 422, "drop_after"),
    Bad("counter-negative-retry", build("GET", "/counter?retry=-5"), 422, "retry"),
    Bad("clock-zero-interval", build("GET", "/clock?interval=0"), 422, "interval"),
    Bad("clock-negative-limit", build("GET", "/clock?limit=-3"), 422, "limit"),
    # Last-Event-ID
    Bad("last-event-id-not-digits", counter_after(b"abc"), 400, "Last-Event-ID"),
    Bad("last-event-id-negative", counter_after(b"-1"), 400, "Last-Event-ID"),
    Bad("last-event-id-non-utf8", counter_after(b"\xff\xfe"), 400, "Last-Event-ID"),
    Bad("last-event-id-fullwidth-digits", counter_after("１２".encode()), 400, "Last-Event-ID"),
    # topics and event names
    Bad("subscribe-empty-topic", build("GET", "/subscribe?topic="), 400, "topic"),
    Bad("subscribe-topic-with-slash", build("GET", "/subscribe?topic=a/b"), 400, "topic"),
    Bad("subscribe-topic-too-long", build("GET", "/subscribe?topic=" + "a" * 65), 400, "topic"),
    Bad("subscribe-topic-newline", build("GET", "/subscribe?topic=a%0Ab"), 400, "topic"),
    Bad("publish-invalid-topic", build("POST", "/publish?topic=a%20b", b"hi"), 400, "topic"),
    Bad("subscribe-history-not-a-number", build("GET", "/subscribe?history=all"), 400, "history"),
    Bad("publish-event-newline", build("POST", "/publish?event=a%0Ab", b"hi"), 422, "event"),
    Bad("publish-event-carriage-return", build("POST", "/publish?event=a%0D", b"hi"), 422, "event"),
    Bad("publish-event-nul", build("POST", "/publish?event=a%00", b"hi"), 422, "event"),
    Bad("publish-event-empty", build("POST", "/publish?event=", b"hi"), 422, "event"),
    Bad(
        "publish-event-too-long", build("POST", "/publish?event=" + "e" * 257, b"hi"), 422, "event"
    ),
    Bad("publish-non-utf8-body", build("POST", "/publish", b"\xc3\x28"), 400, "UTF-8"),
    Bad("publish-over-limit-chunked", post_chunked("/publish", OVER), 413, "limit"),
    # the OpenAI mock: the API's status (400) and error object, naming the parameter
    Bad("chat-messages-missing", post_json(CHAT, b"{}"), 400, "messages"),
    Bad("chat-messages-empty", post_json(CHAT, b'{"messages": []}'), 400, "messages"),
    Bad("chat-messages-not-list", post_json(CHAT, b'{"messages": "hi"}'), 400, "messages"),
    Bad("chat-role-missing", post_json(CHAT, b'{"messages": [{"content": "x"}]}'), 400, "role"),
    Bad("chat-role-not-string", post_json(CHAT, b'{"messages": [{"role": 1}]}'), 400, "role"),
    Bad(
        "chat-content-number",
        post_json(CHAT, b'{"messages": [{"role": "user", "content": 5}]}'),
        400,
        "content",
    ),
    Bad("chat-message-not-object", post_json(CHAT, b'{"messages": ["hi"]}'), 400, "messages"),
    Bad("chat-stream-not-bool", post_json(CHAT, USER_HI + b', "stream": "maybe"}'), 400, "stream"),
    Bad("chat-stream-yes", post_json(CHAT, USER_HI + b', "stream": "yes"}'), 400, "stream"),
    Bad("chat-stream-one", post_json(CHAT, USER_HI + b', "stream": 1}'), 400, "stream"),
    Bad(
        "chat-stream-options-without-stream",
        post_json(CHAT, USER_HI + b', "stream_options": {"include_usage": true}}'),
        400,
        "stream_options",
    ),
    Bad("chat-malformed-json", post_json(CHAT, USER_HI), 400, "JSON"),
    Bad("chat-non-utf8-body", post_json(CHAT, b'{"messages": "\x80"}'), 400, "UTF-8"),
    Bad("chat-body-not-object", post_json(CHAT, b"[]"), 400, "body"),
    Bad("chat-negative-delay", post_json(CHAT + "?delay=-1", USER_HI + b"}"), 400, "delay"),
    Bad("models-unknown", build("GET", "/v1/models/gpt-nope"), 404, "gpt-nope"),
    Bad("openai-unknown-path", build("GET", "/v1/nope"), 404, "/v1/nope"),
    Bad("chat-over-limit-declared", declared_over_limit(CHAT), 413, "limit"),
    Bad("chat-over-limit-chunked", post_chunked(CHAT, OVER), 413, "limit"),
    # routing
    Bad("unknown-path", build("GET", "/nope"), 404, "/nope"),
    Bad("wrong-method", build("GET", "/sse"), 405, "method"),
]

KNOWN_BUGS = [  # each of these was a 500 (or a stream broken mid-way) once
    pytest.param(
        Bad("sse-deeply-nested-json", post_json("/sse", NESTED), 400, "JSON"),
        id="sse-deeply-nested-json",
    ),
    pytest.param(
        Bad("chat-deeply-nested-json", post_json(CHAT, NESTED), 400, "JSON"),
        id="chat-deeply-nested-json",
    ),
    pytest.param(
        Bad("sse-lone-surrogate", post_json("/sse", b'{"message": "a\\ud800"}'), 400, "surrogate"),
        id="sse-lone-surrogate",
    ),
    pytest.param(
        Bad(
            "chat-lone-surrogate",
            post_json(CHAT, b'{"messages": [{"role": "user", "content": "\\udc00"}]}'),
            400,
            "surrogate",
        ),
        id="chat-lone-surrogate",
    ),
    pytest.param(
        Bad("last-event-id-past-max-limit", counter_after_any(b"9" * 30), 400, "Last-Event-ID"),
        id="last-event-id-past-max-limit",
    ),
    pytest.param(
        Bad("last-event-id-5000-digits", counter_after(b"9" * 5000), 400, "Last-Event-ID"),
        id="last-event-id-5000-digits",
    ),
]


@pytest.fixture(scope="module")
def plain_server() -> Iterator[AppServer]:
    """One server for the read-only checks: defaults, except no rate limit and no pause."""
    with serving_args("--delay", "0", "--rate-limit", "0") as app:
        server = AppServer(app)
        yield server
        for sock in server.clients:
            sock.close()


OPENAI_ERROR = {"message", "type", "param", "code"}


def error_message(request: bytes, reply: Reply) -> str:
    """The refusal's message: `{"error": "..."}`, or under /v1/ the OpenAI error object."""
    error = reply.json()["error"]
    if request.split(b" ", 2)[1].startswith(b"/v1/"):
        assert isinstance(error, dict) and error.keys() == OPENAI_ERROR, error
        assert error["type"] == "invalid_request_error", error
        assert isinstance(error["message"], str)
        return error["message"]
    assert isinstance(error, str), error
    return error


def check_refused(server: AppServer, bad: Bad, marker: str) -> None:
    since = server.mark()
    reply = exchange(server, bad.request, read_success_body=False)
    assert 400 <= reply.status <= 499, f"{bad.name}: {reply.status} {reply.body[:300]!r}"
    assert reply.status == bad.status, reply
    assert reply.headers["content-type"] == "application/json", reply.headers
    error = error_message(bad.request, reply)
    assert bad.names.lower() in error.lower(), error
    # The server keeps serving, and printed no traceback: the access-log line of the next
    # stream is written after anything the bad request made the server print.
    assert_streams(server, marker)
    server.wait_line(f"GET /?message={marker}&delay=0 ")
    no_traceback(server, since)


@pytest.mark.parametrize("bad", [*BAD_REQUESTS, *KNOWN_BUGS], ids=lambda b: b.name)
def test_bad_request_gets_4xx_json_error_and_server_keeps_serving(
    plain_server: AppServer, bad: Bad
) -> None:
    check_refused(plain_server, bad, f"ok-{bad.name}")


def test_bad_request_table_is_large_enough() -> None:
    assert len(BAD_REQUESTS) >= 20
    assert len({bad.name for bad in BAD_REQUESTS}) == len(BAD_REQUESTS)


# ----------------------------------------------------------------------------- bodies cut short


BODY_PATHS = sorted(route.path for route in ROUTES if route.method == "POST")
LARGE = 900_000  # bytes declared by the large upload: under --max-body, so it is read


@dataclass(frozen=True)
class Cut:
    """A request whose body never fully arrives: the head, the part of the body sent once
    the server has asked for it (100 Continue), and how the client then leaves."""

    head: list[tuple[str, str]]
    sent: bytes
    reset: bool = False


CUTS = {
    "content-length-100-two-bytes-then-close": Cut([("Content-Length", "100")], b'{"'),
    "chunked-cut-mid-chunk": Cut([("Transfer-Encoding", "chunked")], b"100\r\n" + b"x" * 10),
    "close-during-large-upload": Cut([("Content-Length", str(LARGE))], b"x" * (LARGE // 3)),
    "reset-during-body": Cut([("Content-Length", "100")], b'{"', reset=True),
}


def send_cut(server: AppServer, path: str, cut: Cut) -> None:
    """Send the head, wait for the server's 100 Continue (so its handler is reading the
    body), send part of the body, then close (FIN) or reset (SO_LINGER 0: RST)."""
    head = [("Content-Type", "application/json"), ("Expect", "100-continue"), *cut.head]
    sock = connect(server)
    sock.sendall(build("POST", path, headers=head, close=False))
    assert Reader(sock).until(b"\r\n\r\n").startswith(b"HTTP/1.1 100 ")
    sock.sendall(cut.sent)
    if cut.reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("path", BODY_PATHS)
@pytest.mark.parametrize("cut", CUTS.values(), ids=list(CUTS))
def test_client_leaving_mid_body_ends_the_request_quietly(
    plain_server: AppServer, cut: Cut, path: str
) -> None:
    server = plain_server
    since = server.mark()
    before = stats(server)["abandoned"]
    send_cut(server, path, cut)
    wait_until(
        lambda: stats(server)["abandoned"] == before + 1,
        what=lambda: f"the request was not ended as abandoned: {stats(server)}",
    )
    began = time.monotonic()
    assert get(server, "/stats").status == 200
    assert time.monotonic() - began < 0.5
    assert_streams(server, "after-cut")
    server.wait_line("GET /?message=after-cut&delay=0 ")
    no_traceback(server, since)
    logged = [line for line in server.lines(since) if f"POST {path}" in line]
    assert len(logged) <= 1, logged


def test_every_body_endpoint_is_cut_short_here() -> None:
    assert {"/sse", "/publish", "/v1/chat/completions"} <= set(BODY_PATHS)


# ----------------------------------------------------------------------------- many streams


@dataclass
class Stream:
    """An open event stream on a raw socket, its head read; `kind` says how it will end."""

    kind: str
    sock: socket.socket
    reader: Reader


STREAM_REQUESTS = {  # kind -> (request, what to read past the head before the stream counts)
    "clean": (build("GET", "/subscribe?topic=leak", close=False), b": subscribed to topic leak"),
    "reset": (build("GET", "/clock?interval=30", close=False), b"event: tick"),
    "vanish": (build("GET", "/counter?delay=30", close=False), b""),  # see head_only
}


def head_only(sock: socket.socket) -> Reader:
    """Read a response head and not one byte more (peeking first), so what follows stays
    in the kernel's buffer: a client closing with unread data there resets the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        peeked = sock.recv(65536, socket.MSG_PEEK)
        if not peeked:
            raise EOFError(f"connection closed in the head: {data!r}")
        end = (data + peeked).find(b"\r\n\r\n")
        data += sock.recv(len(peeked) if end < 0 else end + 4 - len(data))
    reader = Reader(sock)
    reader.buffer = data
    return reader


def open_streams(server: Reachable, kinds: Sequence[str], batch: int = 100) -> list[Stream]:
    """Open one stream per kind, `batch` at a time: connect and send all, then read each head
    and the start of its first event ("vanish" reads only 4 bytes of it and leaves the rest
    in the kernel's buffer)."""
    streams: list[Stream] = []
    for start in range(0, len(kinds), batch):
        group: list[Stream] = []
        for kind in kinds[start : start + batch]:
            sock = connect(server)
            sock.sendall(STREAM_REQUESTS[kind][0])
            group.append(Stream(kind, sock, Reader(sock)))
        for stream in group:
            if stream.kind == "vanish":
                stream.reader = head_only(stream.sock)
            status, headers = stream.reader.head()
            assert status == 200, (stream.kind, status, headers)
            if stream.kind == "vanish":
                # A few bytes of the first event: the rest stays unread.
                assert stream.sock.recv(4)
            else:
                stream.reader.until(STREAM_REQUESTS[stream.kind][1])
        streams += group
    return streams


def abandon(streams: Sequence[Stream]) -> None:
    """End each stream as its kind says: a clean close (FIN), a reset (SO_LINGER 0: RST), or
    a client that vanishes in the middle of an event, the rest of it unread (the kernel
    resets that connection too, as it does when a client process dies)."""
    for stream in streams:
        if stream.kind == "reset":
            stream.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif stream.kind == "clean":
            stream.sock.shutdown(socket.SHUT_WR)
        stream.sock.close()


def kinds_of(count: int) -> list[str]:
    order = ("clean", "reset", "vanish")
    return [order[i % len(order)] for i in range(count)]


@dataclass(frozen=True)
class Usage:
    fds: int
    tasks: int
    rss_kib: int
    generators: int
    subscribers: int


def usage(server: Server) -> Usage:
    counts = stats(server)
    fds, rss = open_fds(server.pid), memory_kib(server.pid)
    return Usage(fds, counts["tasks"], rss, counts["generators"], counts["subscribers"])


def settled(server: Server, baseline: Usage, slack: int = 0) -> Callable[[], bool]:
    def check() -> bool:
        now = usage(server)
        return (
            now.generators == 0
            and now.subscribers == 0
            and now.tasks <= baseline.tasks + slack
            and now.fds <= baseline.fds + slack
        )

    return check


LEAK_STREAMS = 1000
WARM_UP_SLACK = 2  # fds and tasks the first streams may start for good
RSS_GROWTH_KIB = 8 * 1024  # a leak of 8 KiB per stream would pass this, 10 KiB would not


def leak_round(server: Server, label: str, baseline: Usage, slack: int = 0) -> Usage:
    """Open LEAK_STREAMS streams, abandon them, wait until the server is back to `baseline`:
    no generators or subscribers, no more tasks and fds than then (plus `slack`). The usage
    while the streams were open."""
    streams = open_streams(server, kinds_of(LEAK_STREAMS))
    busy = usage(server)
    assert busy.generators == LEAK_STREAMS, (label, busy)
    assert busy.subscribers == len([s for s in streams if s.kind == "clean"]), (label, busy)
    assert busy.fds >= baseline.fds + LEAK_STREAMS, (label, busy)
    abandon(streams)
    wait_until(
        settled(server, baseline, slack),
        what=lambda: f"{label}: {baseline} then {usage(server)}",
    )
    return busy


@pytest.mark.slow  # two rounds of 1,000 streams: a small leak per stream must add up
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux /proc")
def test_abandoned_streams_leak_no_fds_tasks_memory_or_generators(
    serve_child: Callable[..., Server],
) -> None:
    server = serve_child("--delay", "0", "-q", "--rate-limit", "0", "--max-streams", "2000")
    cold = usage(server)
    # A warm-up round first. The first streams start things that live as long as the server
    # (sse-starlette's shutdown watcher is one task), and the allocator keeps memory from the
    # first thousand streams: neither is a leak. What grows again in the second round is.
    leak_round(server, "warm-up", cold, slack=WARM_UP_SLACK)
    baseline = usage(server)
    busy = leak_round(server, "measured", baseline)
    after = usage(server)
    print(f"cold {cold}\nbaseline {baseline}\nbusy {busy}\nafter {after}")
    assert after.rss_kib <= baseline.rss_kib + RSS_GROWTH_KIB, (baseline, after)
    assert_streams(server, "still-serving")
    no_traceback(server)


def test_client_vanishing_from_a_fast_stream_frees_the_server(
    serve: Callable[..., AppServer],
) -> None:
    """A stream with no pause (/counter?delay=0 is a billion events) whose client resets
    must be cancelled, not run on: it would hold the event loop and starve every client."""
    server = serve("--delay", "0", "-q", "--rate-limit", "0")
    socks = []
    for _ in range(3):
        sock = connect(server)
        sock.sendall(build("GET", "/counter?delay=0", close=False))
        reader = Reader(sock)
        assert reader.head()[0] == 200
        reader.until(b"data: 1000\n")
        socks.append(sock)
    for sock in socks:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
        sock.sendall(build("GET", "/stats"))
        reader = Reader(sock)
        try:
            status, headers = reader.head()
            counts = json.loads(reader.body(headers))
        except TimeoutError:
            raise AssertionError("the server did not answer /stats within 3 s") from None
    assert status == 200
    wait_until(lambda: stats(server)["generators"] == 0, 3, what=lambda: str(stats(server)))
    assert time.monotonic() - began < 3, counts


# ----------------------------------------------------------------------------- shutdown


SHUTDOWN_STREAMS = 1000
CTRL_C_STREAMS = 99


def ended_not_cut(streams: Sequence[Stream]) -> None:
    """Every stream was ended, not cut: its chunked body closes with the last chunk."""
    cut = []
    for stream in streams:
        try:
            while stream.reader.fill():
                pass
        except OSError as exc:
            stream.reader.buffer += repr(exc).encode()
        if not stream.reader.buffer.endswith(b"0\r\n\r\n"):
            cut.append((stream.kind, stream.reader.buffer[-40:]))
    assert not cut, f"{len(cut)} streams cut short, e.g. {cut[:3]}"


def test_sigterm_with_a_thousand_open_streams_exits_0_promptly(
    serve_child: Callable[..., Server],
) -> None:
    server = serve_child("--delay", "0", "-q", "--rate-limit", "0", "--max-streams", "2000")
    kinds = ["reset", "vanish", "clean"] * (SHUTDOWN_STREAMS // 3) + ["reset"]
    streams = open_streams(server, kinds)
    assert stats(server)["generators"] == SHUTDOWN_STREAMS
    status, elapsed = server.stop(signal.SIGTERM, timeout=10)
    assert status == 0, server.stderr[-2000:]
    # The graceful window is 1 s; without it uvicorn would wait for these endless streams
    # forever. What follows the window (1,000 streams ended, the interpreter's exit) is slower
    # on a busy machine, so the bound leaves room for that and still catches a hang.
    assert elapsed < 6.0, f"{elapsed:.2f} s"
    no_traceback(server)
    ended_not_cut(streams)


def relay_output(reader: StreamReader) -> list[str]:
    return [event.data for event in reader.events if event.event == "stdout"]


def test_ctrl_c_with_open_streams_and_relay_commands_exits_0_within_2_s_leaving_no_child(
    serve_child: Callable[..., Server], tmp_path: Path
) -> None:
    """Ctrl-C reaches serve alone (its relay's commands are in sessions of their own): serve
    ends every open stream, stops and reaps the commands, and exits 0 within 2 s."""
    forever = forever_script(tmp_path)
    pipeline = f"sh -c '{forever} | cat'"  # a shell, the script and cat: a process group
    relay = ["--exec", pipeline, "--exec-per-client", forever]
    server = serve_child("--delay", "0", "-q", "--rate-limit", "0", *relay)
    try:
        shared = StreamReader(f"{server.url}/subscribe?topic=exec&history=10")
        shared.wait(lambda r: bool(relay_output(r)))
        own = StreamReader(f"{server.url}/exec")
        own.wait(lambda r: bool(relay_output(r)))
        pids = descendants(server.pid)
        assert {int(relay_output(shared)[0]), int(relay_output(own)[0])} <= pids
        assert len(pids) == 4  # sh, its script and cat; the client's script
        streams = open_streams(server, kinds_of(CTRL_C_STREAMS))
        status, elapsed = server.stop(signal.SIGINT)
    finally:
        close_all()
    assert status == 0, server.stderr[-2000:]
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    # serve reaped its children; the rest of the pipeline, orphaned, is init's to reap
    assert not [pid for pid in pids if running_now(pid)]
    no_traceback(server)
    ended_not_cut(streams)


# ----------------------------------------------------------------------------- exposure


def listening_address(port: int) -> str:
    """The local address of the listening TCP socket on `port`, from /proc/net/tcp."""
    with open("/proc/net/tcp", encoding="ascii") as table:
        for line in list(table)[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                return socket.inet_ntoa(struct.pack("<I", int(address, 16)))
    raise AssertionError(f"nothing listens on port {port}")


def test_loopback_is_the_default_bind(plain_server: AppServer) -> None:
    assert plain_server.host == "127.0.0.1"
    assert "warning" not in plain_server.stderr
    if os.path.exists("/proc/net/tcp"):
        assert listening_address(plain_server.port) == "127.0.0.1"


def test_binding_every_interface_prints_a_warning(serve: Callable[..., AppServer]) -> None:
    server = serve("--host", "0.0.0.0", "-q")
    warning = server.wait_line("warning")
    assert warning.startswith("sse-cli: warning: listening on every interface")
    assert "--host 127.0.0.1" in warning
    assert "100 requests a second (--rate-limit)" in warning
    if os.path.exists("/proc/net/tcp"):
        assert listening_address(server.port) == "0.0.0.0"
    stats(server)
    server.app.stop()  # as Ctrl-C does; serve's exit status then is the signal tests' point
    no_traceback(server)


def test_an_empty_host_is_refused_not_bound_to_every_interface() -> None:
    result = invoke("serve", "--port", "0", "--host", "", timeout=WAIT)
    assert result.status == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "--host" in lines[0] and "0.0.0.0" in lines[0], lines
    assert "serving on" not in lines[0]


def preflight(origin: str, method: str = "POST") -> bytes:
    headers = [
        ("Origin", origin),
        ("Access-Control-Request-Method", method),
        ("Access-Control-Request-Headers", "content-type"),
    ]
    return build("OPTIONS", "/sse", headers=headers)


def test_cors_is_off_by_default(plain_server: AppServer) -> None:
    reply = get(plain_server, "/counter?limit=1", [("Origin", "http://a.test")])
    assert reply.status == 200
    assert "access-control-allow-origin" not in reply.headers
    reply = exchange(plain_server, preflight("http://a.test"))
    assert "access-control-allow-origin" not in reply.headers
    assert "access-control-allow-credentials" not in reply.headers


def test_cors_star_is_refused_with_exit_2() -> None:
    result = invoke("serve", "--port", "0", "--cors-origin", "*", timeout=WAIT)
    assert result.status == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "'*'" in lines[0] and "credentials" in lines[0], lines
    assert "Traceback" not in result.stderr


def test_cors_allows_only_the_named_origin_with_credentials(
    app_server: Callable[..., AppServer],
) -> None:
    server = app_server(cors_origins=("http://a.test",), delay=0, rate_limit=0)
    reply = get(server, "/counter?limit=2", [("Origin", "http://a.test")])
    assert reply.status == 200 and events_of(reply.body) == ["1", "2"]
    assert reply.headers["access-control-allow-origin"] == "http://a.test"
    assert reply.headers["access-control-allow-credentials"] == "true"
    assert "origin" in reply.headers.get("vary", "").lower()

    reply = exchange(server, preflight("http://a.test"))
    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] == "http://a.test"
    assert reply.headers["access-control-allow-credentials"] == "true"
    assert "POST" in reply.headers["access-control-allow-methods"]
    assert "content-type" in reply.headers["access-control-allow-headers"].lower()

    reply = get(server, "/counter?limit=1", [("Origin", "http://b.test")])
    assert reply.status == 200
    assert "access-control-allow-origin" not in reply.headers
    reply = exchange(server, preflight("http://b.test"))
    assert reply.status >= 400
    assert "access-control-allow-origin" not in reply.headers


SECURITY = {
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "x-accel-buffering": "no",
}


@pytest.mark.parametrize(
    ("target", "status", "content_type"),
    [
        ("/counter?limit=1", 200, "text/event-stream"),
        ("/?message=hi", 200, "text/event-stream"),
        ("/subscribe?topic=a/b", 400, "application/json"),
        ("/counter?limit=-1", 422, "application/json"),
        ("/nope", 404, "application/json"),
        ("/ui", 200, "text/html"),
        ("/stats", 200, "application/json"),
    ],
)
def test_responses_carry_security_headers(
    plain_server: AppServer, target: str, status: int, content_type: str
) -> None:
    reply = get(plain_server, target)
    assert reply.status == status
    assert reply.headers["content-type"].startswith(content_type)
    for name, value in SECURITY.items():
        assert reply.headers.get(name) == value, (name, reply.headers)


GET_STREAMS = sorted(route.path for route in ROUTES if route.stream and route.method == "GET")


@pytest.mark.parametrize("path", GET_STREAMS)
def test_head_on_a_stream_answers_its_headers_and_no_body(
    plain_server: AppServer, path: str
) -> None:
    """`curl -I`: 200 and text/event-stream, the connection then closed with no body sent,
    and no stream started. (A route its server does not serve answers HEAD as it answers
    GET: /exec without --exec-per-client is a 404.)"""
    as_get = exchange(plain_server, build("GET", path), read_success_body=False).status
    before = stats(plain_server)["streams_started"]
    with connect(plain_server) as sock:
        sock.sendall(build("HEAD", path))
        reader = Reader(sock)
        status, headers = reader.head()
        while reader.fill():
            pass
    if as_get != 200:
        assert status == as_get
        return
    assert status == 200, headers
    assert headers["content-type"].startswith("text/event-stream"), headers
    assert headers["cache-control"] == "no-cache"
    assert reader.buffer == b""
    assert stats(plain_server)["streams_started"] == before


# ----------------------------------------------------------------------------- caps


def burst(server: Reachable, request: bytes, count: int) -> list[Reply]:
    """Send `count` requests on `count` connections at once, then read every reply."""
    socks = [connect(server) for _ in range(count)]
    try:
        for sock in socks:
            sock.sendall(request)
        replies = []
        for sock in socks:
            reader = Reader(sock)
            status, headers = reader.head()
            replies.append(Reply(status, headers, reader.body(headers)))
        return replies
    finally:
        for sock in socks:
            sock.close()


def assert_refusal(reply: Reply, status: int, names: str) -> int:
    """A cap's refusal: the status, a JSON error naming the cap, and Retry-After seconds."""
    assert reply.status == status, reply
    error = reply.json()["error"]
    assert isinstance(error, str) and names in error, error
    retry_after = reply.headers["retry-after"]
    assert retry_after.isdigit() and int(retry_after) >= 1, retry_after
    return int(retry_after)


def test_rate_limit_answers_429_with_retry_after(serve: Callable[..., AppServer]) -> None:
    server = serve("--rate-limit", "5", "-q")
    replies = burst(server, build("GET", "/stats"), 12)
    statuses = [reply.status for reply in replies]
    assert 5 <= statuses.count(200) <= 6, statuses  # the bucket holds 5; 12 come at once
    refused = [reply for reply in replies if reply.status != 200]
    assert len(refused) >= 6, statuses
    waits = {assert_refusal(reply, 429, "the limit is 5 per second") for reply in refused}
    # Retry-After is honest: once it has passed, the same client is served again.
    time.sleep(max(waits))
    assert get(server, "/stats").status == 200
    no_traceback(server)


RATE_BURST = 150  # parallel requests from one address, as a quick local load test makes


def test_rate_limit_is_off_by_default_on_loopback(serve: Callable[..., AppServer]) -> None:
    server = serve()  # not -q: the rate-limit line is in the full banner
    assert "sse-cli: rate limit: off (loopback" in server.wait_line("rate limit")
    statuses = [reply.status for reply in burst(server, build("GET", "/stats"), RATE_BURST)]
    assert statuses == [200] * RATE_BURST


def test_rate_limit_is_100_a_second_by_default_off_loopback(
    serve: Callable[..., AppServer],
) -> None:
    server = serve("--host", "0.0.0.0")
    line = server.wait_line("rate limit").rstrip()
    assert line == "sse-cli: rate limit: 100 requests a second per address (--rate-limit)"
    # The bucket holds 100 and refills at 100 a second: a burst of 4 seconds' worth still
    # overflows it when a busy machine (coverage tracing the server too) serves it slowly.
    statuses = [reply.status for reply in burst(server, build("GET", "/stats"), 4 * RATE_BURST)]
    assert 100 <= statuses.count(200) < 4 * RATE_BURST, statuses
    assert set(statuses) == {200, 429}


def test_rate_limit_flag_wins_over_the_default_and_the_banner_says_so(
    serve: Callable[..., AppServer],
) -> None:
    # Not -q: the rate-limit line is in the full banner.
    assert "off (--rate-limit 0)" in serve("--host", "0.0.0.0", "--rate-limit", "0").wait_line(
        "rate limit"
    )
    assert "7 requests a second" in serve("--rate-limit", "7").wait_line("rate limit")


def test_open_streams_cap_answers_503_with_retry_after(serve: Callable[..., AppServer]) -> None:
    server = serve("--max-streams", "3", "--rate-limit", "0", "-q")
    streams = open_streams(server, ["reset", "vanish", "clean"])
    reply = exchange(server, build("GET", "/counter?delay=30"), read_success_body=False)
    assert_refusal(reply, 503, "the limit is 3")
    assert get(server, "/stats").status == 200  # only streams count against the cap
    abandon(streams[:1])
    # The closed stream's place frees as soon as the server notices; poll until it has.
    wait_until(lambda: stats(server)["generators"] == 2, what=lambda: str(stats(server)))
    (again,) = open_streams(server, ["vanish"])
    assert exchange(server, build("GET", "/clock"), read_success_body=False).status == 503
    abandon([*streams[1:], again])
    no_traceback(server)


@pytest.mark.parametrize(
    ("settings", "status"),
    [({"rate_limit": 1}, 429), ({"max_streams": 1, "rate_limit": 0}, 503)],
    ids=["429", "503"],
)
def test_cap_refusals_carry_security_headers(
    app_server: Callable[..., AppServer], settings: dict[str, float], status: int
) -> None:
    server = app_server(**settings)
    streams = open_streams(server, ["vanish"])
    reply = exchange(server, build("GET", "/counter?delay=30"), read_success_body=False)
    assert reply.status == status
    for name, value in SECURITY.items():
        assert reply.headers.get(name) == value, (name, reply.headers)
    abandon(streams)


# ----------------------------------------------------------------------------- start-up


def one_error_line(result: Result) -> str:
    stderr = result.stderr
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("sse-cli: error: cannot listen on "), lines
    return lines[0]


def test_port_taken_exits_3_with_one_line_naming_it() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = invoke("serve", "--port", str(port), timeout=WAIT)
    assert result.status == 3
    line = one_error_line(result)
    assert f"port {port} is already in use" in line, line
    assert "--port 0" in line  # the hint


@pytest.mark.parametrize(
    ("host", "cause", "hint"),
    [
        ("192.0.2.1", "192.0.2.1 is not an address of this machine", "--host 127.0.0.1"),
        ("no-such-host.invalid", "'no-such-host.invalid' does not resolve", "127.0.0.1"),
    ],
    ids=["not-this-machine", "does-not-resolve"],
)
def test_host_that_cannot_be_bound_exits_3_naming_the_host_not_the_port(
    host: str, cause: str, hint: str
) -> None:
    result = invoke("serve", "--host", host, "--port", "0", timeout=WAIT)  # it fails unbound
    assert result.status == 3
    line = one_error_line(result)
    assert cause in line and hint in line, line
    assert "--port" not in line, line  # the port is not the problem
