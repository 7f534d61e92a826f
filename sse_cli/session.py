"""One `listen` session: the client's actions, through filters and stop conditions, to a renderer.

It holds no I/O of its own: the client reads the network, the renderer writes the output.
This is the seam later features plug into (a replay source instead of the client, a
counting sink instead of a renderer for load tests).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sse_cli.parser import Event, Item
from sse_cli.render import Renderer


@dataclass(frozen=True, slots=True)
class Limits:
    """Which events to keep and when to stop; all off by default."""

    event_types: frozenset[str] | None = None
    max_events: int | None = None
    until: str | None = None
    duration: float | None = None

    @property
    def active(self) -> bool:
        return not (self.event_types is None and self.max_events is None and self.until is None)


class _Filter:
    """Applies `Limits` to each chunk's items; `done` says why listening should stop."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.count = 0
        self.done: str | None = None

    def apply(self, items: Sequence[Item]) -> Sequence[Item]:
        limits = self.limits
        kept: list[Item] = []
        for item in items:
            if type(item) is not Event:
                kept.append(item)
                continue
            if limits.event_types is not None and item.event not in limits.event_types:
                continue
            kept.append(item)
            self.count += 1
            if limits.until is not None and item.data == limits.until:
                self.done = f"--until matched: {limits.until!r}"
                break
            if limits.max_events is not None and self.count >= limits.max_events:
                self.done = f"received {self.count} event{'s' if self.count != 1 else ''} (-n)"
                break
        return kept


async def run(
    source: AsyncIterator[object], limits: Limits, renderer: Renderer
) -> None:
    """Drive `source` (the client's `listen()`) into `renderer` until it ends or a limit hits.

    Errors from the source propagate; the renderer is closed in every case.
    """
    from sse_cli.client import Ended, Received

    filt = _Filter(limits) if limits.active else None

    async def consume() -> None:
        async with contextlib.aclosing(source) as actions:  # type: ignore[type-var]
            async for action in actions:
                if type(action) is Received:
                    items = action.items if filt is None else filt.apply(action.items)
                    renderer.received(action.raw, items)
                    if filt is not None and filt.done is not None:
                        renderer.messages.note(f"stopped: {filt.done}")
                        return
                elif type(action) is Ended:
                    renderer.messages.note(f"stopped: {action.reason}")
                    return
                else:
                    renderer.action(action)  # type: ignore[arg-type]

    try:
        if limits.duration is None:
            await consume()
        else:
            try:
                await asyncio.wait_for(consume(), limits.duration)
            except asyncio.TimeoutError:
                renderer.messages.note(f"stopped: --duration {limits.duration:g} s elapsed")
    finally:
        renderer.close()
