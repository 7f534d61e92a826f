"""The server peer: a plain sse-starlette app, as most people write one, on uvicorn.

`python bench/peer_starlette.py [--ping S]` binds 127.0.0.1 on a free port, prints
`serving on http://127.0.0.1:PORT` on stderr, and serves (uvloop and httptools when installed,
as uvicorn picks them by default, the same as for `sse-cli serve`):

    GET /counter?limit=N    yields one dict per event: {"id": n, "data": n}
    GET /subscribe          a plain broadcast loop: one asyncio.Queue per subscriber, in a set
    POST /publish           puts the body in every queue; answers {"subscribers": n}

sse-starlette's defaults throughout, but for the heartbeat interval (`ping`), which is set to
the one `sse-cli serve --ping` gets so both send the same bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from collections.abc import AsyncIterator

import uvicorn
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def create_app(ping: int) -> Starlette:
    subscribers: set[asyncio.Queue[str]] = set()

    async def counter(request: Request) -> Response:
        limit = int(request.query_params.get("limit", "100"))

        async def events() -> AsyncIterator[dict[str, str]]:
            for n in range(1, limit + 1):
                yield {"id": str(n), "data": str(n)}

        return EventSourceResponse(events())

    async def subscribe(request: Request) -> Response:
        queue: asyncio.Queue[str] = asyncio.Queue()
        subscribers.add(queue)

        async def events() -> AsyncIterator[dict[str, str]]:
            try:
                while True:
                    yield {"data": await queue.get()}
            finally:
                subscribers.discard(queue)

        return EventSourceResponse(events(), ping=ping)

    async def publish(request: Request) -> Response:
        data = (await request.body()).decode()
        for queue in subscribers:
            queue.put_nowait(data)
        return JSONResponse({"subscribers": len(subscribers)})

    return Starlette(
        routes=[
            Route("/counter", counter),
            Route("/subscribe", subscribe),
            Route("/publish", publish, methods=["POST"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ping", type=int, default=15)
    args = parser.parse_args()
    sock = socket.create_server(("127.0.0.1", 0), backlog=4096)
    config = uvicorn.Config(
        create_app(args.ping),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    sys.stderr.write(f"sse-starlette peer serving on http://127.0.0.1:{sock.getsockname()[1]}\n")
    sys.stderr.flush()
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
