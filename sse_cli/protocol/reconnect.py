"""The reconnection state of one stream: last event ID, reconnection time, backoff, retries.

WHATWG "Reconnecting" for `EventSource`: when a stream ends or the connection drops, wait the
reconnection time (the server's last valid `retry:`), then send the same request with
`Last-Event-ID`. sse-cli adds what a command line needs and a browser does not: backoff with
jitter on consecutive failures, `--max-retries N` (curl's `--retry N`), `--reconnect` /
`--no-reconnect`, and the rule for unsafe methods: a POST is sent again only once the server
has sent an event id, since repeating a request it cannot resume may repeat a paid call.

Fed what happened (`opened`, `seen`, `after_stream`, `after_failure`), it answers `Wait(d)` or
`GiveUp(reason)`; the transport sleeps and sends. Pure: the randomness is injected, so the
policy is tested without sleeping or a network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "CONTROL",
    "DEFAULT_BACKOFF_CAP",
    "DEFAULT_RETRY",
    "SAFE_METHODS",
    "Backoff",
    "GiveUp",
    "Policy",
    "Reconnection",
    "Wait",
]

#: The reconnection time until the server sends `retry:`, in seconds (as browsers use).
DEFAULT_RETRY = 3.0
#: The longest wait that backoff alone makes, in seconds (a longer `retry:` still counts).
DEFAULT_BACKOFF_CAP = 30.0
#: Methods that are sent again by default: repeating them changes nothing on the server.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: What no HTTP header value (nor URL) may hold; a tab is allowed.
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _random() -> Callable[[], float]:
    """`random.random`, imported when a connection policy is made, not when `--help` runs."""
    import random

    return random.random


class Backoff:
    """The wait before a reconnection: the reconnection time, doubled per consecutive failure.

    Pure and deterministic given `rand`: jitter only lengthens a wait (by up to `jitter` of
    it), so a wait is never shorter than the server's `retry:`.
    """

    __slots__ = ("cap", "failures", "jitter", "rand")

    def __init__(
        self,
        cap: float = DEFAULT_BACKOFF_CAP,
        jitter: float = 0.2,
        rand: Callable[[], float] | None = None,
    ) -> None:
        self.cap = cap
        self.jitter = jitter
        self.rand = rand or _random()
        self.failures = 0

    def next_delay(self, retry: float) -> float:
        """The wait before the next attempt, given the reconnection time in seconds."""
        n = self.failures
        self.failures += 1
        if n == 0:
            delay = retry
        else:
            # A floor keeps a `retry: 0` server that keeps failing from a busy loop.
            delay = min(max(retry, 0.5) * 2.0**n, max(self.cap, retry))
        return delay * (1.0 + self.jitter * self.rand())

    def reset(self) -> None:
        """A connection succeeded: the next wait is the plain reconnection time."""
        self.failures = 0


@dataclass(frozen=True, slots=True)
class Policy:
    """How a stream reconnects: the command line's choices, fixed for its life."""

    method: str = "GET"
    reconnect: bool | None = None
    """True or False forces reconnecting on or off; None: by method (see `may_reconnect`)."""
    max_retries: int | None = None
    """At most this many retries after a failed attempt (None: no limit)."""
    retry: float = DEFAULT_RETRY
    """The reconnection time until the server sends `retry:`, in seconds."""
    backoff_cap: float = DEFAULT_BACKOFF_CAP


@dataclass(frozen=True, slots=True)
class Wait:
    """Reconnect after this many seconds."""

    delay: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Do not reconnect; `reason` says why, naming the flag that decided it."""

    reason: str


class Reconnection:
    """One stream's state across its connections."""

    __slots__ = (
        "_backoff",
        "_rand",
        "connected",
        "failed_attempts",
        "ids_seen",
        "last_event_id",
        "policy",
        "retry",
    )

    def __init__(
        self, policy: Policy, last_event_id: str = "", rand: Callable[[], float] | None = None
    ) -> None:
        self.policy = policy
        self.last_event_id = last_event_id
        """The spec's last event ID string: it persists across connections."""
        self.retry = policy.retry
        """The reconnection time in seconds: the server's last valid `retry:`."""
        self.ids_seen = False
        """Whether the server has sent an `id:` field (so it can resume this stream)."""
        self.connected = False
        """Whether any attempt has reached an event stream."""
        self.failed_attempts = 0
        """Failed attempts since the last stream that opened."""
        self._rand = rand
        self._backoff: Backoff | None = None  # made on the first wait: most streams never wait

    def may_reconnect(self) -> bool:
        """Whether the stream is sent again after it ends or fails."""
        if self.policy.reconnect is not None:
            return self.policy.reconnect
        # Re-sending an unsafe request may repeat a paid call: only a server that sent an
        # event id (so it can resume) is asked again.
        return self.policy.method in SAFE_METHODS or self.ids_seen

    def retries_asked(self) -> bool:
        """Did the command line ask for retries (--reconnect, or a --max-retries bound)?"""
        return bool(self.policy.reconnect) or self.policy.max_retries is not None

    def sendable_id(self) -> bool:
        """Whether the last event ID can go in a header. Deliberate divergence from
        `EventSource`: an id holding a control character is not sent at all."""
        return not CONTROL.search(self.last_event_id)

    def headers(self, base: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The request's headers: `base`, plus `Last-Event-ID` when there is an id to resume
        from and `base` does not set one already."""
        headers = list(base)
        if self.last_event_id and self.sendable_id():
            if not any(name.lower() == "last-event-id" for name, _ in headers):
                headers.append(("Last-Event-ID", self.last_event_id))
        return headers

    def opened(self) -> None:
        """An attempt reached an event stream: failures start counting again."""
        self.connected = True
        self.failed_attempts = 0
        if self._backoff is not None:
            self._backoff.reset()

    def seen(self, last_event_id: str, retry_ms: int | None, ids_seen: bool) -> None:
        """What a connection's decoder left: its last event ID, `retry:` and whether ids came."""
        self.last_event_id = last_event_id
        if retry_ms is not None:
            self.retry = retry_ms / 1000.0
        if ids_seen:
            self.ids_seen = True

    def after_stream(self) -> Wait | GiveUp:
        """A stream that had opened ended, or its connection dropped."""
        if not self.may_reconnect():
            return GiveUp(self._why_not())
        return Wait(self._next_delay())

    def after_failure(self, retry_after: float | None = None) -> Wait | GiveUp:
        """An attempt failed before a stream opened (a network error, 429, 5xx)."""
        self.failed_attempts += 1
        if not self.may_reconnect():
            return GiveUp(self._why_not())
        limit = self.policy.max_retries
        if limit is not None and self.failed_attempts > limit:
            tries = f"{limit} retr{'y' if limit == 1 else 'ies'}"
            return GiveUp(f"gave up after {tries}, as --max-retries {limit} says")
        delay = self._next_delay()
        if retry_after is not None:
            delay = max(delay, retry_after)
        return Wait(delay)

    def _next_delay(self) -> float:
        if self._backoff is None:
            self._backoff = Backoff(cap=self.policy.backoff_cap, rand=self._rand)
        return self._backoff.next_delay(self.retry)

    def _why_not(self) -> str:
        if self.policy.reconnect is False:
            return "not retried: --no-reconnect"
        return (
            f"not retried: a {self.policy.method} is sent again only once the server has sent "
            "an event id (--reconnect forces it)"
        )
