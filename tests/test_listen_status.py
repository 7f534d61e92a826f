"""Which statuses open a stream (issue 16): only 200, as `EventSource` has it.

A 2xx other than 200 and 204 is not an event stream: exit status 6, one line naming the
status and the body's first bytes, no event from that body on stdout, never reconnected.
Every server is a loopback socket and the CLI runs in-process (`invoke`).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from support.cli import invoke
from support.sockets import Handler, SocketServer, by_connection, stream

Serve = Callable[[Handler], SocketServer]

# The refused body is a well-formed event stream: printing it would be the bug.
REFUSED_BODY = b"id: 9\ndata: leak\n\n"
METHODS = {"GET": (), "POST": ("--json", '{"prompt": "hi"}')}


def single_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("sse-cli: error: ")
    return lines[0]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("status", [201, 202, 205, 206, 210, 299])
def test_a_2xx_other_than_200_exits_6_unparsed_and_unretried(
    serve_socket: Serve, status: int, method: str
) -> None:
    server = serve_socket(stream(REFUSED_BODY, status=status))
    # --reconnect: even a client told to reconnect does not retry it.
    result = invoke("listen", server.url, "--reconnect", "-q", *METHODS[method])
    assert result.status == 6, result.stderr
    assert result.stdout == b""
    line = single_error_line(result.stderr)
    assert f"answered {status}" in line and "not 200" in line
    assert "id: 9 data: leak" in line  # the first bytes of the body, named, not parsed
    assert [request.method for request in server.requests] == [method]


@pytest.mark.parametrize("method", METHODS)
def test_a_205_on_the_second_connection_exits_6_after_the_events_received(
    serve_socket: Serve, method: str
) -> None:
    first = stream(b"retry: 0\nid: 1\ndata: good\n\n")
    server = serve_socket(by_connection(first, stream(REFUSED_BODY, status=205)))
    result = invoke("listen", server.url, "-q", *METHODS[method])
    assert result.status == 6, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"event": "message", "data": "good", "id": "1", "retry": 0}
    ]
    line = single_error_line(result.stderr)
    assert "answered 205 Reset Content, not 200" in line
    assert len(server.requests) == 2
    assert server.requests[1].headers["last-event-id"] == "1"


def test_200_still_streams_and_204_still_stops_with_0(serve_socket: Serve) -> None:
    server = serve_socket(
        by_connection(stream(b"retry: 0\ndata: ok\n\n"), stream(status=204, content_type=None))
    )
    result = invoke("listen", server.url, "-q")
    assert result.status == 0, result.stderr
    assert result.stdout == b'{"event": "message", "data": "ok", "id": null, "retry": 0}\n'
