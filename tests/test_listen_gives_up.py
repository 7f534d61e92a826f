"""Why `listen` stopped retrying: the one line names the flag or rule that decided it.

The client runs in-process against a raw loopback server, with a short reconnection time so
that retries take milliseconds.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
from support.sockets import Handler, Request, SocketServer

from sse_cli.client import listen
from sse_cli.errors import ExitCode, SseCliError
from sse_cli.request import ListenOptions

Serve = Callable[[Handler], SocketServer]


def unavailable(conn: socket.socket, request: Request) -> None:
    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy")


def ending_error(options: ListenOptions) -> SseCliError:
    async def drain() -> None:
        async for _ in listen(options):
            pass

    with pytest.raises(SseCliError) as failed:
        asyncio.run(asyncio.wait_for(drain(), 10))
    return failed.value


def test_max_retries_names_itself_when_it_stops_the_retries(serve_socket: Serve) -> None:
    server = serve_socket(unavailable)
    error = ending_error(ListenOptions(server.url, max_retries=2, default_retry=0.01))
    assert error.exit_code == ExitCode.HTTP_5XX
    assert str(error).endswith("(gave up after 2 retries, as --max-retries 2 says)"), str(error)
    assert len(server.requests) == 3


def test_no_reconnect_names_itself_for_a_5xx(serve_socket: Serve) -> None:
    error = ending_error(ListenOptions(serve_socket(unavailable).url, reconnect=False))
    assert str(error).endswith("(not retried: --no-reconnect)"), str(error)
