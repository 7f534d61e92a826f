"""The CLI's I/O seam: the streams it reads and writes, whether each is a terminal, and the
environment variables it reads, as HTTPie's `Environment` holds them.

`Environment.from_sys()` is the process's own; tests build one over in-memory streams and
run the whole CLI in-process through `run_cli(argv, env)`. The commands hand it down to
whatever reads or writes; a lower function called without one uses the process's streams.
Three things stay the process's, being decided for the whole process: which decoder twin
runs (SSE_CLI_PURE_PYTHON, read at import; `--version` reads the run's), the proxies that
aiohttp takes from the environment, and what Typer's shell completion reads (it prints its
candidates on the run's stdout). Stdlib only.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO

#: Help is never wider than this, as Click formats it by default.
HELP_MAX_WIDTH = 80


@dataclass(eq=False)
class Environment:
    """What one run of the CLI reads from and writes to.

    `stdout` takes bytes (machine formats write UTF-8 whatever the locale); `text_stdout` is
    the text view of it that rich and help text write to; `stderr` is text for people.
    """

    stdin: IO[bytes] = field(default_factory=io.BytesIO)
    stdout: IO[bytes] = field(default_factory=io.BytesIO)
    stderr: IO[str] = field(default_factory=io.StringIO)
    stdin_isatty: bool = False
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    environ: Mapping[str, str] = field(default_factory=dict)
    text_stdout: IO[str] = field(default=None)  # type: ignore[arg-type]
    """None at construction: a UTF-8 text view of `stdout` is made."""

    def __post_init__(self) -> None:
        if self.text_stdout is None:
            self.text_stdout = TextView(self.stdout)

    @classmethod
    def from_sys(cls) -> Environment:
        """This process's standard streams and environment variables."""
        stdin = sys.stdin.buffer if sys.stdin is not None else io.BytesIO()
        stdout = sys.stdout if sys.stdout is not None else open(os.devnull, "w")
        stderr = sys.stderr if sys.stderr is not None else open(os.devnull, "w")
        return cls(
            stdin=stdin,
            stdout=stdout.buffer,
            stderr=stderr,
            stdin_isatty=_isatty(sys.stdin),
            stdout_isatty=_isatty(stdout),
            stderr_isatty=_isatty(stderr),
            environ=os.environ,
            text_stdout=stdout,
        )

    def columns(self) -> int:
        """The terminal's width as `shutil.get_terminal_size` finds it: COLUMNS, else the
        width of the terminal on stdout, else 80."""
        try:
            columns = int(self.environ.get("COLUMNS", ""))
        except ValueError:
            columns = 0
        if columns > 0:
            return columns
        try:
            return os.get_terminal_size(self.stdout.fileno()).columns or 80
        except (AttributeError, ValueError, OSError):
            return 80

    def help_width(self) -> int:
        """The width help text is formatted to, as Click would choose it."""
        return max(min(self.columns(), HELP_MAX_WIDTH) - 2, 50)


class TextView(io.TextIOBase):
    """Text written as UTF-8 to a byte stream, at once (no buffer of its own to forget).

    Closing it leaves the byte stream open: it belongs to whoever made the environment.
    """

    def __init__(self, buffer: IO[bytes]) -> None:
        super().__init__()
        self.buffer = buffer

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.buffer.write(text.encode("utf-8", "surrogateescape"))
        return len(text)

    def flush(self) -> None:
        self.buffer.flush()

    def isatty(self) -> bool:
        return self.buffer.isatty()

    def fileno(self) -> int:
        return self.buffer.fileno()


def _isatty(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False


__all__ = ["Environment", "TextView"]
