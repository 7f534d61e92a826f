"""`sse-cli listen` end to end against raw-socket loopback servers.

Every test controls the server's bytes and TCP writes and waits on conditions with timeouts.
The CLI runs in-process (`invoke`); one smoke test of pipes, flushing and exit statuses runs
it in a shell, stdout on a pipe and without PYTHONUNBUFFERED, so a missing flush shows.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.cli import (
    SSE_CLI,
    WAIT,
    cli_env,
    environment,
    finish,
    invoke,
    read_line,
    start,
)
from support.sockets import (
    Handler,
    Request,
    SocketServer,
    by_connection,
    head,
    steps,
    stream,
)

from sse_cli.cli import run_cli as run_in_process

Serve = Callable[[Handler], SocketServer]

NO_CONTENT = stream(status=204, content_type=None)


def lines_of(stdout: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.decode().splitlines()]


def one_request(server: SocketServer, *args: str, stdin: bytes = b"") -> Request:
    """Run the CLI against a server that answers 204, and return the one request it made."""
    result = invoke("listen", server.url, *args, stdin=stdin)
    assert result.status == 0, result.stderr
    (request,) = server.requests
    return request


# Requests: method, headers and body as sent


def test_get_sends_default_headers_and_repeated_h(serve_socket: Serve) -> None:
    server = serve_socket(NO_CONTENT)
    request = one_request(server, "-H", "X-One: 1", "-H", "X-Two: two words")
    assert request.method == "GET" and request.target == "/"
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["cache-control"] == "no-cache"
    assert request.headers["accept-encoding"] == "identity"
    assert request.headers["x-one"] == "1"
    assert request.headers["x-two"] == "two words"
    assert "last-event-id" not in request.headers
    assert request.body == b""


def test_h_overrides_or_removes_a_default_header(serve_socket: Serve) -> None:
    server = serve_socket(NO_CONTENT)
    request = one_request(server, "-H", "Accept: application/x-ndjson", "-H", "Cache-Control:")
    assert request.headers["accept"] == "application/x-ndjson"
    assert "cache-control" not in request.headers
    assert request.headers["accept-encoding"] == "identity"


def test_data_is_posted_as_form_body(serve_socket: Serve) -> None:
    server = serve_socket(NO_CONTENT)
    request = one_request(server, "-d", "a=1&b=é")
    assert request.method == "POST"
    assert request.body == "a=1&b=é".encode()
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


def test_data_from_file_is_sent_byte_for_byte(serve_socket: Serve, tmp_path: Path) -> None:
    body = b"line one\r\nline two\x00\xff\n"
    path = tmp_path / "body.bin"
    path.write_bytes(body)
    server = serve_socket(NO_CONTENT)
    request = one_request(server, "-d", f"@{path}", "-H", "Content-Type: application/octet-stream")
    assert request.method == "POST"
    assert request.body == body
    assert request.headers["content-type"] == "application/octet-stream"


def test_json_body_with_method_and_content_type(serve_socket: Serve) -> None:
    server = serve_socket(NO_CONTENT)
    body = '{"message": "héllo", "n": [1, 2]}'
    request = one_request(server, "--json", body, "-X", "PUT")
    assert request.method == "PUT"
    assert request.body == body.encode()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "text/event-stream"


def test_stdin_is_not_read_without_at_dash(serve_socket: Serve) -> None:
    """stdin holds data, and none of it is read: a CLI that read it would also send it."""
    server = serve_socket(NO_CONTENT)
    env = environment(stdin=b"do not send me\n")
    assert run_in_process(["listen", server.url], env) == 0
    assert env.stdin.tell() == 0
    (request,) = server.requests
    assert request.method == "GET"
    assert request.body == b""
    assert request.headers.get("content-length", "0") == "0"
    assert env.stdout.tell() == 0


def test_data_at_dash_reads_stdin(serve_socket: Serve) -> None:
    server = serve_socket(NO_CONTENT)
    request = one_request(server, "-d", "@-", stdin=b"from stdin\n\xe2\x9c\x93")
    assert request.method == "POST"
    assert request.body == b"from stdin\n\xe2\x9c\x93"


def test_last_event_id_flag_is_sent_on_the_first_request(serve_socket: Serve) -> None:
    server = serve_socket(NO_CONTENT)
    request = one_request(server, "--last-event-id", "41")
    assert request.headers["last-event-id"] == "41"


def test_last_event_id_header_seeds_the_id_and_yields_to_the_servers(
    serve_socket: Serve,
) -> None:
    def first(conn: socket.socket, request: Request) -> None:
        conn.sendall(head() + b"retry: 0\nid: 42\ndata: one\n\n")

    def second(conn: socket.socket, request: Request) -> None:
        conn.sendall(head(204, None))

    server = serve_socket(by_connection(first, second))
    result = invoke("listen", server.url, "-H", "Last-Event-ID: 41")
    assert result.status == 0, result.stderr
    first_request, second_request = server.requests
    assert first_request.headers["last-event-id"] == "41"
    assert second_request.headers["last-event-id"] == "42"  # the server's, not the typed one


# Reconnecting


def test_reconnect_sends_last_event_id_after_the_servers_retry(serve_socket: Serve) -> None:
    closed_at: list[float] = []
    arrived_at: list[float] = []

    def first(conn: socket.socket, request: Request) -> None:
        conn.sendall(head() + b"retry: 500\nid: 7\ndata: one\n\n")
        conn.shutdown(socket.SHUT_RDWR)
        closed_at.append(time.monotonic())

    def second(conn: socket.socket, request: Request) -> None:
        arrived_at.append(time.monotonic())
        conn.sendall(head(204, None))

    server = serve_socket(by_connection(first, second))
    result = invoke("listen", server.url)
    assert result.status == 0, result.stderr
    first_request, second_request = server.requests
    assert "last-event-id" not in first_request.headers
    assert second_request.headers["last-event-id"] == "7"
    assert second_request.method == "GET"
    assert arrived_at[0] - closed_at[0] >= 0.5
    assert lines_of(result.stdout) == [{"event": "message", "data": "one", "id": "7", "retry": 500}]


def test_post_without_ids_is_not_sent_again(serve_socket: Serve) -> None:
    server = serve_socket(stream(b"retry: 0\ndata: reply\n\n"))
    result = invoke("listen", server.url, "--json", '{"prompt": "hi"}')
    assert result.status == 0, result.stderr
    assert len(server.requests) == 1
    assert lines_of(result.stdout) == [
        {"event": "message", "data": "reply", "id": None, "retry": 0}
    ]
    assert "stopped: the server closed the stream" in result.stderr


def test_post_with_ids_is_resumed_with_the_same_body(serve_socket: Serve) -> None:
    server = serve_socket(by_connection(stream(b"retry: 0\nid: 5\ndata: a\n\n"), NO_CONTENT))
    body = '{"jsonrpc": "2.0", "id": 1}'
    result = invoke("listen", server.url, "--json", body)
    assert result.status == 0, result.stderr
    first, second = server.requests
    for request in (first, second):
        assert request.method == "POST"
        assert request.body == body.encode()
        assert request.headers["content-type"] == "application/json"
    assert "last-event-id" not in first.headers
    assert second.headers["last-event-id"] == "5"


# Endings and their exit statuses


def test_204_stops_with_status_0(serve_socket: Serve) -> None:
    server = serve_socket(NO_CONTENT)
    result = invoke("listen", server.url)
    assert result.status == 0
    assert result.stdout == b""
    assert result.stderr.strip().splitlines() == [
        "sse-cli: stopped: the server answered 204 No Content (stop reconnecting)"
    ]


# Each failing response carries a body that would be an event if it were parsed.
@pytest.mark.parametrize(
    ("status", "content_type", "args", "code", "phrase"),
    [
        (404, "text/event-stream", (), 4, "HTTP 404"),
        (500, "text/event-stream", ("--no-reconnect",), 5, "HTTP 500"),
        (200, "application/json", (), 6, "Content-Type application/json, not text/event-stream"),
    ],
)
def test_failed_responses_exit_with_their_status_and_print_no_event(
    serve_socket: Serve,
    status: int,
    content_type: str,
    args: tuple[str, ...],
    code: int,
    phrase: str,
) -> None:
    server = serve_socket(stream(b"data: leak\n\n", status=status, content_type=content_type))
    result = invoke("listen", server.url, *args)
    assert result.status == code
    assert result.stdout == b""
    err = result.stderr
    assert err.startswith("sse-cli: error: ") and phrase in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert len(server.requests) == 1


def test_connection_refused_exits_3_with_one_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound but not listening: connecting is refused
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        result = invoke("listen", url, "--no-reconnect")
    assert result.status == 3
    assert result.stdout == b""
    err = result.stderr
    assert err.splitlines() == [err.rstrip("\n")]
    assert err.startswith("sse-cli: error: could not connect to " + url)
    assert "refused" in err


def test_a_short_url_listens_on_localhost(serve_socket: Serve) -> None:
    server = serve_socket(stream(b"data: x\n\n"))
    result = invoke("listen", f":{server.port}/events", "--no-reconnect", "-q")
    assert result.status == 0, result.stderr
    assert result.stdout == b'{"event": "message", "data": "x", "id": null}\n'
    (request,) = server.requests
    assert request.target == "/events"
    assert request.headers["host"] == f"localhost:{server.port}"


def test_end_of_listening_is_one_line_unless_quiet(serve_socket: Serve) -> None:
    server = serve_socket(stream(b"data: x\n\n"))
    loud = invoke("listen", server.url, "--no-reconnect")
    quiet = invoke("listen", server.url, "--no-reconnect", "-q")
    assert loud.status == quiet.status == 0
    assert loud.stderr == "sse-cli: stopped: the server closed the stream\n"
    assert quiet.stderr == ""
    assert loud.stdout == quiet.stdout == b'{"event": "message", "data": "x", "id": null}\n'


# Bytes on the wire


def test_utf8_split_across_writes_prints_once(serve_socket: Serve, gate: threading.Event) -> None:
    # 世 is E4 B8 96: the first write ends inside it; the second goes out only after the
    # first event reached the pipe, so the decoder sees two separate chunks.
    server = serve_socket(steps(b"data: a\n\ndata: \xe4\xb8", gate, b"\x96\n\n"))
    running = start("listen", server.url, "-f", "data", "-n", "2")
    assert read_line(running.stdout) == b"a\n"
    gate.set()
    result = running.finish()
    assert result.status == 0, result.stderr
    assert result.stdout == "世\n".encode()


def test_one_mebibyte_event_arrives_whole(serve_socket: Serve) -> None:
    data = "0123456789abcdé" * (2**20 // 16)  # 1 MiB of UTF-8
    assert len(data.encode()) == 2**20
    server = serve_socket(stream(f"id: big\ndata: {data}\n\n".encode(), b"data: after\n\n"))
    result = invoke("listen", server.url, "--no-reconnect")
    assert result.status == 0, result.stderr
    assert lines_of(result.stdout) == [
        {"event": "message", "data": data, "id": "big"},
        {"event": "message", "data": "after", "id": "big"},
    ]


def test_a_shell_sees_each_event_as_it_comes_and_the_exit_statuses(
    serve_socket: Serve, gate: threading.Event
) -> None:
    """The smoke test of pipes and exit statuses, as a shell runs `sse-cli` (stdin closed, no
    PYTHONUNBUFFERED): a usage error exits 2 with one line on stderr and nothing on stdout;
    in `| head -n 1`, the first event reaches head while the server holds the connection
    silent (so it was flushed on its own), and once head has gone, `sse-cli` exits 0 on the
    closed pipe without a word and without reconnecting."""

    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(head() + b'id: 1\ndata: {"n": 1}\n\n')
        gate.wait(WAIT)
        for n in range(2, 100_000):  # ...until the closed pipe stops the client (bounded)
            conn.sendall(b"id: %d\ndata: %d\n\n" % (n, n))

    server = serve_socket(handler)
    script = (
        '"$@" /events; echo "usage error: exit status $?" >&2\n'
        '{ "$@" "$URL"; echo "sse-cli exit status $?" >&2; } | head -n 1\n'
    )
    proc = subprocess.Popen(
        ["sh", "-c", script, "sh", *SSE_CLI, "listen"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(URL=server.url),
    )
    try:
        assert proc.stdout is not None
        # head prints its line and exits only once the line reached it: the server is silent.
        first = read_line(proc.stdout)
    finally:
        gate.set()  # the server sends on, into the pipe head closed
    status, rest, err = finish(proc)
    assert status == 0, err
    assert lines_of(first + rest) == [{"event": "message", "data": '{"n": 1}', "id": "1"}]
    usage, *statuses = err.decode().splitlines()
    assert usage.startswith("sse-cli: error: ") and "has no scheme" in usage, err
    assert statuses == ["usage error: exit status 2", "sse-cli exit status 0"], err
    assert len(server.requests) == 1


# Output formats


@pytest.fixture
def counter(serve_socket: Serve) -> Iterator[tuple[SocketServer, bytes]]:
    body = (
        b"\xef\xbb\xbfretry: 1500\r\nid: 1\r\ndata: one\r\n\r\n"
        b": heartbeat\n\nevent: update\nid: 2\ndata: line one\ndata: line two\n\n"
        b"retry: 20\ndata: \xe4\xb8\x83\n\n"
    )
    yield serve_socket(stream(body[:7], body[7:40], body[40:])), body


def test_json_format_shape_with_retry_when_the_block_set_one(
    counter: tuple[SocketServer, bytes],
) -> None:
    server, _ = counter
    result = invoke("listen", server.url, "--no-reconnect", "-f", "json")
    assert result.status == 0, result.stderr
    assert result.stdout.decode().splitlines() == [
        '{"event": "message", "data": "one", "id": "1", "retry": 1500}',
        '{"event": "update", "data": "line one\\nline two", "id": "2"}',
        '{"event": "message", "data": "七", "id": "2", "retry": 20}',
    ]


def test_data_format_prints_data_lines(counter: tuple[SocketServer, bytes]) -> None:
    server, _ = counter
    result = invoke("listen", server.url, "--no-reconnect", "-f", "data")
    assert result.status == 0, result.stderr
    assert result.stdout == "one\nline one\nline two\n七\n".encode()


def test_raw_format_gives_bytes_exactly_as_sent(counter: tuple[SocketServer, bytes]) -> None:
    server, body = counter
    result = invoke("listen", server.url, "--no-reconnect", "-f", "raw")
    assert result.status == 0, result.stderr
    assert result.stdout == body


def test_raw_without_reconnecting_passes_bytes_through_unparsed(serve_socket: Serve) -> None:
    body = b'"event": "x"\n"data": "y"\n\n{"ndjson": 1}\n'  # no SSE field at all
    server = serve_socket(stream(body))
    through = invoke("listen", server.url, "--no-reconnect", "-f", "raw")
    assert through.status == 0, through.stderr
    assert through.stdout == body
    assert "warning" not in through.stderr  # nothing was parsed, so nothing to warn about
    # Asked to check the stream, raw output parses it again: same bytes, and the verdict.
    checked = invoke("listen", server.url, "--no-reconnect", "-f", "raw", "--strict")
    assert checked.status == 7
    assert checked.stdout == body[: len(checked.stdout)]
    assert "ignored" in checked.stderr
    # While it may reconnect, raw output parses to follow ids and retry: the warning shows.
    again = serve_socket(by_connection(stream(b"retry: 10\n\n" + body), NO_CONTENT))
    reconnecting = invoke("listen", again.url, "-f", "raw")
    assert reconnecting.status == 0, reconnecting.stderr
    assert "ignored" in reconnecting.stderr


# Filters and stop conditions: the server holds the stream open, so only the flag ends it.


def test_n_stops_after_that_many_events(serve_socket: Serve, gate: threading.Event) -> None:
    server = serve_socket(steps(b"data: 1\n\n: ping\n\ndata: 2\n\ndata: 3\n\n", gate))
    result = invoke("listen", server.url, "-n", "2", "-f", "data")
    assert result.status == 0, result.stderr
    assert result.stdout == b"1\n2\n"
    assert "stopped: received 2 events (-n)" in result.stderr


def test_n_0_ends_with_the_one_stopped_line_and_sends_nothing(serve_socket: Serve) -> None:
    server = serve_socket(stream(b"data: x\n\n"))
    loud = invoke("listen", server.url, "-n", "0")
    quiet = invoke("listen", server.url, "-n", "0", "-q")
    assert loud.status == quiet.status == 0
    assert loud.stdout == quiet.stdout == b""
    assert loud.stderr == "sse-cli: stopped: -n 0 asks for no events, so none was requested\n"
    assert quiet.stderr == ""
    assert server.requests == []


def test_event_type_filter(serve_socket: Serve, gate: threading.Event) -> None:
    body = b"event: a\ndata: 1\n\ndata: 2\n\nevent: b\ndata: 3\n\nevent: c\ndata: 4\n\n"
    server = serve_socket(steps(body, gate))
    result = invoke("listen", server.url, "-e", "a", "-e", "c", "-n", "2", "-f", "data")
    assert result.status == 0, result.stderr
    assert result.stdout == b"1\n4\n"


def test_until_stops_after_the_matching_event(serve_socket: Serve, gate: threading.Event) -> None:
    body = b"data: go\n\ndata: [DONE]\n\ndata: never\n\n"
    server = serve_socket(steps(body, gate))
    result = invoke("listen", server.url, "--until", "[DONE]", "-f", "data")
    assert result.status == 0, result.stderr
    assert result.stdout == b"go\n[DONE]\n"
    assert "stopped: an event's data was '[DONE]'" in result.stderr
