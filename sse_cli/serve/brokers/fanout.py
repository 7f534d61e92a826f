"""Fan-out in this process: each topic's local subscribers and their inboxes of encoded events.

Both brokers deliver through it: the memory broker as it publishes, the Redis broker as its
one reader per topic receives entries. A publish queues the same bytes object for each
subscriber and wakes each writer once. Stdlib only.

A subscriber whose writer sleeps with an empty inbox, and whose connection has nothing left
unsent, is written to at once: the event goes to its transport, framed as one HTTP/1.1 chunk
built once per publish, and its writer is not woken (a task switch per subscriber was most of
a delivery's cost). Any other subscriber, one that is behind however little, gets the event
in its inbox: its writer sends in order and waits for the client, and what the inbox may
hold before the subscriber is dropped is the same as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator


def chunk(block: bytes) -> bytes:
    """`block` as one chunk of a chunked HTTP/1.1 body."""
    return b"%x\r\n%b\r\n" % (len(block), block)


class Subscriber:
    """One /subscribe stream's inbox: encoded events waiting to be written, and the future
    its writer sleeps on while there are none. `transport` is set by a writer whose response
    body goes out as chunks straight on it: then an event may be written without waking it."""

    __slots__ = ("dropped", "pending", "transport", "wake")

    def __init__(self) -> None:
        self.pending: list[bytes] = []
        self.wake: asyncio.Future[None] | None = None
        self.dropped = False
        self.transport: asyncio.WriteTransport | None = None

    def write_now(self, frame: bytes) -> bool:
        """Write the chunk `frame` if this subscriber is idle and its connection keeps up
        (the inbox empty, the writer asleep, nothing unsent); whether it did."""
        transport = self.transport
        wake = self.wake
        if (
            transport is None
            or wake is None
            or wake.done()
            or self.pending
            or transport.get_write_buffer_size()
            or transport.is_closing()
        ):
            return False
        transport.write(frame)
        return True

    def notify(self) -> None:
        wake = self.wake
        if wake is not None and not wake.done():
            wake.set_result(None)


class Fanout:
    """Topics and their local subscribers; a subscriber `queue_size` blocks behind is
    dropped."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self.topics: dict[str, set[Subscriber]] = {}
        self.written = 0  # events written straight to a transport, not through an inbox

    def subscribe(self, topic: str) -> Subscriber:
        subscriber = Subscriber()
        self.topics.setdefault(topic, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        subscribers = self.topics.get(topic)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self.topics[topic]

    def publish(self, topic: str, block: bytes) -> int:
        """Deliver encoded events to every subscriber of `topic`: written at once to the
        idle ones, queued for the others; how many it reached."""
        subscribers = self.topics.get(topic)
        if not subscribers:
            return 0
        frame = chunk(block)
        reached = written = 0
        queue_size = self.queue_size
        for subscriber in list(subscribers):
            if subscriber.write_now(frame):
                written += 1
                continue
            if len(subscriber.pending) >= queue_size:
                subscriber.dropped = True
                self.unsubscribe(topic, subscriber)
            else:
                subscriber.pending.append(block)
                reached += 1
            subscriber.notify()
        self.written += written
        return reached + written

    def has_subscribers(self, topic: str) -> bool:
        return topic in self.topics

    def count(self, topic: str) -> int:
        return len(self.topics.get(topic, ()))

    def everyone(self) -> Iterator[Subscriber]:
        """Every subscriber of every topic (for the heartbeat and shutdown)."""
        for subscribers in list(self.topics.values()):
            yield from subscribers

    @property
    def subscribers(self) -> int:
        return sum(len(s) for s in self.topics.values())
