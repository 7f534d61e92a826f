"""The hub across hub instances: one global log in Redis Streams, so a subscriber cut on one
`serve` and resumed on another receives every update exactly once, in order. Each server is
a fresh app on a thread of this process with its own broker connections: nothing shared but
Redis, as between two processes. The same across the processes of `--workers 2` is in
test_serve_workers.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from functools import partial
from urllib.parse import quote

import httpx
import pytest
from support.cli import WAIT
from support.redis import RedisServer
from support.serve import serving_args
from support.sse_reader import StreamReader, close_all
from test_mercure_hub import HUB, KEY, PUBLISHER, token

#: Cuts and resumes per subscriber: each server is resumed on, from the other, twice.
HOPS = 4
#: Updates published: enough that each of the HOPS resumes has some still to come (the
#: hops take 2, 4, 6 and 8 more; the last resume receives the other 20).
TOTAL = 40
TOPIC = "https://example.com/books/{id}"


@pytest.fixture
def servers() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        stack.callback(close_all)  # the readers close before the servers stop
        yield stack


def start(servers: ExitStack, redis: RedisServer) -> str:
    """What `serve --broker REDIS --jwt-key KEY` serves, on a thread: its URL."""
    argv = ["--rate-limit", "0", "-q", "--broker", redis.url, "--jwt-key", KEY]
    return servers.enter_context(serving_args(*argv)).url


def publish_all(bases: list[str], prefix: str, done: threading.Event) -> None:
    """Publish TOTAL updates, each through the next server in turn, on a new connection."""
    # One client (httpx.post would build one, with its TLS context, per update: 0.1 s each);
    # Connection: close still makes each update a new connection.
    try:
        with httpx.Client(timeout=WAIT) as client:
            for n in range(TOTAL):
                reply = client.post(
                    bases[n % len(bases)] + HUB,
                    data={"topic": f"https://example.com/books/{n}", "id": f"{prefix}{n}"},
                    headers={"Authorization": f"Bearer {PUBLISHER}", "Connection": "close"},
                )
                assert reply.status_code == 200, reply.text
    finally:
        done.set()


def has_events(reader: StreamReader, want: int) -> bool:
    return len(reader.events) >= want


def follow(bases: list[str], prefix: str, hops: int) -> list[str]:
    """Subscribe, and each time a few more updates arrived cut and resume on the next
    server with Last-Event-ID; the ids received, in order."""
    query = f"topic={quote(TOPIC)}&topic={quote('urn:start:' + prefix)}"
    received: list[str] = []
    done = threading.Event()
    publisher = None
    for hop in range(hops + 1):
        headers = {"Authorization": f"Bearer {token(subscribe=['*'])}"}
        if received:
            headers["Last-Event-ID"] = received[-1]
        reader = StreamReader(f"{bases[hop % len(bases)]}{HUB}?{query}", headers=headers)
        reader.wait(lambda r: r.status == 200)
        if publisher is None:
            publisher = threading.Thread(target=publish_all, args=(bases, prefix, done))
            publisher.start()
        target = TOTAL if hop == hops else min(TOTAL, len(received) + (hop + 1) * 2)
        want = target - len(received)
        reader.wait(partial(has_events, want=want), WAIT * 2)
        received += [event.id or "" for event in reader.events]
        reader.cut()
    assert publisher is not None
    publisher.join(WAIT * 4)
    return received


def test_a_subscriber_resumed_on_another_hub_gets_every_update_once(
    servers: ExitStack, redis_server: RedisServer
) -> None:
    bases = [start(servers, redis_server), start(servers, redis_server)]
    received = follow(bases, "p-", hops=HOPS)
    assert received == [f"p-{n}" for n in range(TOTAL)]
