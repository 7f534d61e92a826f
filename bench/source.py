"""The loopback event source for the client benchmarks, and the data sets it serves.

Run as a child process (`python bench/source.py`): it prints `serving on http://127.0.0.1:PORT`
on stderr and serves pre-built bytes in 16 KiB writes, events straddling the writes, so it is
never the bottleneck. Responses are close-delimited HTTP/1.1 (no chunked framing to parse).
The suite imports the same module for the expected events. Stdlib only (uvloop if present).

    GET /empty                      the headers, then the stream ends
    GET /small?n=N                  N events: `id: n` and 31 bytes of data
    GET /large?n=N                  N events: `event: update`, `id: n`, 1 KiB of JSON data
    GET /memory?n=N&pause=A,B       small events, held after event A and event B until...
    GET /release                    ...this lets the held /memory stream go on
    GET /tick?n=N&interval=S        one event every S seconds, data {"seq": n, "t_ns": send time}
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import sys
import time
from collections.abc import Coroutine
from typing import Any
from urllib.parse import parse_qs

CHUNK = 16 * 1024

HEADERS = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream\r\n"
    b"Cache-Control: no-cache\r\n"
    b"Connection: close\r\n\r\n"
)
RELEASED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    b"Connection: close\r\n\r\nok\n"
)
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

#: One expected event: (event type, data, id).
Expected = tuple[str, str, str | None]

_LARGE_TEXT = (
    "Server-sent events stream text over HTTP, one event after another; "
    "naïve café crème brûlée, 東京, Zürich — ünïcödé is part of real data. "
)


def small_data(n: int) -> str:
    """31 bytes of JSON: the payload of a typical small event (a counter, a tick, a token)."""
    return f'{{"n":"{n:07d}","msg":"hello-w"}}'


def small_event(n: int) -> bytes:
    return f"id: {n}\ndata: {small_data(n)}\n\n".encode()


@functools.lru_cache(maxsize=4)
def _large_template() -> tuple[str, str]:
    return '{"seq": ', ', "type": "update", "text": "' + _LARGE_TEXT + '", "pad": "'


def large_data(n: int) -> str:
    """1 KiB (1,024 bytes of UTF-8) of JSON, with some non-ASCII text."""
    head, middle = _large_template()
    start = head + str(n) + middle
    pad = 1024 - len(start.encode()) - 2
    return start + "x" * pad + '"}'


def large_event(n: int) -> bytes:
    return f"event: update\nid: {n}\ndata: {large_data(n)}\n\n".encode()


def expected(kind: str, n: int) -> list[Expected]:
    """The events a client must report for `/kind?n=N`, in order."""
    if kind == "small":
        return [("message", small_data(i), str(i)) for i in range(1, n + 1)]
    if kind == "large":
        return [("update", large_data(i), str(i)) for i in range(1, n + 1)]
    if kind == "empty":
        return []
    raise ValueError(kind)


@functools.lru_cache(maxsize=8)
def body(kind: str, n: int) -> bytes:
    """The whole body of `/kind?n=N`."""
    if kind == "empty":
        return b""
    make = small_event if kind in ("small", "memory") else large_event
    return b"".join(make(i) for i in range(1, n + 1))


def chunks(data: bytes) -> list[memoryview]:
    view = memoryview(data)
    return [view[i : i + CHUNK] for i in range(0, len(view), CHUNK)]


@functools.lru_cache(maxsize=8)
def _chunked(kind: str, n: int) -> list[memoryview]:
    return chunks(body(kind, n))


@functools.lru_cache(maxsize=4)
def _held(n: int, pauses: tuple[int, ...]) -> list[list[memoryview]]:
    """/memory's body cut after each pause event, each piece in 16 KiB writes."""
    whole = body("memory", n)
    cuts = [len(b"".join(small_event(i) for i in range(1, p + 1))) for p in pauses if p <= n]
    pieces, start = [], 0
    for cut in [*cuts, len(whole)]:
        pieces.append(chunks(whole[start:cut]))
        start = cut
    return pieces


class Source:
    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
            path, _, query = target.partition("?")
            params = {k: v[-1] for k, v in parse_qs(query).items()}
            await self.route(path, params, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, IndexError):
            pass
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def route(self, path: str, params: dict[str, str], writer: asyncio.StreamWriter) -> None:
        n = int(params.get("n", "0"))
        if path == "/release":
            self.release.set()
            writer.write(RELEASED)
            return
        if path in ("/empty", "/small", "/large"):
            writer.write(HEADERS)
            for chunk in _chunked(path[1:], n):
                writer.write(chunk)
                await writer.drain()
        elif path == "/memory":
            pauses = tuple(int(p) for p in params.get("pause", "").split(",") if p)
            pieces = _held(n, pauses)
            writer.write(HEADERS)
            for i, held in enumerate(pieces):
                if i:
                    await self.release.wait()
                    self.release.clear()
                for chunk in held:
                    writer.write(chunk)
                    await writer.drain()
        elif path == "/tick":
            await self.tick(writer, n, float(params.get("interval", "0.01")))
        else:
            writer.write(NOT_FOUND)
        await writer.drain()

    async def tick(self, writer: asyncio.StreamWriter, n: int, interval: float) -> None:
        writer.write(HEADERS)
        await writer.drain()
        loop = asyncio.get_running_loop()
        start = loop.time()
        for seq in range(1, n + 1):
            # Scheduled from the start, so one late wake-up does not shift the rest.
            await asyncio.sleep(max(0.0, start + seq * interval - loop.time()))
            event = f'id: {seq}\ndata: {{"seq": {seq}, "t_ns": {time.time_ns()}}}\n\n'
            writer.write(event.encode())
            await writer.drain()


async def main() -> None:
    source = Source()
    server = await asyncio.start_server(source.handle, "127.0.0.1", 0, backlog=256)
    port = server.sockets[0].getsockname()[1]
    sys.stderr.write(f"bench source serving on http://127.0.0.1:{port}\n")
    sys.stderr.flush()
    async with server:
        await server.serve_forever()


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run `main` on uvloop when it is installed (a default install has it), else asyncio."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


if __name__ == "__main__":
    try:
        run(main())
    except KeyboardInterrupt:
        pass
