"""Fan-out in this process: each topic's local subscribers and their inboxes of encoded events.

Both brokers deliver through it: the memory broker as it publishes, the Redis broker as its
one reader per topic receives entries. A publish queues the same bytes object for each
subscriber and wakes each writer once. Stdlib only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator


class Subscriber:
    """One /subscribe stream's inbox: encoded events waiting to be written, and the future
    its writer sleeps on while there are none."""

    __slots__ = ("dropped", "pending", "wake")

    def __init__(self) -> None:
        self.pending: list[bytes] = []
        self.wake: asyncio.Future[None] | None = None
        self.dropped = False

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
        """Queue encoded events for every subscriber of `topic`; how many it reached."""
        reached = 0
        for subscriber in list(self.topics.get(topic, ())):
            if len(subscriber.pending) >= self.queue_size:
                subscriber.dropped = True
                self.unsubscribe(topic, subscriber)
            else:
                subscriber.pending.append(block)
                reached += 1
            subscriber.notify()
        return reached

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
