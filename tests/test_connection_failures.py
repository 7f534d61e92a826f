"""How `listen` meets a server it cannot reach (issue 18): what fails at once, what is retried,
and how many times `--max-retries N` tries.

The CLI runs in-process (`invoke`) where the exit status and stderr matter; the retry count
is checked on the client against a loopback server, with a reconnection time of milliseconds.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from support.cli import WAIT, invoke
from support.sockets import Handler, SocketServer, stream

from sse_cli.actions import Action, Retrying
from sse_cli.client import listen
from sse_cli.errors import ConnectError, HttpStatusError, SseCliError
from sse_cli.request import ListenOptions

Serve = Callable[[Handler], SocketServer]
UNAVAILABLE = stream(b"data: no\n\n", status=503, content_type="text/plain")


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL whose port is bound but not listening: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"


@pytest.fixture
def plain_http() -> Iterator[tuple[int, list[bytes]]]:
    """A plain-HTTP server that answers 400 to whatever arrives, as uvicorn does to TLS; it
    records the first bytes of each connection."""
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                received.append(conn.recv(65536))
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    server.shutdown(socket.SHUT_RDWR)
    server.close()
    thread.join(WAIT)


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("sse-cli: error: ") and "Traceback" not in lines[0]
    return lines[0]


def run_client(options: ListenOptions) -> tuple[list[Action], SseCliError | None]:
    """Run the client to its end in-process: what it yielded, and the error it ended with."""
    actions: list[Action] = []

    async def collect() -> SseCliError | None:
        try:
            async for action in listen(options):
                actions.append(action)
        except SseCliError as exc:
            return exc
        return None

    error = asyncio.run(asyncio.wait_for(collect(), WAIT))
    return actions, error


def fast(url: str, **changes: object) -> ListenOptions:
    """Options that retry within milliseconds, so counting attempts takes no time."""
    return ListenOptions(url=url, default_retry=0.001, backoff_cap=0.001, **changes)  # type: ignore[arg-type]


# 1: a refused connection before any stream


def test_a_refused_first_connection_exits_3_at_once_naming_the_flags_that_wait(
    refused_url: str,
) -> None:
    result = invoke("listen", refused_url, timeout=WAIT)
    assert result.status == 3
    assert result.stdout == b""
    line = one_error_line(result.stderr)
    assert line.startswith(f"sse-cli: error: could not connect to {refused_url}: ")
    assert "refused" in line and "--reconnect" in line and "--max-retries" in line
    assert "reconnecting" not in line


def test_a_refused_connection_is_retried_when_retries_are_asked_for(refused_url: str) -> None:
    for options in (
        fast(refused_url, reconnect=True, max_retries=2),
        fast(refused_url, max_retries=2),
    ):
        actions, error = run_client(options)
        assert isinstance(error, ConnectError) and "refused" in error.message
        assert sum(isinstance(a, Retrying) for a in actions) == 2


# 2: https:// against a plain-HTTP port


def test_https_against_plain_http_exits_3_at_once_asking_for_http(
    plain_http: tuple[int, list[bytes]],
) -> None:
    port, received = plain_http
    result = invoke("listen", f"https://127.0.0.1:{port}/events", "--reconnect", timeout=WAIT)
    assert result.status == 3
    assert result.stdout == b""
    line = one_error_line(result.stderr)
    assert line.endswith(f"the server did not answer TLS; is it http://127.0.0.1:{port}/events?")
    assert "WRONG_VERSION_NUMBER" not in line
    assert len(received) == 1  # never retried, even under --reconnect
    assert received[0][:1] == b"\x16"  # it was a TLS handshake record


# 3: --max-retries N is curl's --retry N


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_max_retries_n_sends_the_first_request_and_n_more(
    serve_socket: Serve, retries: int
) -> None:
    server = serve_socket(UNAVAILABLE)
    actions, error = run_client(fast(server.url, max_retries=retries))
    assert isinstance(error, HttpStatusError) and error.status == 503
    assert len(server.requests) == retries + 1
    assert sum(isinstance(a, Retrying) for a in actions) == retries


def test_max_retries_0_exits_with_the_first_failures_status(serve_socket: Serve) -> None:
    server = serve_socket(UNAVAILABLE)
    result = invoke("listen", server.url, "--max-retries", "0", timeout=WAIT)
    assert result.status == 5
    assert "HTTP 503" in one_error_line(result.stderr)
    assert len(server.requests) == 1


def test_max_retries_help_says_what_curls_retry_says() -> None:
    result = invoke("listen", "--help", COLUMNS="200")
    text = " ".join(result.stdout.decode().split())
    assert "Retry at most N times after a failed attempt, as curl's --retry N" in text


# 17: a host name that does not resolve


def test_a_host_that_does_not_resolve_points_at_the_name_or_the_network() -> None:
    # .invalid never resolves (RFC 6761).
    result = invoke("listen", "http://no-such-host.invalid/", timeout=WAIT)
    assert result.status == 3
    assert one_error_line(result.stderr) == (
        "sse-cli: error: could not resolve host no-such-host.invalid "
        "(check the host name or your network)"
    )
