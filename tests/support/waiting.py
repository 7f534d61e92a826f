"""Waiting on a condition that no event announces (a server's counters, a process's state).

Tests wait on events where they have one (a line read, a process exit). Where they have none,
`wait_until` polls, bounded in count and time, and says what it was waiting for.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from support.cli import WAIT

POLL = 0.02  # seconds between two looks


def wait_until(
    condition: Callable[[], bool],
    timeout: float = WAIT,
    what: Callable[[], str] | str = "condition",
) -> float:
    """Poll `condition` until it holds; return the seconds it took, or fail naming `what`."""
    start = time.monotonic()
    for _ in range(int(timeout / POLL) + 1):
        if condition():
            return time.monotonic() - start
        time.sleep(POLL)
    if condition():
        return time.monotonic() - start
    described = what() if callable(what) else what
    raise AssertionError(f"not within {timeout} s: {described}")
