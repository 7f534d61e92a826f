"""`serve --replay`: recorded streams served again, with their timing, resume and faults.

Each tape (`sse_cli.serve.tapes`) is served at its recorded method and path, ahead of the
route table's routes, with its recorded status and headers. Several tapes on one method and
path are served in turn (round-robin); a request with a `Last-Event-ID` goes to the tape
that holds that id. `replay()` is the source: it yields the tape's wire bytes, each write at
its recorded time scaled by the speed; items due together go in one write.

Per request: `?speed=X`, `?reconnects=1` (end the response where the recorded stream
dropped), `?drop_after=K`, `?stall_after=K`, `?status=CODE`. It never imports
`sse_cli.client`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from sse_cli.serve.streams import BATCH_BYTES, ApiError, error_response, shared, stream
from sse_cli.serve.tapes import Tape

__all__ = ["banner_lines", "install", "replay", "stream_paths"]

#: The reconnection time sent before a `?drop_after` stream when the recording sets none,
#: as /counter does, so clients rehearse reconnecting without waiting 3 s each time.
DROP_RETRY = b"retry: 250\n\n"
MAX_SPEED = 1e6
#: How long before an event is due its wait stops sleeping and yields to the loop instead.
SPIN = 0.002


async def replay(
    tape: Tape,
    start: int = 0,
    speed: float = 1.0,
    delay: float = 0.0,
    drop_after: int | None = None,
    stall_after: int | None = None,
    reconnects: bool = False,
) -> AsyncIterator[bytes]:
    """The tape's wire from step `start`, paced: each write at its recorded offset from the
    step before `start`, divided by `speed` (0: no waiting). A raw `.sse` tape is paced by
    `delay` seconds an event instead."""
    steps = tape.steps
    end = _segment_end(tape, start) if reconnects else len(steps)
    scale = 0.0 if speed == 0 else (delay * 1e6 if tape.paced else 1.0) / speed / 1e6
    base = steps[start - 1].due_us if start > 0 else 0
    t0 = time.perf_counter()
    limit = min(n for n in (drop_after, stall_after, len(steps)) if n is not None)
    events = 0
    index = start
    if stall_after == 0:
        await asyncio.Event().wait()
    while index < end:
        due = steps[index].due_us
        batch: list[bytes] = []
        size = 0
        while index < end and (scale == 0 or steps[index].due_us == due):
            step = steps[index]
            batch.append(step.wire)
            size += len(step.wire)
            index += 1
            events += step.event
            if (step.event and events >= limit) or size >= BATCH_BYTES:
                break
        if scale:
            await _until(t0 + (due - base) * scale)
        yield b"".join(batch)
        if stall_after is not None and events >= stall_after:
            await asyncio.Event().wait()  # silent, open, until the client leaves
        if drop_after is not None and events >= drop_after:
            return


async def _until(moment: float) -> None:
    """Wait until `moment` (a `perf_counter` time) to within about 0.1 ms: a timer sleeps to
    just before it (event-loop timers round to whole milliseconds, and uvloop's clock ticks
    in them), then the wait yields to the loop until the moment comes."""
    ahead = moment - time.perf_counter() - SPIN
    if ahead > 0:
        await asyncio.sleep(ahead)
    while time.perf_counter() < moment:  # noqa: ASYNC110 - a deliberate, bounded spin
        await asyncio.sleep(0)


def _segment_end(tape: Tape, start: int) -> int:
    """Where the recorded response holding `start` ended (past one that sent no event)."""
    for cut in tape.breaks:
        if cut > start and any(s.event for s in tape.steps[start:cut]):
            return cut
    return len(tape.steps)


class _Rotation:
    """The tapes on one method and path, served in turn."""

    def __init__(self, tapes: list[Tape]) -> None:
        self.tapes = tapes
        self.turn = 0

    def pick(self, last_id: str | None) -> tuple[Tape, int]:
        count = len(self.tapes)
        first = self.turn % count
        self.turn += 1
        if last_id is None:
            return self.tapes[first], 0
        for offset in range(count):
            tape = self.tapes[(first + offset) % count]
            index = tape.resume_index(last_id)
            if index is not None:
                return tape, index
        tape = self.tapes[first]
        sys.stderr.write(
            f"sse-cli: replay: Last-Event-ID {last_id[:80]!r} is not in {tape.source}; "
            "replaying it from the beginning\n"
        )
        return tape, 0


def _number(request: Request, name: str, low: float, high: float, whole: bool) -> Any:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise ApiError(400, f"?{name} must be {kind} from {low:g} to {high:g}, not {raw!r}")
    return value


def _endpoint(rotation: _Rotation) -> Any:
    async def replayed(request: Request) -> Response:
        speed = _number(request, "speed", 0, MAX_SPEED, whole=False)
        drop_after = _number(request, "drop_after", 1, 1e9, whole=True)
        stall_after = _number(request, "stall_after", 0, 1e9, whole=True)
        status = _number(request, "status", 200, 599, whole=True)
        reconnects = _number(request, "reconnects", 0, 1, whole=True)
        state = shared(request)
        if status is not None:
            return error_response(status, f"?status={status}: the replay answers {status}")
        tape, start = rotation.pick(request.headers.get("last-event-id"))
        if tape.finished(start) and tape.ending is not None:
            # A resume past the last event: what the live server answered then (a 204 ends
            # the client's reconnecting, as it did live).
            return Response(status_code=tape.ending[0], headers=dict(tape.ending[1]))
        source = replay(
            tape,
            start,
            state.settings.speed if speed is None else speed,
            state.settings.delay,
            drop_after,
            stall_after,
            bool(reconnects),
        )
        if drop_after is not None and not tape.has_retry:
            source = _prefixed(DROP_RETRY, source)
        if start == 0 and request.headers.get("last-event-id"):
            source = _prefixed(b"id\n\n", source)  # restarting: the client's id is reset
        return stream(
            request, source, status=tape.status, headers=dict(tape.headers), heartbeat=False
        )

    return replayed


async def _prefixed(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


def _grouped(tapes: Sequence[Tape]) -> dict[tuple[str, str], list[Tape]]:
    groups: dict[tuple[str, str], list[Tape]] = {}
    for tape in tapes:
        groups.setdefault((tape.method, tape.path), []).append(tape)
    return groups


def install(app: FastAPI, tapes: Sequence[Tape]) -> None:
    """Add a route for each recorded method and path; call before the route table's, so a
    replay wins over a built-in endpoint on the same method and path."""
    for (method, path), group in _grouped(tapes).items():
        app.add_api_route(
            path.replace("{", "%7B").replace("}", "%7D"),
            _endpoint(_Rotation(group)),
            methods=[method],
            response_model=None,
            include_in_schema=False,
        )


def stream_paths(tapes: Sequence[Tape]) -> frozenset[str]:
    """The replayed paths: streams, which count against --max-streams."""
    return frozenset(tape.path for tape in tapes)


def banner_lines(tapes: Sequence[Tape], builtin: set[tuple[str, str]]) -> list[str]:
    """What the banner says of each replayed route, and which built-in route it hides."""
    lines = []
    for (method, path), group in _grouped(tapes).items():
        sources = ", ".join(tape.source for tape in group)
        turn = f" (round-robin of {len(group)})" if len(group) > 1 else ""
        over = " - replaces the built-in endpoint" if (method, path) in builtin else ""
        lines.append(f"  {method:<4} {path:<21} replays {sources}{turn}{over}")
    return lines
