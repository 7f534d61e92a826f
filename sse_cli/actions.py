"""The typed actions the client yields, and what a session consumes.

A source of actions (the HTTP client today; a replay later) tells what happened as values;
the session and the renderer decide what to do with them. Stdlib only: naming an action
never imports the network layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sse_cli.protocol.decoder import Item

__all__ = ["Action", "Connected", "Connecting", "Ended", "Received", "Retrying"]


@dataclass(frozen=True, slots=True)
class Connecting:
    url: str
    attempt: int
    """1 for the first connection; counts every attempt after it."""


@dataclass(frozen=True, slots=True)
class Connected:
    url: str
    """The final URL, after redirects."""
    status: int
    reason: str
    headers: Mapping[str, str]
    method: str
    request_headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Received:
    """One network chunk: its bytes as received and the items it completed, in order."""

    raw: bytes
    items: list[Item]


@dataclass(frozen=True, slots=True)
class Retrying:
    delay: float
    attempt: int
    """The attempt that comes after the wait."""
    reason: str


@dataclass(frozen=True, slots=True)
class Ended:
    """Listening is over and it is not an error (stream finished, 204)."""

    reason: str


Action = Connecting | Connected | Received | Retrying | Ended
