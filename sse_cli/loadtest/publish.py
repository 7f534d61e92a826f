"""`--publish URL --publish-rate R`: POSTs at a fixed rate, each carrying when it was due.

Send n is due at start + n / R. Its body is `{"seq": n, "t_ns": DUE}` with DUE the wall-clock
time it was due, and its response time is measured from DUE too, not from when the loop got
round to sending it: a publisher that falls behind shows as latency, not as a lower rate
that hides it ("coordinated omission", as wrk2 and HdrHistogram measure). Streams that get
the body back as event data (`sse-cli serve`'s /publish and /subscribe) read `t_ns` and so
report the fan-out latency from due time to receipt.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qs, urlencode

from sse_cli.loadtest.metrics import Metrics
from sse_cli.loadtest.target import connect_error_kind, endpoint, resolve
from sse_cli.loadtest.wire import HeadError, Response, StreamProtocol, build_request

#: Sends still waiting for their response past this many count as errors, not as more load.
MAX_IN_FLIGHT = 1000


class _Answer:
    """The response to one publish: its status; `done` when it has ended."""

    def __init__(self, done: asyncio.Future[BaseException | None]) -> None:
        self.done = done
        self.status: list[int] = []

    def on_head(self, response: Response) -> None:
        self.status.append(response.status)

    def on_body(self, data: bytes) -> None:
        pass

    def on_end(self, error: BaseException | None) -> None:
        if not self.done.done():
            self.done.set_result(error)


class Publisher:
    def __init__(self, url: str, rate: float, metrics: Metrics) -> None:
        self.where = endpoint(url)
        self.address = resolve(self.where.hostname, self.where.port)
        self.rate = rate
        self.metrics = metrics
        self.in_flight: set[asyncio.Task[None]] = set()
        self.hub_topic = mercure_topic(self.where.target)

    async def run(self, until: float | None) -> None:
        """Publish until cancelled, or until the monotonic time `until`."""
        start_mono = time.monotonic()
        start_wall = time.time_ns()
        n = 0
        try:
            while True:
                due = start_mono + n / self.rate
                if until is not None and due >= until:
                    return
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                due_ns = start_wall + int(n * 1e9 / self.rate)
                if len(self.in_flight) >= MAX_IN_FLIGHT:
                    self.metrics.publish_errors["backlog"] += 1
                else:
                    task = asyncio.create_task(self._send(n, due, due_ns))
                    self.in_flight.add(task)
                    task.add_done_callback(self.in_flight.discard)
                n += 1
        finally:
            for task in list(self.in_flight):
                task.cancel()

    async def _send(self, n: int, due: float, due_ns: int) -> None:
        body = b'{"seq": %d, "t_ns": %d}' % (n, due_ns)
        kind = "application/json"
        if self.hub_topic is not None:  # a Mercure hub: the same JSON as a form's data field
            kind = "application/x-www-form-urlencoded"
            body = urlencode({"topic": self.hub_topic, "data": body.decode()}).encode()
        headers = [
            ("Content-Type", kind),
            ("Connection", "close"),
            ("User-Agent", "sse-cli bench"),
        ]
        request = build_request("POST", self.where.target, self.where.host_header, headers, body)
        loop = asyncio.get_running_loop()
        answer = _Answer(loop.create_future())
        status = answer.status
        done = answer.done
        protocol = StreamProtocol(request, answer)
        self.metrics.publishes += 1
        try:
            await loop.create_connection(
                lambda: protocol,
                self.address,
                self.where.port,
                ssl=True if self.where.secure else None,
                server_hostname=self.where.hostname if self.where.secure else None,
            )
            error = await done
        except OSError as exc:
            self.metrics.publish_errors[connect_error_kind(exc)] += 1
            return
        finally:
            if not protocol.ended:
                protocol.abort()
        if error is not None and not status:
            kind = "malformed-http" if isinstance(error, HeadError) else "reset"
            self.metrics.publish_errors[kind] += 1
        elif not status or not 200 <= status[0] < 300:
            self.metrics.publish_errors[f"http-{status[0]}"] += 1
        else:
            self.metrics.record("publish", (time.monotonic() - due) * 1e6)


def mercure_topic(target: str) -> str | None:
    """For a Mercure hub's URL (`/.well-known/mercure?topic=T`, a token in its `authorization`
    parameter): the topic to publish on, `urn:sse-cli:bench` unless given; else None."""
    path, _, query = target.partition("?")
    if path.split("/")[-2:] != [".well-known", "mercure"]:  # the hub's well-known path
        return None
    return parse_qs(query).get("topic", ["urn:sse-cli:bench"])[0]
