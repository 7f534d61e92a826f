"""The CLI as a subprocess: run to its end, or spawn and read its pipes with bounded waits."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from typing import IO

SSE_CLI = [sys.executable, "-m", "sse_cli"]
WAIT = 15.0  # the bound on any single wait in a test, in seconds


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: no PYTHONUNBUFFERED (it hides missing flushes)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "NO_COLOR")}
    env.update(extra)
    return env


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
