"""The broker throughput client: S subscribers, then M publishes from P connections at once.

    python -m bench.brokerclient URL --topic T --subscribers S --publishes M \
        --publishers P --pids PID,PID --timeout SECONDS

Counts every event each subscriber receives until all have all M; reads the CPU time of the
given processes (the server, the broker) over the publishing. One JSON object on stdout.
Stdlib and bench.common only; every wait is bounded by the deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit

from bench.common import cpu_seconds

MARK = b"data: "


async def subscriber(
    host: str, port: int, topic: str, want: int, ready: asyncio.Event, done: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET /subscribe?topic={topic} HTTP/1.1\r\nHost: b\r\n\r\n".encode())
    carry, count = b"", 0
    while b": subscribed" not in carry:
        carry += await reader.read(65536)
    ready.set()
    carry = carry[-5:]
    while count < want:
        chunk = await reader.read(262144)
        if not chunk:
            raise RuntimeError("a subscriber's stream ended")
        buf = carry + chunk
        count += buf.count(MARK)
        carry = buf[-5:]
    done.append(count)
    writer.close()


async def publisher(host: str, port: int, topic: str, count: int, n: int) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    failed = 0
    for i in range(count):
        body = f"p{n}-{i}".encode()
        writer.write(
            f"POST /publish?topic={topic} HTTP/1.1\r\nHost: b\r\nContent-Length: {len(body)}"
            f"\r\n\r\n".encode()
            + body
        )
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        failed += not head.startswith(b"HTTP/1.1 200")
    writer.close()
    return failed


async def run(args: argparse.Namespace) -> dict[str, object]:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    pids = [int(p) for p in args.pids.split(",") if p]
    readies = [asyncio.Event() for _ in range(args.subscribers)]
    done: list[int] = []
    subs = [
        asyncio.ensure_future(subscriber(host, port, args.topic, args.publishes, r, done))
        for r in readies
    ]
    await asyncio.gather(*(r.wait() for r in readies))
    per, extra = divmod(args.publishes, args.publishers)  # the first `extra` send one more
    before = [cpu_seconds(p) for p in pids]
    start = time.perf_counter()
    failed = await asyncio.gather(
        *(publisher(host, port, args.topic, per + (n < extra), n) for n in range(args.publishers))
    )
    published_s = time.perf_counter() - start
    await asyncio.gather(*subs)
    seconds = time.perf_counter() - start
    cpu = [cpu_seconds(p) - b for p, b in zip(pids, before, strict=True)]
    return {
        "published": args.publishes,
        "failed": sum(failed),
        "publish_s": published_s,
        "seconds": seconds,
        "delivered": sum(done),
        "cpu_s": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--topic", default="bench")
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--publishes", type=int, default=10_000)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--pids", default="")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    result = asyncio.run(asyncio.wait_for(run(args), args.timeout))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
