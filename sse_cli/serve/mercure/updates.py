"""Mercure updates: read from a publish form, written to and read from the broker's one
global log, and encoded for a subscriber. Stdlib and orjson only.

The log is one broker topic, LOG_TOPIC, a name /subscribe refuses, so nobody reads it
raw. Each entry's data is the update as one line of JSON.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import parse_qs

import orjson

from sse_cli.encode import encode_event

LOG_TOPIC = "mercure/log"
MAX_DECODED = 10_000  # log entries whose decoding is kept (one per entry, not per subscriber)


class UpdateError(ValueError):
    """A publish form the hub refuses (400), with a reason a person can act on."""


@dataclass(frozen=True)
class Update:
    id: str
    topics: tuple[str, ...]  # the first is the canonical topic
    data: str = ""
    type: str | None = None
    retry: int | None = None
    private: bool = False

    def to_log(self) -> str:
        fields: dict[str, object] = {"id": self.id, "topics": self.topics, "data": self.data}
        fields.update(type=self.type, retry=self.retry, private=self.private)
        return orjson.dumps(fields).decode()

    @cached_property
    def encoded(self) -> bytes:
        """Encoded once per update in a process, however many subscribers it reaches."""
        return encode_event(self.data, event=self.type, id=self.id, retry=self.retry)


def refuse_id(value: str) -> str | None:
    """Why a publisher-supplied id is refused, or None."""
    if not value:
        return "id must not be empty"
    if value.startswith("#"):
        return "id must not start with # (reserved by the hub)"
    if value == "earliest":
        return "id must not be earliest (reserved for resuming from the start)"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "id must not hold control characters"
    return None


def from_form(body: bytes) -> Update:
    """The update a form-encoded publish body asks for; UpdateError if it cannot be one."""
    try:
        form = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise UpdateError("the body must be application/x-www-form-urlencoded UTF-8") from None
    topics = tuple(form.get("topic", ()))
    if not topics or not all(topics):
        raise UpdateError("missing topic: give at least one non-empty topic field")
    given = form.get("id", [None])[0]
    if given is not None and (reason := refuse_id(given)) is not None:
        raise UpdateError(reason)
    kind = form.get("type", [None])[0]
    if kind is not None and (not kind or any(c in kind for c in "\r\n\0")):
        raise UpdateError("type must be a non-empty name without line breaks or NUL")
    retry_text = form.get("retry", [None])[0]
    retry = None
    if retry_text is not None:
        if not (retry_text.isascii() and retry_text.isdigit() and len(retry_text) < 10):
            raise UpdateError("retry must be a whole number of milliseconds")
        retry = int(retry_text)
    return Update(
        id=given or f"urn:uuid:{uuid.uuid4()}",
        topics=topics,
        data=form.get("data", [""])[0],
        type=kind,
        retry=retry,
        private="private" in form,
    )


class LogReader:
    """Log entries (encoded events as the broker keeps them) back to updates, each entry
    decoded once however many subscribers it reaches."""

    def __init__(self) -> None:
        self.decoded: dict[bytes, Update | None] = {}

    def read(self, block: bytes) -> Update | None:
        found = self.decoded.get(block, False)
        if found is False:
            found = self.decode(block)
            if len(self.decoded) >= MAX_DECODED:
                self.decoded.clear()
            self.decoded[block] = found
        return found  # type: ignore[return-value]

    @staticmethod
    def decode(block: bytes) -> Update | None:
        for line in block.split(b"\n"):
            if line.startswith(b"data: "):
                try:
                    fields = orjson.loads(line[6:])
                    fields["topics"] = tuple(fields["topics"])
                    return Update(**fields)
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    return None
        return None  # a heartbeat or a comment
