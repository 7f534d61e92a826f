"""Exit statuses and the error family every expected failure is raised as.

Stdlib only: the CLI maps an `SseCliError` to one line on stderr and its exit status, so
nothing here may import aiohttp, rich or the server stack.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """The documented exit statuses of `sse-cli` (README, "Exit statuses")."""

    OK = 0
    ERROR = 1  # anything unexpected: a bug, please report it
    USAGE = 2  # bad flag, bad value, unreadable @file
    CONNECTION = 3  # DNS, refused, reset, TLS, connect or idle timeout; serve: cannot bind
    HTTP_4XX = 4
    HTTP_5XX = 5
    NOT_EVENT_STREAM = 6  # a 2xx other than 200 and 204, or a 200 that is not text/event-stream
    PROTOCOL = 7  # the stream broke a limit (--max-event-size) or, under --strict, the wire format
    THRESHOLD = 8  # `bench`: a --threshold failed
    DOCTOR_FAILED = 9  # `doctor`: a check failed
    INTERRUPTED = 130  # Ctrl-C


class SseCliError(Exception):
    """An expected failure: a message for people, an optional hint and an exit status."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class UsageError(SseCliError):
    exit_code = ExitCode.USAGE


class ConnectError(SseCliError):
    exit_code = ExitCode.CONNECTION


class HttpStatusError(SseCliError):
    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.exit_code = ExitCode.HTTP_5XX if status >= 500 else ExitCode.HTTP_4XX


class NotEventStreamError(SseCliError):
    exit_code = ExitCode.NOT_EVENT_STREAM


class ProtocolError(SseCliError):
    exit_code = ExitCode.PROTOCOL


class ThresholdError(SseCliError):
    """A load test ran, and a `--threshold` it was given does not hold."""

    exit_code = ExitCode.THRESHOLD


class DoctorFailedError(SseCliError):
    """`doctor` watched a stream, and at least one of its checks failed."""

    exit_code = ExitCode.DOCTOR_FAILED


class EventTooLargeError(ProtocolError):
    """A line or an event grew past the decoder's size bound.

    `items` holds what the same chunk completed before the bound tripped, so none is lost.
    """

    items: list[Any] = []
