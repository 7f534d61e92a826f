"""The CLI in-process (`invoke`, as HTTPie's tests' `http()`), and as a subprocess for the
smoke tests where the process is the point: run to its end, or spawn and read its pipes with
bounded waits.

The tests that start the CLI as a child process, and why a thread would not do:
- pipes, flushing and exit statuses seen by a shell: one shell runs a usage error, then
  `listen | head -n 1` on a server silent after one event (test_listen);
- signals: listen's Ctrl-C while connecting, during the backoff wait and while a write is
  blocked mid-line, once per format whose writes differ, json and data (test_client_faults),
  and mid-recording (test_recording); serve's SIGTERM with a thousand open streams, and its
  Ctrl-C with open streams and its relay's commands running: the signal reaches serve alone,
  its commands being in sessions of their own, and serve stops and reaps them and exits 0
  within 2 s (test_server_hardening);
- start-up imports and terminals: what `sse-cli` imports before it does anything, all cases
  in one interpreter (test_startup), a pty (test_terminal, test_demo, whose demo starts its
  serve child itself), a job-control shell in a pty (test_background_status); test_speedups'
  Python twins, chosen at import by SSE_CLI_PURE_PYTHON;
- resources of the process: peak RSS (test_client_faults' floods, forked from one
  interpreter), the open-files limit and what a bench imports (test_bench_figures), serve's
  fds and RSS (test_server_hardening's leak test), a real EMFILE under `ulimit -n 200`
  (test_serve_capacity);
- serve's processes: its --workers (test_serve_workers: pub/sub, the Mercure hub's log and
  each worker's open-files limit, one child), and what it has loaded against what its banner
  says (test_serve_stack's one child).
Every other server in the tests is an app on a thread (support/serve.py `serving`, or
`serving_args` for what `serve ARGS` serves), relays included: their commands are children
of the test process (support/relays.py). It keeps what serve would print on stderr.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

from sse_cli.cli import run_cli as run_in_process
from sse_cli.env import Environment

SSE_CLI = [sys.executable, "-m", "sse_cli"]
WAIT = 15.0  # the bound on any single wait in a test, in seconds


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: no PYTHONUNBUFFERED (it hides missing flushes)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "NO_COLOR")}
    env.update(extra)
    return env


class Terminal(io.BytesIO):
    """A byte stream that says whether it is a terminal."""

    def __init__(self, data: bytes = b"", tty: bool = False) -> None:
        super().__init__(data)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class TextTerminal(io.StringIO):
    """A text stream that says whether it is a terminal."""

    def __init__(self, tty: bool = False) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@dataclass(frozen=True)
class Result:
    """What one in-process run of the CLI ended with."""

    status: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        """stdout as text (it is UTF-8 whatever the locale)."""
        return self.stdout.decode()


def environment(
    stdin: bytes = b"",
    tty: bool = False,
    stdout_tty: bool | None = None,
    stderr_tty: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> Environment:
    """An environment over in-memory streams; `tty` makes stdout and stderr terminals unless
    `stdout_tty` or `stderr_tty` says otherwise. stdin is never a terminal."""
    return Environment(
        stdin=Terminal(stdin),
        stdout=Terminal(tty=tty if stdout_tty is None else stdout_tty),
        stderr=TextTerminal(tty=tty if stderr_tty is None else stderr_tty),
        stdout_isatty=tty if stdout_tty is None else stdout_tty,
        stderr_isatty=tty if stderr_tty is None else stderr_tty,
        environ=cli_env() if environ is None else dict(environ),
    )


def invoke(
    *args: str,
    stdin: bytes = b"",
    tty: bool = False,
    stdout_tty: bool | None = None,
    stderr_tty: bool | None = None,
    timeout: float = 60,
    variables: Mapping[str, str] | None = None,
    **environ: str,
) -> Result:
    """Run `sse-cli ARGS` in this process to its end, on in-memory streams: stdin holds
    `stdin`, the environment variables are this process's (as `cli_env`) plus `variables`
    and `environ`.

    The run has its own thread, so a CLI that hangs fails the test after `timeout` seconds
    instead of stopping the suite; what it raises is raised here.
    """
    env = environment(stdin, tty, stdout_tty, stderr_tty, cli_env(**(variables or {}), **environ))
    outcome: list[int | BaseException] = []

    def run() -> None:
        try:
            outcome.append(int(run_in_process(list(args), env)))
        except BaseException as exc:  # re-raised in the test's thread
            outcome.append(exc)

    thread = threading.Thread(target=run, name="sse-cli", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"sse-cli {' '.join(args)} still running after {timeout} s")
    (status,) = outcome
    if isinstance(status, BaseException):
        raise status
    assert isinstance(env.stdout, io.BytesIO) and isinstance(env.stderr, io.StringIO)
    return Result(status, env.stdout.getvalue(), env.stderr.getvalue())


class Running:
    """`sse-cli ARGS` running in-process in a thread, its stdout a real pipe (buffered, as a
    process's is, so a missing flush shows) that the test reads with `read_line`."""

    def __init__(
        self,
        args: tuple[str, ...],
        stdin: bytes,
        environ: Mapping[str, str],
        stdout: IO[bytes] | None = None,
    ) -> None:
        read_end, write_end = os.pipe()
        self.stdout = os.fdopen(read_end, "rb")
        self._out: IO[bytes] = os.fdopen(write_end, "wb")
        if stdout is not None:  # the run writes there; the pipe only reaches its end
            self._out.close()
            self._out = stdout
        self.env = Environment(stdin=Terminal(stdin), stdout=self._out, environ=cli_env(**environ))
        self.status: int | None = None
        self._thread = threading.Thread(target=self._run, args=(list(args),), daemon=True)
        self._thread.start()

    def _run(self, args: list[str]) -> None:
        try:
            self.status = int(run_in_process(args, self.env))
        finally:
            with contextlib.suppress(OSError):
                self._out.close()  # the reader sees the end of stdout

    def finish(self, timeout: float = WAIT) -> Result:
        """Wait for the run to end: its status, the rest of stdout and all of stderr."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"sse-cli still running after {timeout} s")
        rest = b""
        if not self.stdout.closed:
            with self.stdout:
                rest = self.stdout.read()
        assert self.status is not None, "the run raised: see the thread's exception above"
        assert isinstance(self.env.stderr, io.StringIO)
        return Result(self.status, rest, self.env.stderr.getvalue())


def start(
    *args: str, stdin: bytes = b"", stdout: IO[bytes] | None = None, **environ: str
) -> Running:
    """Start `sse-cli ARGS` in-process in a thread; read its stdout as it comes (or give a
    file to write it to, for output that nobody reads until the end)."""
    return Running(args, stdin, environ, stdout)


def run_cli(
    *args: str, input: bytes | None = None, timeout: float = 30, **env: str
) -> subprocess.CompletedProcess[bytes]:
    """Run `sse-cli ARGS` to its end; stdin is empty unless `input` is given."""
    return subprocess.run(
        [*SSE_CLI, *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        env=cli_env(**env),
        timeout=timeout,
    )


def spawn_cli(
    *args: str, stdout: int | None = subprocess.PIPE, **env: str
) -> subprocess.Popen[bytes]:
    """Start `sse-cli ARGS` with piped stdout and stderr and no stdin."""
    return subprocess.Popen(
        [*SSE_CLI, *args],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=cli_env(**env),
    )


def read_line(stream: IO[bytes], timeout: float = WAIT) -> bytes:
    """One line from a child's pipe, or fail the test if none comes within `timeout`."""
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no line on the pipe within {timeout} s") from None


def finish(proc: subprocess.Popen[bytes], timeout: float = WAIT) -> tuple[int, bytes, bytes]:
    """Wait for a spawned CLI to exit (killing it after `timeout`): status, rest of stdout, stderr.

    Both pipes are drained while waiting, so a chatty child never blocks on a full pipe, and
    closed at the end.
    """
    output: dict[str, bytes] = {}

    def drain(name: str, stream: IO[bytes] | None) -> None:
        if stream is not None and not stream.closed:
            with stream:
                output[name] = stream.read()

    drains = [
        threading.Thread(target=drain, args=(name, stream), daemon=True)
        for name, stream in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for thread in drains:
        thread.start()
    try:
        status = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(WAIT)
        raise AssertionError(f"sse-cli still running after {timeout} s") from None
    for thread in drains:
        thread.join(WAIT)
    return status, output.get("out", b""), output.get("err", b"")
