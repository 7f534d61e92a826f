"""Resumable pub/sub through real servers: in memory, across two servers sharing a real
redis-server, and through a Redis restart (fresh apps served in this process, what they say
on stderr kept by support/stderr.py). --workers on one port, where the processes are the
point, is in test_serve_workers.py.

Subscribers are httpx streams decoded by sse-cli's own parser; a subscriber is "cut" by
closing its connection and resumes with `Last-Event-ID`, as EventSource does. Every wait is
bounded; publishing is bounded in count.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TypeAlias

import httpx
import pytest
from support.cli import WAIT, invoke
from support.redis import RedisServer, free_port
from support.serve import serving, serving_args
from support.stderr import ServeStderr

from sse_cli.protocol.decoder import Comment, Decoder, Event, Item

CLOSE = {"Connection": "close"}
RUN_BOUND = 60.0  # seconds any one test's publishing and reading may take in all


Until: TypeAlias = "str | asyncio.Future[str] | None"


def reached(until: Until, got: str) -> bool:
    if isinstance(until, asyncio.Future):
        return until.done() and str(until.result()) == got
    return until == got


class Subscriber:
    """One subscriber across its connections: the event ids it got, in order."""

    def __init__(self, client: httpx.AsyncClient, topic: str) -> None:
        self.client = client
        self.topic = topic
        self.ids: list[str] = []
        self.resumes: list[str | None] = []  # each resumed connection's X-SSE-Resume
        self.comments: list[str] = []
        self.opened = asyncio.Event()

    async def connect(self, base: str, until: Until, cut_after: int | None) -> bool:
        """Read events from `base` (resuming after the last id got) until id `until` (or
        the id the future `until` comes to hold: then the server must send heartbeats)
        (True) or `cut_after` events (False: the connection is cut)."""
        last = self.ids[-1] if self.ids else None
        headers = {"Last-Event-ID": last} if last else {}
        url = f"{base}/subscribe?topic={self.topic}"
        count = 0
        async with self.client.stream("GET", url, headers=headers) as response:
            assert response.status_code == 200, response.status_code
            if last:
                self.resumes.append(response.headers.get("x-sse-resume"))
            decoder = Decoder(last or "")
            async for chunk in response.aiter_raw():
                for item in decoder.feed(chunk):
                    if isinstance(item, Comment):
                        self.comments.append(item.text)
                        self.opened.set()
                    elif isinstance(item, Event):
                        assert item.id is not None
                        self.ids.append(item.id)
                        count += 1
                        if cut_after is not None and count >= cut_after:
                            return reached(until, item.id)
                    # Checked at heartbeats too: `until` may be learnt after its event came.
                    if self.ids and reached(until, self.ids[-1]):
                        return True
        raise AssertionError("the stream ended")

    async def follow(self, bases: list[str], until: Until, cuts: list[int]) -> None:
        """Read until `until`, cut after each count in `cuts`, each time resuming on the next
        server of `bases`."""
        for turn, cut in enumerate([*cuts, None]):
            if await self.connect(bases[turn % len(bases)], until, cut):
                return
        raise AssertionError(f"never got {until}")


async def wait_subscribed(subscribers: list[Subscriber]) -> None:
    await asyncio.wait_for(asyncio.gather(*(s.opened.wait() for s in subscribers)), WAIT)


def new_topic() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def apps() -> Iterator[Callable[..., str]]:
    """Fresh apps served in this process, `open(**settings)` giving each one's URL; all are
    stopped at the test's end."""
    with ExitStack() as stack:
        yield lambda **fields: stack.enter_context(serving(rate_limit=0, **fields)).url


# ------------------------------------------------------------------------------- in memory


def test_memory_resume_under_concurrent_publishing_gets_every_event_once_in_order(
    apps: Callable[..., str],
) -> None:
    """300 events published while 20 subscribers are cut three times each at random points
    and resume with Last-Event-ID: each receives every event exactly once, in order."""
    base = apps(history=300)
    topic, total, rng = new_topic(), 300, random.Random(2000)

    async def main() -> None:
        async with httpx.AsyncClient(timeout=WAIT) as client:
            subscribers = [Subscriber(client, topic) for _ in range(20)]
            readers = [
                asyncio.ensure_future(
                    s.follow([base], str(total), [rng.randrange(1, 60) for _ in range(3)])
                )
                for s in subscribers
            ]
            await wait_subscribed(subscribers)
            for n in range(1, total + 1):
                reply = await client.post(f"{base}/publish?topic={topic}", content=f"e{n}")
                assert reply.json()["id"] == str(n)
            await asyncio.gather(*readers)
        expected = [str(n) for n in range(1, total + 1)]
        for subscriber in subscribers:
            assert subscriber.ids == expected
            assert subscriber.resumes == ["complete"] * 3

    asyncio.run(asyncio.wait_for(main(), RUN_BOUND))


def test_publish_answers_the_id_and_the_local_subscribers(apps: Callable[..., str]) -> None:
    base = apps()
    first = httpx.post(f"{base}/publish?topic=ids", content="a", timeout=WAIT)
    assert first.status_code == 200
    assert first.json() == {"id": "1", "subscribers": 0, "topic": "ids"}
    quiet = apps(history=0)
    nowhere = httpx.post(f"{quiet}/publish?topic=ids", content="a", timeout=WAIT)
    assert nowhere.status_code == 404, "with no history and no subscriber it goes nowhere"


def test_a_first_connection_asks_for_recent_history_and_a_stale_id_is_told_incomplete(
    apps: Callable[..., str],
) -> None:
    base = apps(history=3)
    for n in range(1, 6):
        httpx.post(f"{base}/publish?topic=h", content=f"e{n}", timeout=WAIT)

    def opening(query: str, headers: dict[str, str]) -> tuple[str | None, list[Item]]:
        with httpx.stream("GET", f"{base}/subscribe?topic=h&{query}", headers=headers) as reply:
            decoder, items = Decoder(), list[Item]()
            for chunk in reply.iter_raw():
                items += decoder.feed(chunk)
                if any(isinstance(i, Event) and i.id == "5" for i in items):
                    return reply.headers.get("x-sse-resume"), items
        raise AssertionError("no event 5")

    header, items = opening("history=2", {})
    assert header is None and [i.id for i in items if isinstance(i, Event)] == ["4", "5"]
    header, items = opening("last_event_id=1", {})
    assert header == "incomplete"
    assert any(isinstance(i, Comment) and "resume incomplete" in i.text for i in items)
    assert [i.id for i in items if isinstance(i, Event)] == ["3", "4", "5"]
    header, items = opening("last_event_id=1", {"Last-Event-ID": "3"})
    assert header == "complete", "the header, newer than the first URL's id, wins"
    assert [i.id for i in items if isinstance(i, Event)] == ["4", "5"]


# ----------------------------------------------------------------------------- with Redis


def test_two_servers_sharing_redis_resume_on_either_with_no_gap_or_duplicate(
    apps: Callable[..., str], redis_server: RedisServer
) -> None:
    """300 events published alternately on A and B (two apps, nothing shared but Redis);
    subscribers on both, each cut at random points and resumed on the other with its last
    id."""
    a, b = apps(broker=redis_server.url), apps(broker=redis_server.url)
    topic, total, rng = new_topic(), 300, random.Random(1000)

    async def main() -> None:
        async with httpx.AsyncClient(timeout=WAIT) as client:
            subscribers = [Subscriber(client, topic) for _ in range(12)]
            published: list[str] = []
            last = asyncio.get_running_loop().create_future()

            async def follow(n: int, subscriber: Subscriber) -> None:
                first = subscriber.connect([a, b][n % 2], None, rng.randrange(1, 75))
                assert not await first
                until = await last
                cuts = [rng.randrange(1, 75) for _ in range(2)]
                await subscriber.follow([[b, a], [a, b]][n % 2], until, cuts)

            readers = [asyncio.ensure_future(follow(n, s)) for n, s in enumerate(subscribers)]
            await wait_subscribed(subscribers)
            for n in range(total):
                reply = await client.post(f"{[a, b][n % 2]}/publish?topic={topic}", content=str(n))
                assert reply.status_code == 200, reply.text
                published.append(reply.json()["id"])
            last.set_result(published[-1])
            await asyncio.gather(*readers)
        for subscriber in subscribers:
            assert len(set(subscriber.ids)) == len(subscriber.ids), "a duplicate"
            assert subscriber.ids == published, "a gap"
            assert subscriber.resumes == ["complete"] * len(subscriber.resumes)

    asyncio.run(asyncio.wait_for(main(), RUN_BOUND))


def test_redis_restart_keeps_subscribers_open_and_delivery_goes_on() -> None:
    """Redis stops while subscribers are connected: publishing answers 503, the streams stay
    open with heartbeats, serve says once that the broker is lost and once that it is back,
    and events published after the restart (append-only, so the stream survives) reach every
    subscriber."""
    redis = RedisServer().start()
    argv = ["--rate-limit", "0", "-q", "--broker", redis.url, "--ping", "0.2"]
    try:
        with ServeStderr() as said, serving_args(*argv) as server:
            run_through_a_restart(redis, server.url)
        text = said.text
        assert text.count("broker lost") == 1 and text.count("broker back") == 1, text
        assert not said.tracebacks() and not server.log.tracebacks(), said.tracebacks()
    finally:
        redis.close()


def run_through_a_restart(redis: RedisServer, base: str) -> None:
    """Subscribers open on `base` while `redis` stops and starts again: each gets the events
    published before and after."""
    topic = new_topic()

    async def main() -> None:
        async with httpx.AsyncClient(timeout=WAIT) as client:
            subscribers = [Subscriber(client, topic) for _ in range(3)]
            published: list[str] = []
            last: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            readers = [asyncio.ensure_future(s.connect(base, None, 1)) for s in subscribers]
            await wait_subscribed(subscribers)
            reply = await client.post(f"{base}/publish?topic={topic}", content="before")
            published.append(reply.json()["id"])
            await asyncio.wait_for(asyncio.gather(*readers), WAIT)
            for subscriber in subscribers:
                subscriber.opened.clear()
            following = [asyncio.ensure_future(s.follow([base], last, [])) for s in subscribers]
            await wait_subscribed(subscribers)  # resumed, and open
            pings = [len(s.comments) for s in subscribers]
            await asyncio.to_thread(redis.stop)
            down = await client.post(f"{base}/publish?topic={topic}", content="lost")
            assert down.status_code == 503 and "error" in down.json()
            for _ in range(int(WAIT / 0.1)):  # heartbeats reach the open streams
                if all(len(s.comments) > n + 1 for s, n in zip(subscribers, pings, strict=True)):
                    break
                await asyncio.sleep(0.1)
            assert all(len(s.comments) > n + 1 for s, n in zip(subscribers, pings, strict=True))
            await asyncio.to_thread(redis.start)
            for _ in range(int(WAIT / 0.1)):
                reply = await client.post(f"{base}/publish?topic={topic}", content="after")
                if reply.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert reply.status_code == 200, reply.text
            published.append(reply.json()["id"])
            last.set_result(published[-1])
            await asyncio.gather(*following)
            for subscriber in subscribers:
                assert subscriber.ids == published

    asyncio.run(asyncio.wait_for(main(), RUN_BOUND))


# ------------------------------------------------------------------------------ start-up


@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        (["--broker", "redis://127.0.0.1:{free}/0"], 3, "cannot reach the broker"),
        (["--broker", "http://127.0.0.1:6379/0"], 2, "not a Redis URL"),
        (["--broker", "redis://127.0.0.1:x/0"], 2, "malformed"),
        (["--workers", "2"], 2, "topics would split"),
    ],
)
def test_serve_refuses_a_broker_or_workers_it_cannot_use_before_binding(
    args: list[str], status: int, words: str
) -> None:
    argv = [a.replace("{free}", str(free_port())) for a in args]
    done = invoke("serve", "--port", "0", *argv)
    stderr = done.stderr
    assert done.status == status, stderr
    assert words in stderr and "serving on" not in stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
