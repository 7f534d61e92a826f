"""One simulated user: a real SSE client on `StreamProtocol`, counting into `Metrics`.

Each stream connects, feeds the body to the same `Decoder` as `listen`, and reconnects as
`listen` does (the server's `retry`, backoff on failures, `Retry-After` on 429 and 5xx,
`Last-Event-ID` on resume) unless reconnecting is off. Everything happens in the protocol's
callbacks; the stream's one task only waits between connections, so an idle stream costs a
task, a transport, a protocol and a decoder.

Timing per connection, from the start of the attempt: `connect` to the TCP connection (and
TLS handshake), `head` to the response head, `ttfe` to the first event; `gap` between two
events of the same connection.
"""

from __future__ import annotations

import asyncio
import operator
import ssl
import time
from typing import cast

from sse_cli.errors import EventTooLargeError
from sse_cli.loadtest.audit import ID_AT, Audit, ascending_ids
from sse_cli.loadtest.target import Target, connect_error_kind, connect_from, error_note
from sse_cli.loadtest.wire import HeadError, Response, StreamProtocol, build_request
from sse_cli.protocol.decoder import Decoder, Diagnostic, Event, Item
from sse_cli.protocol.reconnect import GiveUp, Reconnection
from sse_cli.protocol.response import Head, Outcome

#: An event's data, read by position: `map` with it runs in C.
_DATA = operator.itemgetter(Event._fields.index("data"))
PREVIEW = 200  # bytes of an error response's body kept as its note
#: A read is decoded and counted this many bytes at a time, and each piece's events are
#: dropped before the next: the events of a whole 256 KiB read, alive at once, no longer fit
#: the CPU's cache, and each new one is made in cold memory. On small events in 256 KiB
#: reads, 32 KiB pieces take the stream's work from 327 to 265 ns per event (bench/RESULTS.md).
PIECE = 32 * 1024


def _pieces(data: bytes) -> list[bytes]:
    return [data[start : start + PIECE] for start in range(0, len(data), PIECE)]


class Stream:
    """One stream's state across its connections: last event ID, retry, resume audit."""

    __slots__ = (
        "attempt_at",
        "audit",
        "counted",
        "decoder",
        "done",
        "ended",
        "events",
        "failure",
        "finished",
        "first",
        "last_at",
        "last_event_at",
        "marker_open",
        "marker_tail",
        "opened",
        "outcome",
        "preview",
        "protocol",
        "retry_after",
        "source",
        "started",
        "state",
        "target",
    )

    def __init__(self, target: Target, source: str | None = None) -> None:
        self.target = target
        self.source = source
        """The local address every connection of this stream is made from (--local-ips)."""
        self.state = Reconnection(target.options.policy, target.options.last_event_id)
        self.events = 0
        self.audit = Audit(target.metrics)
        self.started = time.perf_counter()
        self.finished = False  # the stream has all the events it wanted
        self.protocol: StreamProtocol | None = None
        self.decoder: Decoder | None = None
        self.done: asyncio.Future[bool] | None = None
        self.attempt_at = self.last_at = self.last_event_at = self.started
        self.opened = self.counted = self.ended = self.first = False
        self.outcome = ""
        self.retry_after: float | None = None
        self.preview = b""
        self.failure: str | None = None
        self.marker_open = False  # the latency marker may be in the event not yet complete
        self.marker_tail = b""  # the last bytes of the chunk before, for a marker cut in two

    async def run(self) -> None:
        """Connect, and reconnect as `listen` does, until done, refused for good, or cancelled."""
        state = self.state
        try:
            while True:
                retryable = await self._connect()
                if self.finished or not retryable:
                    return
                if self.opened:
                    decision = state.after_stream()
                else:
                    decision = state.after_failure(self.retry_after)
                if isinstance(decision, GiveUp):
                    return
                await asyncio.sleep(decision.delay)
                self.target.metrics.reconnects += 1
                self.audit.reconnecting()
        finally:
            if self.protocol is not None and not self.protocol.ended:
                self.protocol.abort()
                self._closed()

    def rate(self) -> float:
        """This stream's events per second since it started."""
        return self.events / max(time.perf_counter() - self.started, 1e-6)

    async def _connect(self) -> bool:
        """One connection; True when a reconnection may follow (never for a 4xx, say)."""
        target = self.target
        loop = asyncio.get_running_loop()
        done = self.done = loop.create_future()
        self.attempt_at = self.last_at = time.perf_counter()
        self.opened = self.ended = False
        self.outcome, self.retry_after, self.preview = "", None, b""
        self.failure = None
        self.decoder = None
        self.audit.connected()
        self.marker_open, self.marker_tail = False, b""
        self.first, self.counted = True, False
        headers = self.state.headers(target.headers)
        options = target.options
        # No local keeps the request: this frame lives as long as the connection.
        protocol = self.protocol = StreamProtocol(
            build_request(options.method, target.target, target.host_header, headers, options.body),
            self,
        )
        try:
            if self.source is None:
                await loop.create_connection(
                    lambda: protocol, target.host, target.port,
                    ssl=target.ssl, server_hostname=target.server_hostname,
                )  # fmt: skip
            else:
                sock = await connect_from(loop, self.source, target.host, target.port)
                await loop.create_connection(
                    lambda: protocol, sock=sock,
                    ssl=target.ssl, server_hostname=target.server_hostname,
                )  # fmt: skip
        except (OSError, ssl.SSLError) as exc:
            protocol.ended = True
            return self._connect_failed(exc)
        target.metrics.record("connect", (time.perf_counter() - self.attempt_at) * 1e6)
        retryable: bool = await done
        return retryable

    def _connect_failed(self, exc: BaseException) -> bool:
        kind = connect_error_kind(exc)
        metrics = self.target.metrics
        metrics.error(kind, str(exc))
        options = self.target.options
        if (
            kind == "refused"
            and metrics.connections == 0
            and set(metrics.errors) == {"refused"}
            and options.reconnect is not True
            and options.max_retries is None
        ):
            # As `listen`: nothing listens there (a server not started, a wrong port), far
            # more often than an outage, so the run ends now rather than after --duration.
            self.target.unreachable = True
            return False
        return kind not in ("tls-certificate",)

    def timed_out(self, now: float) -> None:
        """Called by the engine's sweep: drop a connection past its connect or idle timeout."""
        protocol = self.protocol
        if protocol is None or protocol.ended:
            return
        options = self.target.options
        if (
            not self.opened
            and options.connect_timeout
            and now - self.attempt_at > (options.connect_timeout)
        ):
            self.failure = "timeout"
        elif self.opened and options.idle_timeout and now - self.last_at > options.idle_timeout:
            self.failure = "idle-timeout"
        else:
            return
        protocol.abort()
        self.on_end(TimeoutError(self.failure))

    def on_head(self, response: Response) -> None:
        metrics = self.target.metrics
        metrics.record("head", (time.perf_counter() - self.attempt_at) * 1e6)
        headers = response.headers
        head = Head(response.status, response.reason, headers.get("content-type"),
                    headers.get("retry-after"))  # fmt: skip
        outcome = head.outcome
        if outcome is Outcome.OPEN:
            self.opened = self.counted = True
            self.state.opened()
            metrics.opened()
            state = self.state
            self.decoder = Decoder(state.last_event_id, self.target.options.max_event_size)
        elif outcome is Outcome.STOP:
            # As in listen: the server asked this stream to stop reconnecting. Not an error.
            self.outcome = "stop"
            metrics.stopped += 1
        else:
            self.failure = head.kind
            if outcome is Outcome.RETRY:
                self.retry_after = head.retry_delay()
                self.outcome = "retry"

    def on_body(self, data: bytes) -> None:
        decoder = self.decoder
        if decoder is None:
            if len(self.preview) < PREVIEW:
                self.preview += data[: PREVIEW - len(self.preview)]
            return
        self.target.metrics.bytes += len(data)
        now = self.last_at = time.perf_counter()
        pieces = (data,) if len(data) <= PIECE else _pieces(data)
        for piece in pieces:
            self._piece(decoder, piece, now)
            if self.failure or self.finished:
                assert self.protocol is not None
                self.protocol.abort()
                self.on_end(None)
                return

    def _piece(self, decoder: Decoder, data: bytes, now: float) -> None:
        """Decode, count and time a piece of what one read brought (all of it arrived `now`)."""
        try:
            items = decoder.feed(data)
        except EventTooLargeError as exc:
            items = exc.items
            self.failure = "event-too-large"
        marker = self.target.marker
        here = marker is not None and self._marker_in(marker, data)
        marked = here or self.marker_open
        events = self._events(items, marked)
        # What is not yet an event began after the last event: in this piece if one ended here.
        self.marker_open = here if events else marked
        if events:
            self._times(events, now)

    def _times(self, events: int, now: float) -> None:
        """Time the events one chunk completed. They arrived together: the first one's gap
        (or time to first event) is from the event before, and the others' gaps are 0, which
        the histogram takes in one call, not once per event."""
        metrics = self.target.metrics
        metrics.events += events
        if self.first:
            self.first = False
            metrics.record("ttfe", (now - self.attempt_at) * 1e6)
        else:
            metrics.record("gap", (now - self.last_event_at) * 1e6)
        if events > 1:
            metrics.hist["gap"].record_value(0, events - 1)
        self.last_event_at = now

    def _events(self, items: list[Item], marked: bool) -> int:
        """Count, audit and read the send time of a chunk's events, up to what the stream
        still wants; how many there were. It runs per chunk, and the per-event work is done
        in C-level calls where it can be: on a fast stream this is the hot path."""
        if not items:
            return 0
        target = self.target
        span = ascending_ids(items, Event, ID_AT)  # the usual chunk: events, ids going up
        events = cast("list[Event]", items) if span is not None else self._only_events(items)
        wanted = target.events_per_stream
        if wanted is not None and len(events) >= wanted - self.events:
            events = events[: wanted - self.events]
            self.finished = True
            span = None
        if not events:
            return 0
        self.events += len(events)
        if target.extract is not None:
            self._latency(events, marked)
        self.audit.events(events, span)
        return len(events)

    def _only_events(self, items: list[Item]) -> list[Event]:
        """The events among a chunk's items; the wire-format warnings are counted."""
        metrics = self.target.metrics
        for item in items:
            if type(item) is Diagnostic:
                metrics.error(f"wire:{item.code}", item.message)
        return [item for item in items if type(item) is Event]

    def _latency(self, events: list[Event], marked: bool) -> None:
        """Send-to-receive latency of the events that hold a send time. With the known
        field (serve's /clock), only when the chunk may hold its marker (`_marker_in`)."""
        target = self.target
        extract, marker = target.extract, target.marker
        assert extract is not None
        if marker is None:
            sent = [extract(data) for data in map(_DATA, events)]
        elif marked:
            sent = [extract(data) for data in map(_DATA, events) if marker in data]
        else:
            return
        now = time.time_ns()
        for value in sent:
            if value is not None:
                target.metrics.sent_at(value, now)

    def _marker_in(self, marker: str, chunk: bytes) -> bool:
        """Whether the marker is in this chunk's bytes, or cut between the last chunk's and
        these: one search in C per chunk instead of one per event. The events a chunk
        completes may hold it only if it is here or was since the last event (`marker_open`);
        a yes may be wrong, a no is not."""
        wanted = marker.encode()
        here = wanted in chunk or wanted in self.marker_tail + chunk[: len(wanted) - 1]
        self.marker_tail = chunk[1 - len(wanted) :] if len(wanted) > 1 else b""
        return here

    def on_end(self, error: BaseException | None) -> None:
        if self.ended:
            return
        self.ended = True
        metrics = self.target.metrics
        decoder = self.decoder
        if decoder is not None:
            cut = decoder.close()  # an event cut off by the stream's own stop is no fault
            for item in [] if self.finished else cut:
                metrics.error(f"wire:{item.code}", item.message)
            self.state.seen(decoder.last_event_id, decoder.retry, decoder.ids_seen)
        self._closed()
        retryable = self.outcome != "stop"
        if self.failure is not None:
            metrics.error(self.failure, error_note(self.preview))
            retryable = self.outcome == "retry" or self.failure.endswith("timeout")
        elif error is not None:
            kind = "malformed-http" if isinstance(error, HeadError) else "reset"
            metrics.error(kind, str(error))
        if self.done is not None and not self.done.done():
            self.done.set_result(retryable)

    def _closed(self) -> None:
        if self.counted:
            self.counted = False
            self.target.metrics.open -= 1
