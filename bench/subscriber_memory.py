"""Where an idle /subscribe stream's memory goes: tracemalloc snapshots of a `serve` child
diffed before and after N idle subscribers, by the layer that allocated each block, plus RSS.

    python -m bench.subscriber_memory [--subscribers N] [--path /subscribe?topic=t] [--top K]

The child is `sse-cli serve` (uvloop and httptools, serve's default stack) under tracemalloc
(25 frames); a thread of it takes a snapshot whenever a line comes on its stdin. Each block
is charged to the innermost frame that names a known layer (uvicorn's protocol, the Starlette
router, sse_cli.serve.pubsub ...). tracemalloc sees what Python allocates; RSS also holds
uvloop's and libuv's own allocations and the allocator's slack, so the two are shown
together. Not part of bench/run: tracemalloc slows the server, so it is a tool for finding
where memory goes, and bench/run's pubsub figure is the one to compare before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import SSE_CLI, memory_kib
from bench.loadclient import Stream, _factory, run

# (fragment of a frame's file name, layer), looked for from the innermost frame out
LAYERS = [
    ("sse_cli/serve/brokers", "broker: fan-out inbox, ids"),
    ("sse_cli/serve/pubsub", "sse_cli /subscribe stream"),
    ("sse_cli/serve/mercure", "sse_cli Mercure hub"),
    ("sse_cli/serve/guard", "sse_cli guard"),
    ("sse_cli/serve/state", "sse_cli heartbeat"),
    ("sse_starlette", "sse-starlette"),
    ("fastapi/", "FastAPI"),
    ("starlette/routing", "Starlette router"),
    ("starlette/middleware/exceptions", "Starlette exception middleware"),
    ("starlette/_exception_handler", "Starlette exception middleware"),
    ("starlette/middleware/errors", "Starlette error middleware"),
    ("starlette/", "Starlette other"),
    ("uvicorn/middleware", "uvicorn proxy-headers middleware"),
    ("uvicorn/protocols/http/httptools_impl", "uvicorn HTTP protocol (httptools)"),
    ("uvicorn/protocols/http/h11_impl", "uvicorn HTTP protocol (h11)"),
    ("uvicorn/protocols/http/flow_control", "uvicorn HTTP protocol (flow control)"),
    ("uvicorn/", "uvicorn other"),
    ("asyncio/", "asyncio"),
    ("uvloop/", "uvloop"),
]


def layer(frames: Any) -> str:
    for frame in reversed(list(frames)):  # tracemalloc lists the most recent call last
        for fragment, name in LAYERS:
            if fragment in frame.filename:
                return name
    return "other"


def child(args: argparse.Namespace) -> None:
    """The server: `sse-cli serve`, with a thread that snapshots on each stdin line."""
    import threading

    tracemalloc.start(25)

    def snapshots() -> None:
        for line in sys.stdin:
            tracemalloc.take_snapshot().dump(line.strip())
            sys.stdout.write("dumped\n")
            sys.stdout.flush()

    threading.Thread(target=snapshots, daemon=True).start()
    from sse_cli.cli.app import main

    sys.argv = [SSE_CLI, "serve", "--port", "0", "--quiet", "--rate-limit", "0"]
    sys.argv += ["--max-streams", str(args.subscribers + 64), "--ping", str(args.ping)]
    main()


async def hold(port: int, path: str, count: int, batch: int) -> list[Stream]:
    loop = asyncio.get_running_loop()
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n"
    streams: list[Stream] = []
    for start in range(0, count, batch):
        group = [Stream(request.encode(), False) for _ in range(min(batch, count - start))]
        await asyncio.gather(
            *(loop.create_connection(_factory(s), "127.0.0.1", port) for s in group)
        )
        await asyncio.wait_for(asyncio.gather(*(s.ready for s in group)), 60)
        streams += group
    return streams


def parent(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="submem-"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.subscriber_memory", "--child", "--ping", str(args.ping),
         "--subscribers", str(args.subscribers)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdin and proc.stdout and proc.stderr
    banner = proc.stderr.readline()
    port = int(banner.split("http://")[1].split()[0].rsplit(":", 1)[1])

    def snap(name: str) -> tuple[tracemalloc.Snapshot, int]:
        path = folder / name
        proc.stdin.write(f"{path}\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        proc.stdout.readline()  # type: ignore[union-attr]
        return tracemalloc.Snapshot.load(str(path)), memory_kib(proc.pid)

    async def measure() -> dict[str, Any]:
        warm = await hold(port, args.path, 1, 1)
        await asyncio.sleep(0.5)
        before, rss_before = snap("before")
        streams = await hold(port, args.path, args.subscribers, 250)
        await asyncio.sleep(args.idle)
        after, rss_after = snap("after")
        for s in streams + warm:
            s.abort()
        n = args.subscribers
        by_layer: dict[str, int] = defaultdict(int)
        by_line: dict[str, int] = defaultdict(int)
        for diff in after.compare_to(before, "traceback"):
            by_layer[layer(diff.traceback)] += diff.size_diff
            inner = [
                f for f in diff.traceback if "sse_cli" in f.filename or "-packages" in f.filename
            ]
            frame = (inner or list(diff.traceback))[-1]
            short = frame.filename.split("-packages/")[-1].split("wt-capacity/")[-1]
            by_line[f"{short}:{frame.lineno}"] += diff.size_diff
        traced = sum(by_layer.values())
        return {
            "subscribers": n,
            "path": args.path,
            "rss_per_stream_bytes": round((rss_after - rss_before) * 1024 / n),
            "traced_per_stream_bytes": round(traced / n),
            "layers": {k: round(v / n) for k, v in sorted(by_layer.items(), key=lambda kv: -kv[1])},
            "lines": {
                k: round(v / n)
                for k, v in sorted(by_line.items(), key=lambda kv: -kv[1])[: args.top]
            },
        }

    try:
        return run(measure())
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--path", default="/subscribe?topic=t")
    parser.add_argument("--ping", type=float, default=15)
    parser.add_argument("--idle", type=float, default=1.0)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    started = time.monotonic()
    result = parent(args)
    result["seconds"] = round(time.monotonic() - started, 1)
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    os._exit(0)


if __name__ == "__main__":
    main()
