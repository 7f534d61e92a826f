"""What an in-process server says: the lines its code writes to `sys.stderr` (the relay's and
the Redis broker's messages) and the records of the loggers a child `serve` prints on stderr
(uvicorn, starlette, sse-starlette, sse_cli, asyncio), kept for a test to wait on and read.

`sys.stderr` is the process's, so the lines of every thread are caught while the block runs;
they still reach whatever stream was there before (pytest's capture). A traceback, in-process,
is an ERROR record that carries an exception, or a line saying "Traceback" (an uncaught
exception in a thread is printed there).
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import traceback
from types import TracebackType
from typing import TextIO

from support.cli import WAIT

LOGGERS = ("uvicorn", "starlette", "sse_starlette", "sse_cli", "asyncio")


class ServeStderr:
    """A context manager: while it is open, stderr lines and log records are kept here."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._partial = ""
        self._changed = threading.Condition()
        self._failures: list[str] = []  # ERROR records with an exception, formatted
        self._original: TextIO | None = None
        self._tee = _Tee(self)
        self._handler = _Handler(self)

    def __enter__(self) -> ServeStderr:
        self._original = sys.stderr
        sys.stderr = self._tee
        for name in LOGGERS:
            logging.getLogger(name).addHandler(self._handler)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(self._handler)
        if sys.stderr is self._tee and self._original is not None:
            sys.stderr = self._original

    def write(self, text: str) -> None:
        original = self._original
        if original is not None:
            original.write(text)
        with self._changed:
            pieces = (self._partial + text).split("\n")
            self._partial = pieces.pop()
            self._lines += [piece + "\n" for piece in pieces]
            self._changed.notify_all()

    def record(self, record: logging.LogRecord) -> None:
        text = f"sse-cli: {record.getMessage()}\n"  # as serve's own log format has it
        if record.exc_info and record.levelno >= logging.ERROR:
            trace = "".join(traceback.format_exception(*record.exc_info))
            with self._changed:
                self._failures.append(f"{record.name}: {record.getMessage()}\n{trace}")
        self.write(text)

    def lines(self) -> list[str]:
        with self._changed:
            return list(self._lines)

    @property
    def text(self) -> str:
        with self._changed:
            return "".join(self._lines) + self._partial

    def wait_line(self, pattern: str, timeout: float = WAIT) -> str:
        """The first line containing `pattern`; fail the test if none comes within `timeout`."""

        def found() -> str | None:
            return next((line for line in self._lines if pattern in line), None)

        with self._changed:
            if not self._changed.wait_for(lambda: found() is not None, timeout):
                last = self._lines[-1:] or ["nothing"]
                raise AssertionError(f"no line with {pattern!r} within {timeout} s: {last[0]}")
            line = found()
        assert line is not None
        return line

    def tracebacks(self) -> list[str]:
        """Each ERROR record that carried an exception, and the text if it says Traceback."""
        with self._changed:
            failures = list(self._failures)
        text = self.text
        return failures + ([text] if "Traceback" in text else [])


class _Tee(io.TextIOBase):
    """`sys.stderr` while a ServeStderr is open."""

    def __init__(self, owner: ServeStderr) -> None:
        super().__init__()
        self.owner = owner

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.owner.write(text)
        return len(text)


class _Handler(logging.Handler):
    def __init__(self, owner: ServeStderr) -> None:
        super().__init__(logging.NOTSET)
        self.owner = owner

    def emit(self, record: logging.LogRecord) -> None:
        self.owner.record(record)
