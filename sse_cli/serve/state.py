"""One app's state, reached from a handler as `shared(request)`: its settings, its activity
counters, and the hub of its /subscribe streams (the broker and one heartbeat for all).

No two apps share any state. This module imports no endpoint module.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sse_cli.serve.brokers import Broker
from sse_cli.serve.brokers.fanout import chunk
from sse_cli.serve.settings import ServeSettings

if TYPE_CHECKING:
    from starlette.requests import Request

PING = b": ping\n\n"
PING_CHUNK = chunk(PING)


@dataclass
class Activity:
    """What the server is doing, for `/stats` and the leak tests."""

    generators: int = 0  # stream generators running now
    streams_started: int = 0
    events_sent: int = 0
    abandoned: int = 0  # requests whose client left before its body was complete

    def generator(self) -> Activity:
        """`with activity.generator():` counts a stream while it runs. The activity is its
        own context manager: a generator-based one would cost each idle stream about 400
        bytes."""
        return self

    def __enter__(self) -> None:
        self.generators += 1
        self.streams_started += 1

    def __exit__(self, *exc: object) -> None:
        self.generators -= 1


@dataclass
class Shared:
    """One app's state, reached from a handler as `shared(request)`: no two apps share any."""

    settings: ServeSettings
    activity: Activity
    hub: Hub  # the broker and the /subscribe streams


def shared(request: Request) -> Shared:
    state: Shared = request.app.state.shared
    return state


class Hub:
    """One app's /subscribe state: its broker, the heartbeat task and whether it is closing."""

    def __init__(self, broker: Broker, activity: Activity, ping: float | None) -> None:
        self.broker = broker
        self.activity = activity
        self.ping = ping
        self.closing = False
        self.heartbeat: asyncio.Task[None] | None = None

    def start_heartbeat(self) -> None:
        if self.ping and self.heartbeat is None:
            self.heartbeat = asyncio.ensure_future(self._beat(self.ping))

    def close(self) -> None:
        """End every stream (the server is shutting down)."""
        self.closing = True
        for subscriber in self.broker.fanout.everyone():
            subscriber.notify()
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        self.broker.close()

    async def _beat(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            for subscriber in self.broker.fanout.everyone():
                if not subscriber.pending and not subscriber.write_now(PING_CHUNK):
                    subscriber.pending.append(PING)
                    subscriber.notify()
