"""An event stream read on a thread, as a test's subscriber: events and comments as they
arrive, a bounded wait for a condition on them, and a cut of the connection at any time."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from sse_cli.protocol.decoder import Comment, Decoder, Event
from support.cli import WAIT


class StreamReader:
    """GET `url` with `headers`; `events`, `comments`, `status` and `ended` fill in as the
    response is read. `read_delay` sleeps after each read (a slow client). Every reader
    opened is cut by `close_all()` (an autouse fixture of the tests that use it)."""

    opened: list[StreamReader] = []

    def __init__(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        read_delay: float = 0.0,
        read_size: int = 65536,
    ) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=WAIT * 4)
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.headers = headers or {}
        self.read_delay = read_delay
        self.read_size = read_size
        self.events: list[Event] = []
        self.comments: list[str] = []
        self.status = 0
        self.response_headers: dict[str, str] = {}
        self.ended = False
        self.error: Exception | None = None
        self.changed = threading.Condition()
        StreamReader.opened.append(self)
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self) -> None:
        decoder = Decoder()
        try:
            self.conn.request("GET", self.path, headers=self.headers)
            response = self.conn.getresponse()
            with self.changed:
                self.status = response.status
                self.response_headers = {k.lower(): v for k, v in response.getheaders()}
                self.changed.notify_all()
            while True:
                chunk = response.read1(self.read_size)
                if not chunk:
                    break
                items = decoder.feed(chunk)
                with self.changed:
                    for item in items:
                        if isinstance(item, Event):
                            self.events.append(item)
                        elif isinstance(item, Comment):
                            self.comments.append(item.text)
                    self.changed.notify_all()
                if self.read_delay:
                    time.sleep(self.read_delay)
        except Exception as exc:  # a cut mid-read surfaces as whatever http.client trips on
            self.error = exc
        finally:
            with self.changed:
                self.ended = True
                self.changed.notify_all()

    def wait(self, condition: Callable[[StreamReader], bool], timeout: float = WAIT) -> None:
        """Wait until `condition(self)` holds, or fail the test saying what was read."""
        with self.changed:
            if not self.changed.wait_for(lambda: condition(self), timeout):
                raise AssertionError(
                    f"not within {timeout} s: {len(self.events)} events, last "
                    f"{self.events[-1:]}, comments {self.comments[-2:]}, ended {self.ended}"
                )

    def wait_for_event(self, event: str, timeout: float = WAIT) -> Event:
        self.wait(lambda r: any(e.event == event for e in r.events), timeout)
        return next(e for e in self.events if e.event == event)

    def cut(self) -> None:
        """Close the connection from this side, as a client that leaves."""
        sock = self.conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conn.close()
        self.thread.join(WAIT)


def close_all() -> None:
    while StreamReader.opened:
        StreamReader.opened.pop().cut()
