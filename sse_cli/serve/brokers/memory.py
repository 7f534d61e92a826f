"""The broker in this process's memory: per topic, a counter for ids ("1", "2", ...) and a
deque of the last --history encoded events. Stdlib only.

Publishing and joining never await, so a join takes its history and enters the fan-out in
one step of the event loop: no event can fall between the two or arrive in both.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

from sse_cli.encode import encode_event
from sse_cli.serve.brokers import Joined, Published
from sse_cli.serve.brokers.fanout import Fanout, Subscriber

MAX_TOPICS = 10_000  # topics whose ids and history are kept; then the oldest idle one goes


class Topic:
    __slots__ = ("kept", "last")

    def __init__(self, history: int) -> None:
        self.last = 0  # the id of the latest event; ids are 1, 2, 3 ...
        self.kept: deque[bytes] = deque(maxlen=history)  # events last-len(kept)+1 .. last


class MemoryBroker:
    def __init__(self, history: int, queue_size: int) -> None:
        self.history = history
        self.fanout = Fanout(queue_size)
        self.topics: dict[str, Topic] = {}  # oldest first
        self.max_topics = MAX_TOPICS

    @property
    def keeps_unsubscribed(self) -> bool:
        return self.history > 0

    async def publish(self, topic: str, event: str | None, data: str) -> Published:
        return self.publish_now(topic, event, data)

    def publish_now(self, topic: str, event: str | None, data: str) -> Published:
        state = self.topics.get(topic)
        if state is None:
            if len(self.topics) >= self.max_topics:
                self.forget_a_topic()
            state = self.topics[topic] = Topic(self.history)
        state.last += 1
        name = str(state.last)
        block = encode_event(data, event=event, id=name)
        if self.history:
            state.kept.append(block)
        return Published(name, self.fanout.publish(topic, block))

    def forget_a_topic(self) -> None:
        """Make room: forget the oldest topic that nobody here subscribes to (its history
        and ids; a resume from them is then incomplete). Topics with subscribers stay."""
        for name in list(self.topics)[: self.max_topics]:
            if not self.fanout.has_subscribers(name):
                del self.topics[name]
                return

    async def join(self, topic: str, after: str | None, recent: int) -> Joined:
        return self.join_now(topic, after, recent)

    def join_now(self, topic: str, after: str | None, recent: int) -> Joined:
        subscriber = self.fanout.subscribe(topic)
        state = self.topics.get(topic)
        if state is None:
            return Joined(subscriber, [], after is None)
        first = state.last - len(state.kept) + 1  # the id of the oldest kept event
        if after is None:
            count = min(recent, len(state.kept))
        elif (
            after.isascii()
            and after.isdigit()
            and len(after) < 20
            and first - 1 <= int(after) <= state.last
        ):
            count = state.last - int(after)
        else:  # older than the history, or never given here: all that is kept
            return Joined(subscriber, list(state.kept), False)
        start = len(state.kept) - count
        return Joined(subscriber, list(islice(state.kept, start, None)), True)

    def leave(self, topic: str, subscriber: Subscriber) -> None:
        self.fanout.unsubscribe(topic, subscriber)

    @property
    def subscribers(self) -> int:
        return self.fanout.subscribers

    def close(self) -> None:
        pass
