"""One `serve` process never holds more streams than its open-files limit allows: past it,
new streams get 503 with Retry-After, stderr gets one line (and a summary once there is room
again), never an EMFILE traceback or the event loop's accept() errors. The child runs under
`ulimit -n 200` (soft and hard, so raising soft to hard gains nothing): a real EMFILE is the
point, and this process's own limit is never lowered. Each worker of `--workers 2` keeping
to its own limit is in test_serve_workers.py."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from support.cli import WAIT

from sse_cli.launcher import Launched, child_env, launch, serve_command

LIMIT = 200
ATTEMPTS = LIMIT + 20  # more than the process can hold, whatever it needs besides
TOPIC = "capacity"
REFUSING = "refusing new streams"
AGAIN = "accepting streams again"
SILENT = "out of open files: new connections wait"


def under_limit(argv: list[str]) -> list[str]:
    return ["sh", "-c", f'ulimit -n {LIMIT} && exec "$@"', "sh", *argv]


class Stream:
    """One GET /subscribe on a blocking socket: its status line and what came after."""

    def __init__(self, port: int, headers: str = "") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        request = f"GET /subscribe?topic={TOPIC} HTTP/1.1\r\nHost: x\r\n{headers}\r\n"
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


def fill(
    port: int, opened: list[Stream], attempts: int = ATTEMPTS, headers: str = ""
) -> tuple[list[Stream], Stream]:
    """Open streams one at a time until one is refused: the held ones and the refusal."""
    held: list[Stream] = []
    for _ in range(attempts):
        stream = Stream(port, headers)
        opened.append(stream)
        if stream.status != 200:
            return held, stream
        held.append(stream)
    raise AssertionError(f"all {attempts} streams were held under ulimit -n {LIMIT}")


def publish(base: str, body: str, headers: dict[str, str] | None = None) -> int:
    reply = httpx.post(
        f"{base}/publish?topic={TOPIC}",
        content=body,
        headers={"Connection": "close", **(headers or {})},
        timeout=WAIT,
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


def check_silent_connections(child: Launched) -> None:
    """Sockets that send no request never reach the guard: accept() itself meets EMFILE.
    uvloop closes the extra ones quietly; asyncio's loop would print a traceback for each
    and another for each retry at shutdown: one line instead."""
    silent: list[socket.socket] = []
    try:
        for _ in range(LIMIT + 50):
            silent.append(socket.create_connection(("127.0.0.1", child.port), timeout=WAIT))
        child.wait_line(SILENT, WAIT)
    finally:
        for sock in silent:
            sock.close()


@contextlib.contextmanager
def serving(
    argv: list[str], streams: list[Stream], timeout: float, env: dict[str, str] | None = None
) -> Iterator[Launched]:
    """serve started from `argv` for the block; then every stream closed, and serve stopped
    by Ctrl-C with exit status 0."""
    child = launch(argv, env=env, timeout=timeout)
    try:
        yield child
    finally:
        for stream in streams:
            stream.close()
        try:
            status = child.stop()
        except subprocess.TimeoutExpired:
            pytest.fail("serve did not stop")
    assert status == 0, child.lines()


def test_past_the_open_files_limit_streams_get_503_and_silent_connections_one_line(
    streams: list[Stream],
) -> None:
    """On the asyncio stack (SSE_CLI_SERVE_STACK=asyncio), whose accept() errors are the ones
    to quieten; the guard before them is the same on either stack."""
    env = {**child_env(), "SSE_CLI_SERVE_STACK": "asyncio"}
    argv = serve_command(["-q", "--rate-limit", "0", "--max-streams", "100000", "--ping", "0"])
    with serving(under_limit(argv), streams, WAIT, env) as child:
        check_capacity(child, streams)
        check_silent_connections(child)
    lines = child.lines()
    # The banner, the refusals' line and their summary, the accept() line: nothing else.
    assert [REFUSING in lines[1], AGAIN in lines[2], SILENT in lines[3]] == [True] * 3, lines
    assert len(lines) == 4, lines
    assert not any(
        word in line
        for line in lines
        for word in ("Traceback", "out of system resource", "Too many open files", "EMFILE")
    ), lines
