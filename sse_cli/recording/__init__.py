"""Recordings of event streams: the one file format, written by `listen --record` and read
by `serve --replay`.

A recording is JSON lines (README, "Recording format"): a format line with its version, the
request (secrets removed), then per response its status, reason and headers, and what its
wire carried, in order, each with its offset in microseconds from the start of that
response: events, comments, and blocks that dispatched no event (a `retry:` or `id:` alone),
then each reconnect and how the stream ended.

`writer` holds the recorder, `reader` the checks that reading makes. The recorder decodes
the wire itself, with the one decoder (`protocol.decoder.Decoder(blocks=True)`), so a
recording holds what the server sent, not what filters let through, and the blocks that
dispatched no event.
Stdlib only: it must not import aiohttp or the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from sse_cli.errors import UsageError
from sse_cli.protocol.decoder import Block, Comment, Event
from sse_cli.request import mask_url

__all__ = [
    "FORMAT",
    "REMOVED",
    "VERSION",
    "Block",
    "Entry",
    "Item",
    "Recording",
    "RecordingError",
    "Response",
    "entry_record",
    "scrub_url",
]

FORMAT = "sse-cli recording"
VERSION = 1
#: What a removed secret's value becomes.
REMOVED = "<removed>"
#: Query parameters whose values a recording removes (`listen --record`): these names, and
#: any name ending in one of them after `_` or `-` (`client_secret`, `x-api-key`).
SECRET_PARAMS = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "token",
        "access_token",
        "auth",
        "password",
        "secret",
        "sig",
        "signature",
        "code",
    }
)


def secret_param(name: str) -> bool:
    """Is this query parameter a key or token (`SECRET_PARAMS`)?"""
    name = name.lower().replace("-", "_")
    return name in SECRET_PARAMS or any(name.endswith("_" + s) for s in SECRET_PARAMS)


def scrub_url(url: str) -> str:
    """The URL with its password and the values of secret query parameters removed."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    url = mask_url(url)
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(n, REMOVED if secret_param(n) else v) for n, v in pairs]
    return urlunsplit(parts._replace(query=urlencode(kept, safe="<>")))


class RecordingError(UsageError):
    """A recording that cannot be read: names the file, the line and the problem (status 2)."""


Item = Event | Comment | Block


class Entry(NamedTuple):
    at_us: int
    """Microseconds from the start of the response that carried it."""
    item: Item


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    entries: tuple[Entry, ...]
    ending: str | None = None
    """Why this response ended: a reconnect's or the end's reason."""


@dataclass(frozen=True)
class Recording:
    path: str
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    responses: tuple[Response, ...]


def entry_record(at_us: int, item: Item) -> dict[str, Any]:
    """One entry as its JSON object."""
    if type(item) is Event:
        return {
            "type": "event",
            "at_us": at_us,
            "event": item.event,
            "data": item.data,
            "id": item.id,
            "retry": item.retry,
        }
    if type(item) is Comment:
        return {"type": "comment", "at_us": at_us, "text": item.text}
    assert type(item) is Block
    record: dict[str, Any] = {"type": "block", "at_us": at_us}
    if item.id is not None:
        record["id"] = item.id
    if item.retry is not None:
        record["retry"] = item.retry
    return record
