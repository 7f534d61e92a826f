"""The pub/sub load client: many idle subscribers on raw asyncio protocols, then publishes.

    python -m bench.loadclient URL --pid PID --subscribers N --batch B --idle S \
        --publishes K --timeout T

1. Warm the server up (one subscriber, one publish), then read its RSS (the baseline).
2. Open N `GET /subscribe` streams, B at a time, each ready once its response headers came
   (with --first-comment: once the comment that starts the stream came).
3. Stay idle for S seconds (heartbeats only), then read the server's RSS again.
4. Publish K times: from just before each `POST /publish` is sent to the moment each stream
   received the event; every stream must receive every event, and `subscribers` must be N.

Beside each wall-clock figure, the server's user + system CPU time (from /proc/PID/stat,
10 ms resolution): while the streams connect (`connect_cpu_s`), over the idle phase divided
by its length (`idle_cpu_percent`, one core being 100) and per publish (`cpu_ms` of each).
CPU time moves far less than wall time when the machine is shared.

One JSON object on stdout. Stdlib and bench.common only (uvloop when installed: a faster
client measures the server, not itself). Every wait is bounded by the deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import resource
import socket
import struct
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast
from urllib.parse import urlsplit

from bench.common import cpu_seconds, memory_kib, percentile


class Stream(asyncio.Protocol):
    """One subscriber: the response head, then counts comments and watches for a marker."""

    def __init__(self, request: bytes, first_comment: bool) -> None:
        loop = asyncio.get_running_loop()
        self.request = request
        self.first_comment = first_comment
        """Ready only once the first comment came (the server subscribes before sending it)."""
        self.ready: asyncio.Future[None] = loop.create_future()
        self.head: bytes | None = b""
        self.transport: asyncio.Transport | None = None
        self.comments = 0
        self.marker = b""
        self.tail = b""
        self.arrived: asyncio.Future[int] | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance here.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        if self.head is not None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            status = self.head.split(b"\r\n", 1)[0]
            if b" 200 " not in status + b" ":
                self.ready.set_exception(ConnectionError(f"subscribe answered {status!r}"))
                return
            data = self.head[end + 2 :]
            self.head = None
        # A comment line: after the chunk-size line's CRLF, or after the blank line before.
        self.comments += data.count(b"\n:")
        if not self.ready.done() and (self.comments or not self.first_comment):
            self.ready.set_result(None)
        if self.arrived is not None and not self.arrived.done():
            window = self.tail + data
            if self.marker in window:
                self.arrived.set_result(now)
            else:
                self.tail = window[-len(self.marker) :]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        error = ConnectionError(f"a subscriber's connection was lost: {exc or 'closed'}")
        for future in (self.ready, self.arrived):
            if future is not None and not future.done():
                future.set_exception(error)

    def expect(self, marker: bytes) -> asyncio.Future[int]:
        self.marker = marker
        self.tail = b""
        self.arrived = asyncio.get_running_loop().create_future()
        return self.arrived

    def abort(self) -> None:
        """Close with a reset: thousands of closes leave no TIME_WAIT ports behind."""
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.transport.close()


def _factory(stream: Stream) -> Callable[[], Stream]:
    return lambda: stream


class Load:
    def __init__(self, args: argparse.Namespace) -> None:
        parts = urlsplit(args.url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.args = args
        self.deadline = time.monotonic() + args.timeout
        self.request = (
            f"GET /subscribe HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        ).encode()

    def left(self) -> float:
        left: float = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the load client ran past its {self.args.timeout:g} s bound")
        return left

    async def connect(self, count: int) -> list[Stream]:
        loop = asyncio.get_running_loop()
        streams: list[Stream] = []
        for start in range(0, count, self.args.batch):
            size = min(self.args.batch, count - start)
            batch = [Stream(self.request, self.args.first_comment) for _ in range(size)]
            # Each Stream is made inside the loop (its futures need it), then connected.
            connects = [loop.create_connection(_factory(s), self.host, self.port) for s in batch]
            await asyncio.wait_for(asyncio.gather(*connects), self.left())
            await asyncio.wait_for(asyncio.gather(*(s.ready for s in batch)), self.left())
            streams += batch
        return streams

    async def publish(self, body: bytes) -> int:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.left()
        )
        writer.write(
            (
                f"POST /publish HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            + body
        )
        answer = await asyncio.wait_for(reader.read(), self.left())
        writer.close()
        head, _, payload = answer.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 200 " not in status + b" ":
            raise ConnectionError(f"publish answered {status!r}: {payload[:200]!r}")
        return int(json.loads(payload)["subscribers"])

    async def fan_out(self, streams: list[Stream], k: int) -> dict[str, float]:
        marker = f"bench-publish-{k:04d}".encode()
        body = marker + b" " + b"x" * (100 - len(marker) - 1)
        arrivals = [s.expect(marker) for s in streams]
        sent = time.perf_counter_ns()
        reached = await self.publish(body)
        times = await asyncio.wait_for(asyncio.gather(*arrivals), self.left())
        if reached != len(streams):
            raise ConnectionError(f"publish reached {reached} subscribers of {len(streams)}")
        ms = [(t - sent) / 1e6 for t in times]
        return {
            "reached": reached,
            "p50_ms": percentile(ms, 50),
            "p99_ms": percentile(ms, 99),
            "max_ms": max(ms),
        }

    async def run(self) -> dict[str, Any]:
        args = self.args
        # Warm-up: the first request of each kind may import or build things.
        (warm,) = await self.connect(1)
        await self.fan_out([warm], 0)
        warm.abort()
        await asyncio.sleep(0.2)
        baseline = memory_kib(args.pid)

        began, cpu_began = time.monotonic(), cpu_seconds(args.pid)
        streams = await self.connect(args.subscribers)
        connected = time.monotonic() - began
        connect_cpu = cpu_seconds(args.pid) - cpu_began
        before = [s.comments for s in streams]
        cpu_before, idle_began = cpu_seconds(args.pid), time.monotonic()
        await asyncio.sleep(min(args.idle, self.left()))
        idle = time.monotonic() - idle_began
        idle_cpu = cpu_seconds(args.pid) - cpu_before
        heartbeats = [s.comments - b for s, b in zip(streams, before, strict=True)]
        loaded = memory_kib(args.pid)

        publishes = []
        for k in range(1, args.publishes + 1):
            cpu_began = cpu_seconds(args.pid)
            publish = await self.fan_out(streams, k)
            publish["cpu_ms"] = (cpu_seconds(args.pid) - cpu_began) * 1000
            publishes.append(publish)
            await asyncio.sleep(0.1)
        lost = sum(s.lost for s in streams)
        for s in streams:
            s.abort()
        return {
            "subscribers": len(streams),
            "connect_s": connected,
            "connect_cpu_s": connect_cpu,
            "idle_cpu_percent": idle_cpu / idle * 100,
            "baseline_kib": baseline,
            "loaded_kib": loaded,
            "per_stream_kib": (loaded - baseline) / len(streams),
            "heartbeats_min": min(heartbeats),
            "heartbeats_mean": sum(heartbeats) / len(heartbeats),
            "lost": lost,
            "publishes": publishes,
        }


def run(main: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return asyncio.run(main)
    result: dict[str, Any] = uvloop.run(main)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--idle", type=float, default=2.5)
    parser.add_argument("--publishes", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument(
        "--first-comment",
        action="store_true",
        help="a stream is ready once its first comment came, not just its headers",
    )
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.subscribers + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        result = run(Load(args).run())
    except (OSError, asyncio.TimeoutError) as exc:  # ConnectionError and TimeoutError too
        sys.stderr.write(f"loadclient: {type(exc).__name__}: {exc}\n")
        sys.exit(1)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
