"""The one way to start `sse-cli serve` (or any server that prints the same banner) as a child
process and learn its URL: the demo command, the tests and the benchmarks use it.

The child's start-up banner on stderr, `serving on http://HOST:PORT`, names the address it
bound. A thread drains stderr for the child's whole life, so the child never blocks on a full
pipe, and keeps its lines (all of them, or the last `keep`) for callers to wait on and read.
Stdlib only: no heavy module is imported here.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress

from sse_cli.errors import SseCliError

BANNER = re.compile(r"serving on (http://(\S+?):(\d+))/?(?:\s|$)")
STOP_WAIT = 5.0  # seconds a child gets to exit after a signal before it is killed


class LaunchError(SseCliError):
    """The server did not start, or did not print its banner in time."""


def serve_command(args: Sequence[str] = ()) -> list[str]:
    """`sse-cli serve --port 0 ARGS`, run by this interpreter."""
    return [sys.executable, "-m", "sse_cli", "serve", "--port", "0", *args]


def child_env() -> dict[str, str]:
    """This process's environment without PYTHONUNBUFFERED, which hides missing flushes."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


class Launched:
    """A running server child: the Popen, the address from its banner, its stderr lines."""

    def __init__(self, proc: subprocess.Popen[str], keep: int | None = None) -> None:
        self.proc = proc
        self.url = self.host = ""
        self.port = 0
        self._lines: collections.deque[str] = collections.deque(maxlen=keep)
        self._count = 0  # lines read so far, kept or not
        self._seen = threading.Condition()
        self.closed = False  # stderr has reached its end
        self._drain = threading.Thread(target=self._read, name="serve-stderr", daemon=True)
        self._drain.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stderr is not None
        with self.proc.stderr as stream:
            for line in stream:
                with self._seen:
                    self._lines.append(line)
                    self._count += 1
                    self._seen.notify_all()
        with self._seen:
            self.closed = True
            self._seen.notify_all()

    def mark(self) -> int:
        """How many stderr lines have been read so far: pass it to `lines(since=...)`."""
        with self._seen:
            return self._count

    def lines(self, since: int = 0) -> list[str]:
        """The kept stderr lines, from line number `since` on."""
        with self._seen:
            first = self._count - len(self._lines)
            return list(self._lines)[max(0, since - first) :]

    @property
    def stderr(self) -> str:
        return "".join(self.lines())

    def wait_line(self, pattern: str, timeout: float, since: int = 0) -> str:
        """The first stderr line (from `since`) containing `pattern`; LaunchError if none
        comes within `timeout` seconds or stderr ends first."""

        def found() -> str | None:
            return next((line for line in self.lines(since) if pattern in line), None)

        with self._seen:
            self._seen.wait_for(lambda: found() is not None or self.closed, timeout)
            line = found()
        if line is None:
            last = self.lines()[-1:] or ["no output"]
            state = "ended" if self.closed else f"printed nothing new in {timeout:g} s"
            raise LaunchError(f"the server {state} without {pattern!r}: {last[0].rstrip()}")
        return line

    def wait_closed(self, timeout: float = STOP_WAIT) -> bool:
        with self._seen:
            return self._seen.wait_for(lambda: self.closed, timeout)

    def stop(self, sig: int = signal.SIGINT, timeout: float = STOP_WAIT) -> int:
        """Send `sig` and wait for the exit status; kill the child (and raise
        subprocess.TimeoutExpired) if it is still running after `timeout` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        self.wait_closed()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.wait_closed()


def launch(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 20.0,
    keep: int | None = None,
    name: str = "the server",
) -> Launched:
    """Start `argv` and return once its banner names the address it bound; LaunchError
    ("NAME did not start: its last line") if it does not within `timeout` seconds."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=dict(env) if env is not None else child_env(),
        cwd=cwd,
    )
    child = Launched(proc, keep)
    try:
        match = BANNER.search(child.wait_line("serving on ", timeout))
    except LaunchError:
        match = None
    except BaseException:
        child.kill()
        raise
    if match is None:
        child.kill()
        last = [line.rstrip() for line in child.lines()[-1:]]
        raise LaunchError(f"{name} did not start: {last[0] if last else 'no output'}")
    child.url, child.host, child.port = match[1], match[2], int(match[3])
    return child


@contextmanager
def running(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 20.0,
    keep: int | None = None,
    name: str = "the server",
    stop: int = signal.SIGINT,
) -> Iterator[Launched]:
    """`launch(argv, ...)` for the block; then `stop` it (and kill it if it does not exit)."""
    child = launch(argv, env=env, cwd=cwd, timeout=timeout, keep=keep, name=name)
    try:
        yield child
    finally:
        with suppress(subprocess.TimeoutExpired):  # it is killed, then
            child.stop(stop)


@contextmanager
def running_server(
    args: Sequence[str] = (),
    timeout: float = 20.0,
    name: str = "the server",
    environ: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Run `sse-cli serve --port 0 ARGS` for the duration of the block; yield its base URL.

    The child gets `environ` (this process's by default), without PYTHONUNBUFFERED."""
    env = None
    if environ is not None:
        env = {k: v for k, v in environ.items() if k != "PYTHONUNBUFFERED"}
    with running(serve_command(args), env=env, timeout=timeout, name=name) as child:
        yield child.url
