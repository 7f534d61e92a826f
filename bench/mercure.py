"""The Mercure hub's matching benchmark (issue 25): N subscribers of the hub with 1,000
distinct selector sets (each an exact selector that does not match plus a URI template or a
URL pattern that does), one update published at a time, each timed until every subscriber
has it; against N subscribers of /subscribe on one topic, in the same run, on the same
`serve`. The goal: the hub's p99 at most 2x /subscribe's.

    python -m bench.mercure --subscribers 10000 --updates 20
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import subprocess
import sys
import time
from urllib.parse import quote, urlencode

T_NS = re.compile(rb't_ns": (\d+)')


def selectors(i: int) -> str:
    """Subscriber i's query: one of 1,000 distinct selector sets."""
    j = i % 1000
    exact = f"urn:none:{j}"
    if j % 2:
        matching = f"https://example.com/{{kind{j}}}/{{id}}"
        return f"topic={quote(exact)}&topic={quote(matching)}"
    matching = f"https://example.com/:kind{j}/:id"
    return f"match={quote(exact)}&match_urlpattern={quote(matching)}"


async def subscriber(
    host: str, port: int, path: str, got: asyncio.Queue[int], ready: asyncio.Queue[int] | None
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            if ready is not None:  # the head and the opening comment: subscribed
                ready.put_nowait(0)
                ready = None
            for found in T_NS.finditer(chunk):
                got.put_nowait(time.time_ns() - int(found.group(1)))
    finally:
        writer.close()


async def publish(host: str, port: int, path: str, body: bytes, kind: str) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")  # fmt: skip
    writer.write(head.encode() + body)
    await reader.read()
    writer.close()


async def run(port: int, n: int, updates: int, hub: bool) -> list[float]:
    host = "127.0.0.1"
    got: asyncio.Queue[int] = asyncio.Queue()
    ready: asyncio.Queue[int] = asyncio.Queue()
    paths = [f"/.well-known/mercure?{selectors(i)}" if hub else "/subscribe?topic=bench"
             for i in range(n)]  # fmt: skip
    tasks = []
    for at in range(0, n, 500):  # connect in batches, as a ramp
        tasks += [
            asyncio.ensure_future(subscriber(host, port, p, got, ready))
            for p in paths[at : at + 500]
        ]
        await asyncio.sleep(0.05)
    for _ in range(n):  # every subscriber has its head before the first publish
        await asyncio.wait_for(ready.get(), 120)
    spreads = []
    for seq in range(updates):
        data = f'{{"seq": {seq}, "t_ns": {time.time_ns()}}}'
        if hub:
            body = urlencode({"topic": "https://example.com/books/1", "data": data}).encode()
            await publish(
                host, port, "/.well-known/mercure", body, "application/x-www-form-urlencoded"
            )
        else:
            await publish(host, port, "/publish?topic=bench", data.encode(), "application/json")
        latencies = [await asyncio.wait_for(got.get(), 60) for _ in range(n)]
        spreads.append(max(latencies) / 1e6)  # until the last subscriber has it, in ms
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return spreads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=20)
    args = parser.parse_args()
    argv = [sys.executable, "-m", "sse_cli", "serve", "--port", "0", "-q", "--rate-limit", "0",
            "--max-streams", str(args.subscribers + 10)]  # fmt: skip
    server = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        port = int(re.search(r":(\d+) ", line).group(1))  # type: ignore[union-attr]
        for name, hub in (("/subscribe, one topic", False), ("hub, 1,000 selector sets", True)):
            spreads = asyncio.run(run(port, args.subscribers, args.updates, hub))
            ranked = sorted(spreads)
            p50, p99 = (ranked[math.ceil(q * len(ranked)) - 1] for q in (0.5, 0.99))
            print(f"{name:<26} {args.subscribers} subscribers, {args.updates} updates: "
                  f"until the last has it p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
                  f"max {max(spreads):.1f} ms")  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
