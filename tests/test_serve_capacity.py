"""One `serve` process never holds more streams than its open-files limit allows: past it,
new streams get 503 with Retry-After, stderr gets one line (and a summary once there is room
again), never an EMFILE traceback or the event loop's accept() errors. The child runs under
`ulimit -n 200` (soft and hard, so raising soft to hard gains nothing)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from support.cli import WAIT
from support.redis import RedisServer

from sse_cli.launcher import Launched, child_env, launch, serve_command

LIMIT = 200
ATTEMPTS = LIMIT + 20  # more than the process can hold, whatever it needs besides
TOPIC = "capacity"
REFUSING = "refusing new streams"
AGAIN = "accepting streams again"


def under_limit(argv: list[str]) -> list[str]:
    return ["sh", "-c", f'ulimit -n {LIMIT} && exec "$@"', "sh", *argv]


class Stream:
    """One GET /subscribe on a blocking socket: its status line and what came after."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        request = f"GET /subscribe?topic={TOPIC} HTTP/1.1\r\nHost: x\r\n\r\n"
        self.sock.sendall(request.encode())
        self.seen = b""
        self.read_until(b"\r\n\r\n")
        head = self.seen.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        self.status = int(head.split()[1])
        self.headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in head.split("\r\n")[1:])
        }
        if self.status == 200:
            self.read_until(b"subscribed to topic")

    def read_until(self, marker: bytes) -> None:
        while marker not in self.seen:
            piece = self.sock.recv(65536)
            if not piece:
                raise ConnectionError(f"closed before {marker!r}: {self.seen[-200:]!r}")
            self.seen += piece

    def closed_by_server(self) -> bool:
        """Whether the server closes the connection (reading what is left)."""
        while piece := self.sock.recv(65536):
            self.seen += piece
        return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def streams() -> Iterator[list[Stream]]:
    opened: list[Stream] = []
    yield opened
    for stream in opened:
        stream.close()


def fill(port: int, opened: list[Stream], attempts: int = ATTEMPTS) -> tuple[list[Stream], Stream]:
    """Open streams one at a time until one is refused: the held ones and the refusal."""
    held: list[Stream] = []
    for _ in range(attempts):
        stream = Stream(port)
        opened.append(stream)
        if stream.status != 200:
            return held, stream
        held.append(stream)
    raise AssertionError(f"all {attempts} streams were held under ulimit -n {LIMIT}")


def publish(base: str, body: str) -> int:
    reply = httpx.post(
        f"{base}/publish?topic={TOPIC}", content=body, headers={"Connection": "close"}, timeout=WAIT
    )
    assert reply.status_code == 200, reply.text
    return int(reply.json()["subscribers"])


def check_capacity(child: Launched, opened: list[Stream]) -> None:
    held, refused = fill(child.port, opened)
    assert LIMIT // 4 <= len(held) < LIMIT, len(held)
    assert refused.status == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.closed_by_server(), "a refusal gives its socket back"
    assert b"open-files limit" in refused.seen
    for _ in range(10):  # still full: refused again, and not logged again
        more = Stream(child.port)
        opened.append(more)
        assert more.status == 503

    # The held streams still get what is published.
    assert publish(child.url, "still here") == len(held)
    for stream in held:
        stream.read_until(b"data: still here")

    child.wait_line(REFUSING, WAIT)
    for stream in held[:5]:
        stream.close()
    child.wait_line(AGAIN, WAIT)
    again = Stream(child.port)
    opened.append(again)
    assert again.status == 200

    lines = child.lines()
    assert len([line for line in lines if REFUSING in line]) == 1, lines
    assert "ulimit -n 200" in next(line for line in lines if REFUSING in line)
    assert not any(
        word in line
        for line in lines
        for word in ("Traceback", "out of system resource", "Too many open files", "EMFILE")
    ), lines


@contextlib.contextmanager
def serving(argv: list[str], streams: list[Stream], timeout: float) -> Iterator[Launched]:
    """serve started from `argv` for the block; then every stream closed, and serve stopped."""
    child = launch(argv, timeout=timeout)
    try:
        yield child
    finally:
        for stream in streams:
            stream.close()
        try:
            child.stop()
        except subprocess.TimeoutExpired:
            pytest.fail("serve did not stop")


def test_streams_past_the_open_files_limit_get_503_and_one_line(
    streams: list[Stream],
) -> None:
    argv = serve_command(["-q", "--rate-limit", "0", "--max-streams", "100000", "--ping", "0"])
    with serving(under_limit(argv), streams, WAIT) as child:
        check_capacity(child, streams)


def test_each_worker_keeps_to_its_own_open_files_limit(
    streams: list[Stream], redis_server: RedisServer
) -> None:
    argv = serve_command(
        ["-q", "--rate-limit", "0", "--max-streams", "100000", "--ping", "0"]
        + ["--workers", "2", "--broker", redis_server.url]
    )
    # A bound, not a wait: --workers starts several interpreters, slow on a busy machine.
    with serving(under_limit(argv), streams, 3 * WAIT) as child:
        held, refused = fill(child.port, streams, 2 * ATTEMPTS)
        # The kernel shares accepts between the workers unevenly: the first one to fill
        # refuses, so between one worker's share and both workers' shares are held.
        assert LIMIT // 4 <= len(held) < 2 * LIMIT, len(held)
        assert refused.status == 503 and refused.headers["retry-after"] == "1"
        assert publish(child.url, "to both") >= 1
        for stream in held:
            stream.read_until(b"data: to both")
        child.wait_line(REFUSING, WAIT)
        assert not any("Traceback" in line for line in child.lines())


def test_connections_that_never_ask_past_the_limit_are_one_line_on_the_asyncio_stack() -> None:
    """Sockets that send no request never reach the guard: accept() itself meets EMFILE.
    uvloop closes the extra ones quietly; asyncio's loop would print a traceback for each
    and another for each retry at shutdown."""
    env = {**child_env(), "SSE_CLI_SERVE_STACK": "asyncio"}
    child = launch(under_limit(serve_command(["-q", "--ping", "0"])), env=env, timeout=WAIT)
    silent: list[socket.socket] = []
    try:
        for _ in range(LIMIT + 50):
            silent.append(socket.create_connection(("127.0.0.1", child.port), timeout=WAIT))
        child.wait_line("out of open files", WAIT)
    finally:
        for sock in silent:
            sock.close()
        assert child.stop() == 0
    lines = child.lines()
    assert len(lines) == 2, lines  # the banner and the one line
    assert not any("Traceback" in line for line in lines), lines
