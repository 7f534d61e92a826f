"""The wait before a reconnection: a small pure policy with injected randomness.

Stdlib only, so its policy is tested without sleeping or a network.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sse_cli.request import DEFAULT_BACKOFF_CAP


class Backoff:
    """The wait before a reconnection: the reconnection time, doubled per consecutive failure.

    Pure and deterministic given `rand`: jitter only lengthens a wait (by up to `jitter` of
    it), so a wait is never shorter than the server's `retry:`.
    """

    def __init__(
        self,
        cap: float = DEFAULT_BACKOFF_CAP,
        jitter: float = 0.2,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.cap = cap
        self.jitter = jitter
        self.rand = rand
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
