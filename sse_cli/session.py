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
from typing import TYPE_CHECKING

from sse_cli.protocol.decoder import Event, Item
from sse_cli.render import Renderer

if TYPE_CHECKING:
    from sse_cli.actions import Action
    from sse_cli.extract import Extractor


@dataclass(frozen=True, slots=True)
class Limits:
    """Which events to keep, how to rewrite them, and when to stop; all off by default."""

    event_types: frozenset[str] | None = None
    max_events: int | None = None
    until: str | None = None
    duration: float | None = None
    extractor: Extractor | None = None
    """`--extract` for json and data output: data becomes the extracted text."""

    @property
    def active(self) -> bool:
        return not (
            self.event_types is None
            and self.max_events is None
            and self.until is None
            and self.extractor is None
        )


class _Filter:
    """Applies `Limits` to each chunk's items; `done` says why listening should stop."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.count = 0
        self.done: str | None = None

    def apply(self, items: Sequence[Item]) -> list[Item]:
        limits = self.limits
        extract = limits.extractor
        kept: list[Item] = []
        for item in items:
            if type(item) is not Event:
                kept.append(item)
                continue
            if limits.event_types is not None and item.event not in limits.event_types:
                continue
            self.count += 1
            if limits.until is not None and item.data == limits.until:
                self.done = f"an event's data was {limits.until!r}"
            elif limits.max_events is not None and self.count >= limits.max_events:
                self.done = f"received {self.count} event{'s' if self.count != 1 else ''} (-n)"
            if extract is not None:
                text = extract(item)
                if text is not None:
                    kept.append(item._replace(data=text))
            else:
                kept.append(item)
            if self.done is not None:
                break
        return kept


async def run(source: AsyncIterator[Action], limits: Limits, renderer: Renderer) -> None:
    """Drive `source` (the client's `listen()`) into `renderer` until it ends or a limit hits.

    Errors from the source propagate; the renderer is closed in every case.
    """
    from sse_cli.actions import Ended, Received, Retrying

    filt = _Filter(limits) if limits.active else None
    stats = renderer.stats
    messages = renderer.messages

    async def consume() -> str | None:
        async with contextlib.aclosing(source) as actions:  # type: ignore[type-var]
            async for action in actions:
                if type(action) is Received:
                    stats.chunk(len(action.raw), action.items)
                    items = action.items if filt is None else filt.apply(action.items)
                    renderer.received(action.raw, items)
                    if filt is not None and filt.done is not None:
                        return filt.done
                elif type(action) is Ended:
                    return action.reason
                else:
                    if type(action) is Retrying:
                        stats.reconnects += 1
                    renderer.action(action)
        return None

    ticker = asyncio.ensure_future(renderer.tick())
    reason: str | None = None
    try:
        if limits.duration is None:
            reason = await consume()
        else:
            try:
                reason = await asyncio.wait_for(consume(), limits.duration)
            except asyncio.TimeoutError:
                reason = f"--duration {limits.duration:g} s elapsed"
    finally:
        ticker.cancel()
        renderer.close()  # first: text output ends its line before the note below
    if reason is not None:
        messages.note(f"stopped: {reason}")
