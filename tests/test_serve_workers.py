"""`serve --workers 2 --broker redis://...`: two processes on one port, sharing their topics
through a real redis-server. One child, its processes being the point, checked three ways in
turn: pub/sub subscribers spread over both workers each get every publish; a Mercure
subscriber cut and resumed (landing on either worker) gets every update once, in order; and
under `ulimit -n 200` each worker refuses streams with 503 past its own open-files limit.
Across two hub instances (apps in this process) the same is in test_pubsub.py and
test_mercure_redis.py."""

from __future__ import annotations

import asyncio

import httpx
from support.cli import WAIT
from support.redis import RedisServer
from support.sse_reader import close_all
from test_mercure_hub import KEY, token
from test_mercure_redis import HOPS, TOTAL, follow
from test_pubsub import CLOSE, RUN_BOUND, Subscriber, new_topic, wait_subscribed
from test_serve_capacity import (
    ATTEMPTS,
    LIMIT,
    REFUSING,
    Stream,
    fill,
    publish,
    under_limit,
)

from sse_cli.launcher import Launched, launch, serve_command

#: A token for every request: with --jwt-key, /publish and /subscribe need one too.
EVERYTHING = token(publish=["*"], subscribe=["*"])
AUTH = {"Authorization": f"Bearer {EVERYTHING}"}


def publish_reaches_both_workers(base: str) -> None:
    """Subscribers spread over both workers' processes, and each publish, through whichever
    worker takes it, reaches all of them."""
    topic, count = new_topic(), 16

    async def main() -> None:
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(timeout=WAIT, limits=limits, headers=AUTH) as c:
            subscribers = [Subscriber(c, topic) for _ in range(count)]
            last: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            readers = [asyncio.ensure_future(s.connect(base, last, None)) for s in subscribers]
            await wait_subscribed(subscribers)
            published, local = [], set()
            # Each publish on a new connection, so either worker may take it; a worker
            # with fewer than all subscribers answering proves events cross processes.
            for n in range(60):
                reply = await c.post(f"{base}/publish?topic={topic}", content=str(n), headers=CLOSE)
                assert reply.status_code == 200, reply.text
                published.append(reply.json()["id"])
                local.add(reply.json()["subscribers"])
                if n >= 10 and min(local) < count:
                    break
            last.set_result(published[-1])
            await asyncio.wait_for(asyncio.gather(*readers), WAIT)
            for subscriber in subscribers:
                assert subscriber.ids == published
            assert min(local) < count, f"every subscriber was on one worker: {local}"

    asyncio.run(asyncio.wait_for(main(), RUN_BOUND))


def each_worker_keeps_to_its_limit(child: Launched, opened: list[Stream]) -> None:
    """Streams until one is refused: the kernel shares accepts between the workers unevenly
    and the first one to fill refuses, so between one worker's share and both workers'
    shares are held, and every held one still gets what is published."""
    held, refused = fill(
        child.port, opened, 2 * ATTEMPTS, f"Authorization: Bearer {EVERYTHING}\r\n"
    )
    assert LIMIT // 4 <= len(held) < 2 * LIMIT, len(held)
    assert refused.status == 503 and refused.headers["retry-after"] == "1"
    assert publish(child.url, "to both", AUTH) >= 1
    for stream in held:
        stream.read_until(b"data: to both")
    child.wait_line(REFUSING, WAIT)


def test_workers_2_share_topics_and_the_hub_s_log_and_each_keeps_to_its_limit(
    streams: list[Stream], redis_server: RedisServer
) -> None:
    args = ["-q", "--rate-limit", "0", "--max-streams", "100000", "--ping", "0.2"]
    args += ["--workers", "2", "--broker", redis_server.url, "--jwt-key", KEY]
    # A bound, not a wait: --workers starts several interpreters, slow on a busy machine.
    child = launch(under_limit(serve_command(args)), timeout=3 * WAIT)
    try:
        publish_reaches_both_workers(child.url)
        assert follow([child.url], "w-", hops=HOPS) == [f"w-{n}" for n in range(TOTAL)]
        close_all()
        each_worker_keeps_to_its_limit(child, streams)
    finally:
        for stream in streams:
            stream.close()
        status = child.stop(timeout=WAIT)
    assert status == 0, child.lines()
    assert not any("Traceback" in line for line in child.lines()), child.lines()
