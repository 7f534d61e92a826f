"""Writing recordings: `Recorder`, the sink that `listen --record` sets beside the renderer.

Stdlib only: it must not import aiohttp.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from sse_cli.actions import Action, Connected, Ended, Received, Retrying
from sse_cli.errors import EventTooLargeError, UsageError
from sse_cli.protocol.decoder import (
    DEFAULT_MAX_EVENT_SIZE,
    Block,
    Comment,
    Decoder,
    Diagnostic,
    Event,
)
from sse_cli.recording import FORMAT, REMOVED, VERSION, entry_record, scrub_url
from sse_cli.request import SECRET_HEADERS

__all__ = ["Recorder", "recorded"]


def _headers(pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    return [[n, REMOVED if n.lower() in SECRET_HEADERS else v] for n, v in pairs]


def _body(body: bytes | None) -> dict[str, Any]:
    if body is None:
        return {"body": None}
    try:
        return {"body": body.decode()}
    except UnicodeDecodeError:
        import base64

        return {"body": None, "body_base64": base64.b64encode(body).decode()}


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"


class Recorder:
    """A sink beside the renderer: every action, with its time, into a recording file.

    Each call writes whole lines in one `os.write`, so the file is valid up to the last
    whole event whenever listening stops (Ctrl-C, a closed pipe, a dropped connection).
    """

    def __init__(
        self,
        fd: int,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        body: bytes | None,
        path: str = "",
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        self._fd = fd
        self._path = path
        self._max_event_size = max_event_size  # the client's bound: the same events pass
        self._decoder: Decoder | None = None
        self._start = 0
        self._last_id = ""
        self._ended = False
        request = {
            "type": "request",
            "method": method,
            "url": scrub_url(url),
            "headers": _headers(headers),
            **_body(body),
        }
        self._write([{"format": FORMAT, "version": VERSION}, request])

    @classmethod
    def create(
        cls,
        path: str,
        force: bool,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        body: bytes | None,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
    ) -> Recorder:
        """Open `path` for a new recording: an existing file is refused unless `force`."""
        if path == "-":
            raise UsageError(
                "--record - is refused: stdout is for events",
                "give a file name, e.g. --record stream.jsonl",
            )
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
        try:
            fd = os.open(path, flags, 0o644)
        except FileExistsError:
            raise UsageError(
                f"--record file {path!r} exists",
                "give another name, or add --force to overwrite it",
            ) from None
        except OSError as exc:
            raise UsageError(
                f"cannot write --record file {path!r}: {exc.strerror or exc}"
            ) from None
        try:
            return cls(fd, method, url, headers, body, path, max_event_size)
        except BaseException:
            os.close(fd)
            raise

    def write(self, action: Action, at_us: int) -> None:
        """Record one action that happened `at_us` microseconds into listening."""
        kind = type(action)
        if kind is Received:
            if self._decoder is not None and action.raw:  # type: ignore[union-attr]
                offset = at_us - self._start
                items = _feed(self._decoder, action.raw)  # type: ignore[union-attr]
                self._write([entry_record(offset, item) for item in items])
        elif kind is Connected:
            assert isinstance(action, Connected)
            self._decoder = Decoder(self._last_id, self._max_event_size, blocks=True)
            self._start = at_us
            self._write(
                [
                    {
                        "type": "response",
                        "status": action.status,
                        "reason": action.reason,
                        "url": scrub_url(action.url),
                        "headers": _headers(action.headers.items()),
                    }
                ]
            )
        elif kind is Retrying:
            assert isinstance(action, Retrying)
            self._end_response()
            self._write(
                [
                    {
                        "type": "reconnect",
                        "at_us": max(0, at_us - self._start),
                        "delay_s": action.delay,
                        "reason": action.reason,
                    }
                ]
            )
        elif kind is Ended:
            assert isinstance(action, Ended)
            self.close(action.reason, at_us)

    def close(self, reason: str, at_us: int) -> None:
        """Write how the stream ended (once) and close the file."""
        if self._ended:
            return
        self._ended = True
        self._end_response()
        try:
            self._write([{"type": "end", "at_us": max(0, at_us - self._start), "reason": reason}])
        finally:
            with contextlib.suppress(OSError):
                os.close(self._fd)

    def _end_response(self) -> None:
        if self._decoder is not None:
            self._last_id = self._decoder.last_event_id
            self._decoder = None

    def _write(self, records: list[dict[str, Any]]) -> None:
        if records:
            data = b"".join(_line(r) for r in records)
            try:
                while data:
                    data = data[os.write(self._fd, data) :]
            except OSError as exc:  # a full disk, an I/O error: the recording stops here
                raise UsageError(
                    f"cannot write --record file {self._path!r}: {exc.strerror or exc}"
                ) from None


def _feed(decoder: Decoder, chunk: bytes) -> list[Block | Comment | Event]:
    """What a chunk completed that a recording keeps: events, comments and blocks (not the
    diagnostics, which say what was ignored)."""
    try:
        items = decoder.feed(chunk)
    except EventTooLargeError as exc:  # the client fails the stream at the same chunk
        items = exc.items
    return [item for item in items if not isinstance(item, Diagnostic)]


def now_us() -> int:
    return time.monotonic_ns() // 1000


async def recorded(source: AsyncIterator[Action], recorder: Recorder) -> AsyncIterator[Action]:
    """`source`'s actions, each written to `recorder` as it arrives, then passed on."""
    reason = "listening stopped"
    try:
        async with contextlib.aclosing(source) as actions:  # type: ignore[type-var]
            async for action in actions:
                recorder.write(action, now_us())
                yield action
    except GeneratorExit:
        raise  # the session stopped listening (a limit, a closed pipe)
    except BaseException as exc:
        reason = getattr(exc, "message", None) or "interrupted"
        raise
    finally:
        recorder.close(reason, now_us())
