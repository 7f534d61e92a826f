"""The Redis broker (`serve --broker redis://HOST:PORT/DB`): each topic is a Redis Stream.

A publish is one XADD trimmed to about --history entries; the entry id is the event's id, so
a client can resume on any process sharing the Redis. Each process reads a topic through one
connection (a `Reader` blocked in XREAD from the last id it delivered) and fans out locally;
other commands share a small fixed pool. Imported only when --broker is given: it is the one
module that imports redis (redis-py's asyncio client, the `redis` extra).

When Redis goes away, /publish and new subscriptions answer 503, open streams stay open (the
heartbeat goes on), one line says the broker is lost and one says it is back; each reader then
goes on from its last id, so nothing Redis kept is lost and nothing is repeated.
"""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from sse_cli.encode import encode_event
from sse_cli.errors import ConnectError
from sse_cli.serve.brokers import BrokerUnavailableError, Joined, Published
from sse_cli.serve.brokers.fanout import Fanout, Subscriber
from sse_cli.serve.brokers.urls import shown_url

PREFIX = "sse-cli:topic:"
LIVE_FLOOR = 100  # entries a stream keeps at least, so a reader that lags a little misses none
BLOCK_MS = 5000  # one XREAD waits this long before it asks again
READ_COUNT = 1000  # entries one XREAD returns at most
POOL_SIZE = 8  # connections for publishing and history, per process
CONNECT_TIMEOUT = 3.0
COMMAND_TIMEOUT = 10.0
RETRY_SECONDS = 0.5  # between attempts to reach a lost broker
STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")
CATCH_UP_SECONDS = 1.0  # how long a resume waits for this process's reader to reach its id
FAILURES = (RedisError, OSError)
KEEPALIVE = {  # a broker that vanishes without a reset is noticed within about 20 s
    getattr(socket, name): value
    for name, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 2))
    if hasattr(socket, name)  # Linux; elsewhere, the system's keepalive times
}


def say(line: str) -> None:
    sys.stderr.write(f"sse-cli: {line}\n")
    sys.stderr.flush()


def client_options(url: str) -> dict[str, Any]:
    return {
        "decode_responses": True,
        "retry": Retry(NoBackoff(), 0),  # a lost broker answers 503 at once; readers retry
        "socket_connect_timeout": CONNECT_TIMEOUT,
    }


async def probe(url: str) -> None:
    """Reach the broker once, before `serve` binds; ConnectError (exit 3) if it cannot."""
    client = aioredis.Redis.from_url(url, socket_timeout=CONNECT_TIMEOUT, **client_options(url))
    try:
        await client.ping()
    except FAILURES as exc:
        raise ConnectError(
            f"cannot reach the broker at {shown_url(url)}: {exc}",
            "start Redis, or check the --broker URL",
        ) from None
    finally:
        await client.aclose()


class Health:
    """Whether the broker answered last time: one line when it is lost, one when it is back."""

    def __init__(self, url: str) -> None:
        self.shown = shown_url(url)
        self.up = True

    def lost(self, exc: BaseException) -> None:
        if self.up:
            self.up = False
            say(f"broker lost: {self.shown} ({exc}); /publish answers 503 until it is back")

    def back(self) -> None:
        if not self.up:
            self.up = True
            say(f"broker back: {self.shown}")


def encode_entry(entry_id: str, fields: dict[str, str]) -> bytes:
    return encode_event(fields.get("data", ""), event=fields.get("event"), id=entry_id)


def entries_of(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """The entries of an XREAD reply for one stream (RESP2: [[key, entries]]; RESP3: a dict)."""
    if isinstance(reply, dict):
        return [entry for entries in reply.values() for entry in entries[0]]
    return [entry for _key, entries in reply or () for entry in entries]


class Reader:
    """One topic's live events in this process: one connection, blocked in XREAD from the id
    it delivered last; each entry is encoded once and fanned out to the local subscribers."""

    def __init__(self, broker: RedisBroker, topic: str) -> None:
        self.broker = broker
        self.topic = topic
        self.users = 0  # joins under way and subscribers; at 0 the reader stops
        self.last_id: str | None = None  # where live delivery stands; None: not known yet
        self.ready = asyncio.Event()  # set once last_id is known, or the first try failed
        self.advanced = asyncio.Event()  # set (and replaced) each time last_id moves on
        self.task: asyncio.Task[None] = asyncio.ensure_future(self.run())

    async def run(self) -> None:
        client = aioredis.Redis.from_url(
            self.broker.url,
            max_connections=1,  # one connection per topic and process
            # No socket timeout: redis-py 8 cannot cancel a read under one (a stopping
            # reader would hang). Keepalive finds a silently dead broker instead.
            socket_timeout=None,
            socket_keepalive=True,
            socket_keepalive_options=KEEPALIVE,
            **client_options(self.broker.url),
        )
        try:
            while True:
                try:
                    await self.read(client)
                except FAILURES as exc:
                    self.broker.health.lost(exc)
                    self.ready.set()
                    await asyncio.sleep(RETRY_SECONDS)
        finally:
            await client.aclose()

    async def read(self, client: Any) -> None:  # redis-py's reply types are too loose

        key = PREFIX + self.topic
        if self.last_id is None:
            newest = await client.xrevrange(key, count=1)
            self.last_id = newest[0][0] if newest else "0-0"
            self.broker.health.back()
            self.ready.set()
        fanout = self.broker.fanout
        while True:
            reply = await client.xread({key: self.last_id}, count=READ_COUNT, block=BLOCK_MS)
            self.broker.health.back()
            for entry_id, fields in entries_of(reply):
                self.last_id = entry_id  # with the fan-out below, in one step: see `join`
                fanout.publish(self.topic, encode_entry(entry_id, fields))
            self.advanced.set()
            self.advanced = asyncio.Event()

    async def catch_up(self, after: str) -> None:
        """Wait, bounded, until live delivery here stands at `after` or beyond.

        A client may resume here with an id another process gave it while this process's
        reader is still behind it: joining then would send it, live, events it has. An id
        this reader never reaches (one Redis never gave) waits CATCH_UP_SECONDS, then the
        resume goes on as one from an unknown id."""
        target = stream_position(after)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CATCH_UP_SECONDS
        while target is not None and self.last_id is not None:
            position = stream_position(self.last_id)
            remaining = deadline - loop.time()
            if position is None or position >= target or remaining <= 0:
                return
            advanced = self.advanced
            try:
                await asyncio.wait_for(advanced.wait(), remaining)
            except asyncio.TimeoutError:
                return


def stream_position(entry_id: str) -> tuple[int, int] | None:
    """A Redis Stream entry id as numbers, to compare ("10-2" comes after "9-7")."""
    if not STREAM_ID.fullmatch(entry_id):
        return None
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq)


class RedisBroker:
    def __init__(self, url: str, history: int, queue_size: int) -> None:
        self.url = url
        self.maxlen = max(history, LIVE_FLOOR)
        self.fanout = Fanout(queue_size)
        self.health = Health(url)
        self.readers: dict[str, Reader] = {}
        self.tasks: set[asyncio.Task[None]] = set()  # readers, stopping ones too
        self._client: aioredis.Redis | None = None
        self.closing: asyncio.Future[None] | None = None

    @property
    def keeps_unsubscribed(self) -> bool:
        return True  # the stream keeps it, and other processes may have subscribers

    @property
    def client(self) -> Any:  # redis-py's reply types are too loose to use
        """The shared pool (made on first use, inside the server's event loop)."""
        if self._client is None:
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url,
                max_connections=POOL_SIZE,
                timeout=COMMAND_TIMEOUT,
                socket_timeout=COMMAND_TIMEOUT,
                **client_options(self.url),
            )
            self._client = aioredis.Redis.from_pool(pool)  # closing it closes the pool
        return self._client

    async def publish(self, topic: str, event: str | None, data: str) -> Published:
        fields = {"data": data} if event is None else {"event": event, "data": data}
        try:
            entry_id = await self.client.xadd(
                PREFIX + topic, fields, maxlen=self.maxlen, approximate=True
            )
        except FAILURES as exc:
            self.health.lost(exc)
            raise BrokerUnavailableError(f"the broker is unreachable: {exc}") from None
        self.health.back()
        return Published(str(entry_id), self.fanout.count(topic))

    async def join(self, topic: str, after: str | None, recent: int) -> Joined:
        """Enter the fan-out and note where the topic's reader stands (one step: the reader
        moves its position and fans out in one step too), then read history up to exactly
        that id. Live delivery starts after it, so the seam has no gap and no overlap."""
        reader = self.readers.get(topic)
        if reader is None:
            reader = self.readers[topic] = Reader(self, topic)
            self.tasks.add(reader.task)
            reader.task.add_done_callback(self.tasks.discard)
        reader.users += 1
        try:
            await reader.ready.wait()
            if reader.last_id is None:
                raise BrokerUnavailableError("the broker is unreachable")
            if after is not None:
                await reader.catch_up(after)
            subscriber = self.fanout.subscribe(topic)
            seam = reader.last_id
            try:
                history, complete = await self.history(topic, seam, after, recent)
            except FAILURES as exc:
                self.fanout.unsubscribe(topic, subscriber)
                self.health.lost(exc)
                raise BrokerUnavailableError(f"the broker is unreachable: {exc}") from None
        except BaseException:
            self.release(topic)
            raise
        return Joined(subscriber, history, complete)

    async def history(
        self, topic: str, seam: str, after: str | None, recent: int
    ) -> tuple[list[bytes], bool]:
        """The kept events up to `seam`: after `after`, or the last `recent`; and whether
        `after` was still kept (so nothing between it and the history is missing)."""
        key = PREFIX + topic
        if after is None:
            newest = await self.client.xrevrange(key, max=seam, count=recent) if recent else []
            return [encode_entry(i, f) for i, f in reversed(newest)], True
        complete = False
        if STREAM_ID.fullmatch(after):
            entries = await self.client.xrange(key, min=after, max=seam)
            if entries and entries[0][0] == after:
                entries, complete = entries[1:], True
            elif after == seam:
                complete = True
        if not complete:
            entries = await self.client.xrange(key, max=seam)
        return [encode_entry(i, f) for i, f in entries], complete

    def leave(self, topic: str, subscriber: Subscriber) -> None:
        self.fanout.unsubscribe(topic, subscriber)
        self.release(topic)

    def release(self, topic: str) -> None:
        reader = self.readers.get(topic)
        if reader is not None:
            reader.users -= 1
            if reader.users <= 0:
                del self.readers[topic]
                reader.task.cancel()

    @property
    def subscribers(self) -> int:
        return self.fanout.subscribers

    def close(self) -> None:
        for reader in list(self.readers.values()):
            reader.task.cancel()
        self.readers.clear()
        if self._client is not None and self.closing is None:
            self.closing = asyncio.ensure_future(self._client.aclose())
