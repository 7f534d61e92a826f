"""Brokers: where /publish puts events and where /subscribe finds them, behind one interface.

`MemoryBroker` (brokers.memory) keeps each topic's ids and history in this process;
`RedisBroker` (brokers.redis, only with --broker) keeps them in Redis Streams, so any number
of `serve` processes share them. Both deliver through a local `Fanout`. This module is
stdlib only: redis is imported only when --broker names one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sse_cli.serve.brokers.fanout import Fanout, Subscriber
from sse_cli.serve.settings import ServeSettings

__all__ = ["Broker", "BrokerUnavailableError", "Joined", "Published", "make_broker"]


class BrokerUnavailableError(Exception):
    """The broker cannot be reached right now (/publish and /subscribe answer 503)."""


@dataclass(frozen=True)
class Published:
    id: str
    subscribers: int  # subscribers of the topic in this process


@dataclass(frozen=True)
class Joined:
    """A subscription: its inbox, which gets every event after `history`, and the history."""

    subscriber: Subscriber
    history: list[bytes]  # encoded events, oldest first, that came before the inbox's first
    complete: bool  # False: the id resumed from was older than the history, or unknown


class Broker(Protocol):
    """A topic's events get ids and a bounded history; a subscription resumes after an id.

    `join` subscribes to live events first and reads history up to exactly where live
    delivery starts, so nothing is lost or repeated at the seam between the two."""

    fanout: Fanout

    async def publish(self, topic: str, event: str | None, data: str) -> Published:
        """Give the event an id, keep it, deliver it; raises BrokerUnavailableError."""
        ...

    async def join(self, topic: str, after: str | None, recent: int) -> Joined:
        """Subscribe: with `after`, every kept event after that id; without, the last
        `recent` kept events. Raises BrokerUnavailableError."""
        ...

    def leave(self, topic: str, subscriber: Subscriber) -> None: ...

    def close(self) -> None:
        """Stop reading (the server is shutting down)."""
        ...

    @property
    def subscribers(self) -> int:
        """Subscribers in this process, of every topic."""
        ...

    @property
    def keeps_unsubscribed(self) -> bool:
        """Whether an event published to a topic nobody here subscribes to is still kept."""
        ...


def make_broker(settings: ServeSettings) -> Broker:
    """The broker `settings` ask for: in memory, or Redis with --broker."""
    if settings.broker:
        from sse_cli.serve.brokers.redis import RedisBroker

        return RedisBroker(settings.broker, settings.history, settings.queue_size)
    from sse_cli.serve.brokers.memory import MemoryBroker

    return MemoryBroker(settings.history, settings.queue_size)


def check_broker(url: str) -> None:
    """Before `serve` binds: UsageError (exit 2) for a URL that is not Redis's or without the
    redis extra; ConnectError (exit 3) for a broker that cannot be reached."""
    import asyncio

    from sse_cli.errors import UsageError
    from sse_cli.serve.brokers.urls import check_url

    check_url(url)
    try:
        import redis  # noqa: F401  (only to learn whether the extra is installed)
    except ImportError:
        raise UsageError(
            "--broker needs redis-py, which is not installed",
            "pip install 'sse-cli[redis]', or in a clone of the repository "
            "pip install -e '.[redis]'",
        ) from None
    from sse_cli.serve.brokers.redis import probe

    asyncio.run(probe(url))
