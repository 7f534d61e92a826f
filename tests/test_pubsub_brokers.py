"""The broker interface (habit 13): one suite, run against the in-memory broker and against
the Redis broker on a real redis-server (the session's, on loopback).

Each test gets fresh topic names, so tests never see each other's streams. The seam test is
Mercure's issue 178: joins land while events are being published, and every joiner must get
each event after its id exactly once, history and live together.
"""

from __future__ import annotations

import asyncio
import random
import re
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from support.cli import WAIT
from support.redis import RedisServer

from sse_cli.errors import ConnectError, UsageError
from sse_cli.serve.brokers import Broker, check_broker
from sse_cli.serve.brokers.fanout import Subscriber
from sse_cli.serve.brokers.memory import MemoryBroker
from sse_cli.serve.brokers.redis import RedisBroker
from sse_cli.serve.brokers.urls import check_url, shown_url

ID = re.compile(rb"^id: (.+)$", re.MULTILINE)
BACKENDS = ["memory", "redis"]

Make = Callable[..., Awaitable[None]]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        request.getfixturevalue("redis_server")
    return str(request.param)


@asynccontextmanager
async def opened(
    backend: str, redis: RedisServer | None, history: int = 1000
) -> AsyncIterator[Broker]:
    broker: Broker
    if backend == "memory":
        broker = MemoryBroker(history, queue_size=10_000)
    else:
        assert redis is not None
        broker = RedisBroker(redis.url, history, queue_size=10_000)
    try:
        yield broker
    finally:
        readers = list(getattr(broker, "tasks", ()))
        broker.close()
        await asyncio.gather(*readers, return_exceptions=True)
        closing = getattr(broker, "closing", None)
        if closing is not None:
            await closing


def topic() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def ids(blocks: list[bytes]) -> list[str]:
    return [match.decode() for block in blocks for match in ID.findall(block)]


async def take(subscriber: Subscriber, until: str, got: list[str]) -> list[str]:
    """Live ids from the subscriber's inbox, appended to `got`, until `until` arrives."""
    loop = asyncio.get_running_loop()
    for _ in range(100_000):
        if got and got[-1] == until:
            return got
        if not subscriber.pending:
            subscriber.wake = loop.create_future()
            await asyncio.wait_for(subscriber.wake, WAIT)
            subscriber.wake = None
        got.extend(ids(subscriber.pending))
        subscriber.pending.clear()
    raise AssertionError("the inbox never reached the last id")


@pytest.fixture
def redis(backend: str, request: pytest.FixtureRequest) -> RedisServer | None:
    return request.getfixturevalue("redis_server") if backend == "redis" else None


def test_publish_answers_increasing_ids_and_local_subscribers(
    backend: str, redis: RedisServer | None
) -> None:
    async def main() -> None:
        async with opened(backend, redis) as broker:
            name = topic()
            first = await broker.publish(name, None, "a")
            assert first.subscribers == 0
            joined = await broker.join(name, None, 0)
            second = await broker.publish(name, "note", "b")
            assert second.subscribers == 1
            assert second.id != first.id
            got = await take(joined.subscriber, second.id, [])
            assert got == [second.id]
            broker.leave(name, joined.subscriber)
            assert broker.subscribers == 0

    asyncio.run(main())


def test_resume_after_a_kept_id_gets_exactly_the_rest(
    backend: str, redis: RedisServer | None
) -> None:
    async def main() -> None:
        async with opened(backend, redis) as broker:
            name = topic()
            published = [(await broker.publish(name, None, str(n))).id for n in range(10)]
            joined = await broker.join(name, published[3], 0)
            assert joined.complete
            assert ids(joined.history) == published[4:]
            latest = await broker.join(name, published[-1], 0)
            assert latest.complete and latest.history == []
            broker.leave(name, joined.subscriber)
            broker.leave(name, latest.subscriber)

    asyncio.run(main())


def test_a_first_connection_asks_for_the_last_n_events(
    backend: str, redis: RedisServer | None
) -> None:
    async def main() -> None:
        async with opened(backend, redis) as broker:
            name = topic()
            published = [(await broker.publish(name, None, str(n))).id for n in range(5)]
            for recent, expected in [(0, []), (2, published[-2:]), (50, published)]:
                joined = await broker.join(name, None, recent)
                assert joined.complete
                assert ids(joined.history) == expected
                broker.leave(name, joined.subscriber)
            fresh = await broker.join(topic(), None, 10)
            assert fresh.history == [] and fresh.complete

    asyncio.run(main())


def test_a_resume_from_an_id_no_longer_kept_is_incomplete_and_gets_what_is_kept(
    backend: str, redis: RedisServer | None
) -> None:
    async def main() -> None:
        async with opened(backend, redis, history=100) as broker:
            name = topic()
            published = [(await broker.publish(name, None, str(n))).id for n in range(400)]
            old = await broker.join(name, published[0], 0)
            assert not old.complete
            kept = ids(old.history)
            assert 100 <= len(kept) < 400 and kept == published[-len(kept) :]
            for unknown in ["nonsense", "99999999999999-0", "x" * 300]:
                joined = await broker.join(name, unknown, 0)
                assert not joined.complete and ids(joined.history) == kept, unknown
                broker.leave(name, joined.subscriber)
            broker.leave(name, old.subscriber)

    asyncio.run(main())


def test_joins_under_concurrent_publishing_get_every_event_once_in_order(
    backend: str, redis: RedisServer | None
) -> None:
    """No gap and no duplicate at the seam between history and live (Mercure issue 178)."""
    total, joiners = 300, 12
    rng = random.Random(14)

    async def main() -> None:
        async with opened(backend, redis) as broker:
            name = topic()
            published: list[str] = []
            progressed = asyncio.Condition()

            async def publisher() -> None:
                for n in range(total):
                    published.append((await broker.publish(name, None, str(n))).id)
                    async with progressed:
                        progressed.notify_all()
                    await asyncio.sleep(0)

            async def joiner(at: int) -> None:
                async with progressed:
                    await asyncio.wait_for(progressed.wait_for(lambda: len(published) > at), WAIT)
                start = rng.randrange(0, len(published))
                joined = await broker.join(name, published[start], 0)
                assert joined.complete
                got = ids(joined.history)
                async with progressed:
                    await asyncio.wait_for(
                        progressed.wait_for(lambda: len(published) == total), WAIT
                    )
                await take(joined.subscriber, published[-1], got)
                broker.leave(name, joined.subscriber)
                assert got == published[start + 1 :], f"joined after {start}"

            points = sorted(rng.randrange(0, total - 1) for _ in range(joiners))
            await asyncio.gather(publisher(), *(joiner(at) for at in points))

    asyncio.run(main())


# ------------------------------------------------------------------ start-up checks, stdlib


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/0",
        "127.0.0.1:6379",
        "redis://",
        "redis://127.0.0.1:notaport/0",
        "redis://127.0.0.1:6379/zero",
    ],
)
def test_a_malformed_or_non_redis_broker_url_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError):
        check_url(url)


def test_a_broker_url_is_shown_without_its_password() -> None:
    assert shown_url("redis://user:s3cret@host:6379/0") == "redis://user:***@host:6379/0"
    assert shown_url("redis://host:6379/0") == "redis://host:6379/0"


def test_broker_without_the_redis_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(UsageError) as caught:
        check_broker("redis://127.0.0.1:6379/0")
    hint = caught.value.hint or ""
    # From the package index, and from a clone, where the first would fetch another copy.
    assert "pip install 'sse-cli[redis]'" in hint and "pip install -e '.[redis]'" in hint


def test_an_unreachable_broker_is_a_connection_error() -> None:
    from support.redis import free_port

    with pytest.raises(ConnectError) as caught:
        check_broker(f"redis://127.0.0.1:{free_port()}/0")
    assert "cannot reach the broker" in caught.value.message


def test_the_memory_broker_forgets_its_oldest_idle_topic_past_its_topic_bound() -> None:
    """Publishing to ever new topics cannot grow memory without bound."""

    async def main() -> None:
        broker = MemoryBroker(history=10, queue_size=10)
        broker.max_topics = 3
        held = await broker.join("held", None, 0)  # a topic with a subscriber stays
        for name in ["held", "a", "b", "c", "d"]:
            await broker.publish(name, None, "x")
        assert list(broker.topics) == ["held", "c", "d"]
        again = await broker.join("a", "1", 0)
        assert not again.complete, "a forgotten topic's ids are unknown"
        broker.leave("held", held.subscriber)

    asyncio.run(main())


def test_a_resume_on_a_process_whose_reader_is_behind_waits_for_it(
    redis_server: RedisServer,
) -> None:
    """A client resumes on process B with an id process A gave it, while B's reader of the
    topic has not yet read that far: B's join waits for its reader, so the client gets
    neither the history again nor, live, events it already has."""

    async def main() -> None:
        async with (
            opened("redis", redis_server) as a,
            opened("redis", redis_server) as b,
        ):
            assert isinstance(b, RedisBroker)
            name = topic()
            first = await b.join(name, None, 0)  # B's reader of the topic starts
            reader = b.readers[name]
            reader.task.cancel()  # ...and stops where it stands: B is behind from here
            await asyncio.gather(reader.task, return_exceptions=True)
            seen = [(await a.publish(name, None, str(n))).id for n in range(3)]
            reader.task = asyncio.ensure_future(reader.run())  # it reads on, but not yet
            b.tasks.add(reader.task)
            resumed = await b.join(name, seen[-1], 0)
            assert resumed.complete and resumed.history == []
            last = (await a.publish(name, None, "after")).id
            assert await take(resumed.subscriber, last, []) == [last]
            assert await take(first.subscriber, last, []) == [*seen, last]
            b.leave(name, first.subscriber)
            b.leave(name, resumed.subscriber)

    asyncio.run(main())
