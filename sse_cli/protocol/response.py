"""What a response head means for an SSE client, whichever transport read it.

A browser's `EventSource` announces a connection only for 200 with `Content-Type:
text/event-stream`; 204 tells it to stop reconnecting; anything else "fails the connection".
Beside that, sse-cli retries 429 and 5xx (honouring `Retry-After`) when reconnecting is on,
as curl's `--retry` does. `Head.outcome` says which, and `Head.error` words the failure as
every command prints it, with its exit status. Pure: no I/O, standard library only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum
from http import HTTPStatus

from sse_cli.errors import HttpStatusError, NotEventStreamError, SseCliError

__all__ = ["Head", "Outcome", "is_event_stream", "preview_text", "retry_after"]

#: How many bytes of a failed response's body its error shows.
PREVIEW_BYTES = 200


class Outcome(Enum):
    OPEN = "open"
    """200 and text/event-stream: read the body as events."""
    STOP = "stop"
    """204 No Content: the server asks the client to stop reconnecting; a normal end."""
    RETRY = "retry"
    """429 or 5xx: failed, and reconnecting may retry it (after `Retry-After`)."""
    FAIL = "fail"
    """Anything else: the connection fails for good, and the body is never read as events."""


def is_event_stream(content_type: str | None) -> bool:
    """Whether a Content-Type names `text/event-stream` (any parameters, any case)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "text/event-stream"


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` in seconds: a count of seconds, or an HTTP date (None if neither)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def preview_text(head: bytes, limit: int = PREVIEW_BYTES) -> str:
    """The first bytes of a failed response's body, for its error: ": text …", or ""."""
    text = " ".join(head[:limit].decode("utf-8", "replace").split())
    if not text:
        return ""
    return ": " + (text if len(head) < limit else text + " …")


@dataclass(frozen=True, slots=True)
class Head:
    """A response head as a transport read it: what a client decides from before the body."""

    status: int
    reason: str = ""
    content_type: str | None = None
    retry_after: str | None = None
    """The `Retry-After` header's value as sent, if any."""
    url: str = ""
    """The URL that answered, as messages show it (secrets masked)."""

    @property
    def outcome(self) -> Outcome:
        status = self.status
        if status == 204:
            return Outcome.STOP
        if status == 200:
            return Outcome.OPEN if is_event_stream(self.content_type) else Outcome.FAIL
        if status >= 500 or status == 429:
            return Outcome.RETRY
        return Outcome.FAIL

    @property
    def kind(self) -> str:
        """A stable name for a failure, as `bench` counts errors: `http-404`, `not-event-stream`."""
        if 200 <= self.status < 300:
            return "not-event-stream"
        return f"http-{self.status}"

    def retry_delay(self, now: float | None = None) -> float | None:
        """The wait `Retry-After` asks for, in seconds, if it says one."""
        return retry_after(self.retry_after, now)

    def error(self, preview: str = "") -> SseCliError:
        """The failure as one line with a hint, and its exit status; `preview` is
        `preview_text` of the body's first bytes (never read as events)."""
        status, url = self.status, self.url
        if not 200 <= status < 300:
            return HttpStatusError(
                status,
                f"HTTP {status} {self.reason}".rstrip() + f" from {url}{preview}",
                status_hint(status),
            )
        if status != 200:
            # WHATWG "fail the connection": only 200 announces an event stream (204 aside). A
            # deliberate match with EventSource: curl would print any 2xx body.
            return NotEventStreamError(
                f"{url} answered {status_text(status, self.reason)}, not 200{preview}",
                "only 200 opens an event stream, as in a browser's EventSource",
            )
        return NotEventStreamError(
            f"{url} answered {status} with Content-Type {self.content_type or '(none)'}, "
            f"not text/event-stream{preview}",
            "check the URL and method; the server did not start an event stream",
        )


def status_text(status: int, reason: str | None) -> str:
    """`205 Reset Content`: the standard phrase where there is one, else the server's."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = reason or ""
    return f"{status} {phrase}".rstrip()


def status_hint(status: int) -> str | None:
    if status in (401, 403):
        return "send credentials with -H 'Authorization: ...'"
    if status == 404:
        return "check the URL's path"
    if status == 405:
        return "try another method with -X, or a body with -d / --json"
    if status == 429:
        return "the server is rate limiting; wait, or let sse-cli reconnect"
    if status >= 500:
        return "a server error; sse-cli retries it unless --no-reconnect"
    return None
