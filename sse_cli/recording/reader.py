"""Reading recordings: every line checked, and a bad one named by file, line and problem.

Stdlib only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sse_cli.protocol.decoder import Comment, Event
from sse_cli.recording import (
    FORMAT,
    VERSION,
    Block,
    Entry,
    Item,
    Recording,
    RecordingError,
    Response,
)

__all__ = ["read_recording"]


def read_recording(path: Path) -> Recording:
    """Read and check a recording; raises `RecordingError` naming the file, line and problem."""
    try:
        text = path.read_bytes().decode()
    except (OSError, UnicodeDecodeError) as exc:
        problem = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise RecordingError(f"{path}: cannot read the recording: {problem or exc}") from None
    return _Parse(str(path)).run(_records(str(path), text.split("\n")))


def _records(name: str, lines: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise RecordingError(f"{name}:1: the recording is empty")
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise RecordingError(f"{name}:{number}: not a JSON line ({exc})") from None
        if not isinstance(record, dict):
            raise RecordingError(f"{name}:{number}: not a JSON object")
        yield number, record


class _Parse:
    """The reading state: each record checked where it stands."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.number = 0
        self.request: dict[str, Any] | None = None
        self.responses: list[Response] = []
        self.current: dict[str, Any] | None = None
        self.entries: list[Entry] = []

    def fail(self, problem: str) -> RecordingError:
        return RecordingError(f"{self.name}:{self.number}: {problem}")

    def run(self, records: Iterator[tuple[int, dict[str, Any]]]) -> Recording:
        for self.number, record in records:
            if self.number == 1:
                self._format(record)
            elif self.number == 2:
                if record.get("type") != "request":
                    raise self.fail('expected the request (a "type": "request" line)')
                self.request = record
            else:
                self._record(record)
        if self.request is None:
            raise self.fail("the recording holds no request line")
        self._close_response(None)
        req = self.request
        return Recording(
            self.name,
            self._str(req, "method"),
            self._str(req, "url"),
            self._pairs(req.get("headers", [])),
            tuple(self.responses),
        )

    def _format(self, record: dict[str, Any]) -> None:
        if record.get("format") != FORMAT:
            raise self.fail(
                f'not an sse-cli recording (the first line has no "format": "{FORMAT}")'
            )
        if record.get("version") != VERSION:
            raise self.fail(
                f"unknown format version {record.get('version')!r} "
                f"(this sse-cli reads version {VERSION})"
            )

    def _record(self, record: dict[str, Any]) -> None:
        kind = record.get("type")
        if kind == "response":
            self._close_response(None)
            status = record.get("status")
            if type(status) is not int or not 100 <= status <= 599:
                raise self.fail(f"response status {status!r} is not an HTTP status")
            self._pairs(record.get("headers", []))
            self.current = record
            return
        if kind in ("reconnect", "end"):
            self._time(record)
            self._close_response(str(record.get("reason", kind)))
            return
        if kind not in ("event", "comment", "block"):
            raise self.fail(f"unknown line type {kind!r}")
        if self.current is None:
            raise self.fail(f"a {kind} before any response")
        self.entries.append(Entry(self._time(record), self._item(kind, record)))

    def _time(self, record: dict[str, Any]) -> int:
        at = record.get("at_us")
        if type(at) is not int or at < 0:
            raise self.fail(f'"at_us" must be a count of microseconds, not {at!r}')
        if self.entries and at < self.entries[-1].at_us:
            raise self.fail(
                f"out of time order: at_us {at} is before the line before it "
                f"({self.entries[-1].at_us})"
            )
        return at

    def _item(self, kind: str, record: dict[str, Any]) -> Item:
        if kind == "comment":
            return Comment(self._str(record, "text", line=True))
        ident = record.get("id")
        if ident is not None:
            ident = self._str(record, "id", line=True)
            if "\0" in ident:
                raise self.fail("an id cannot hold NUL")
        retry = record.get("retry")
        if retry is not None and (type(retry) is not int or retry < 0):
            raise self.fail(f"retry {retry!r} is not a count of milliseconds")
        if kind == "block":
            return Block(ident, retry)
        data = self._str(record, "data")
        return Event(
            self._str(record, "event", line=True), data.replace("\r\n", "\n"), ident or None, retry
        )

    def _str(self, record: dict[str, Any], key: str, line: bool = False) -> str:
        value = record.get(key)
        if not isinstance(value, str):
            raise self.fail(f'"{key}" must be a string, not {value!r}')
        if line and ("\n" in value or "\r" in value):
            raise self.fail(f'"{key}" cannot hold a line break')
        return value

    def _pairs(self, value: Any) -> tuple[tuple[str, str], ...]:
        if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p)
            for p in value
        ):
            raise self.fail('"headers" must be a list of [name, value] pairs')
        return tuple((n, v) for n, v in value)

    def _close_response(self, ending: str | None) -> None:
        current = self.current
        if current is None:
            return
        headers = self._pairs(current.get("headers", []))
        self.responses.append(
            Response(
                current["status"],
                str(current.get("reason", "")),
                headers,
                tuple(self.entries),
                ending,
            )
        )
        self.current = None
        self.entries = []
