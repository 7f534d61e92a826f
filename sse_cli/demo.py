"""`sse-cli demo`: start `sse-cli serve` on a free loopback port in a child process.

The child's start-up banner (stderr) names the URL it bound; `start_server` waits for it,
then drains the child's stderr on a thread so the child never blocks on a full pipe.
Stdlib only.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sse_cli.errors import SseCliError

_BANNER = re.compile(r"serving on (http://\S+?)/?(?:\s|$)")


class DemoError(SseCliError):
    pass


@contextmanager
def running_server(args: Sequence[str] = (), timeout: float = 20.0) -> Iterator[str]:
    """Run `sse-cli serve --port 0 ARGS` for the duration of the block; yield its base URL."""
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    command = [sys.executable, "-m", "sse_cli", "serve", "--port", "0", *args]
    child = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
    )
    drain = threading.Thread(target=lambda: None)
    try:
        url, drain = _wait_for_banner(child, timeout)
        yield url
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if drain.ident is not None:
            drain.join(5)  # the child has exited, so its stderr is at its end
        assert child.stderr is not None
        child.stderr.close()


def _wait_for_banner(child: subprocess.Popen[str], timeout: float) -> tuple[str, threading.Thread]:
    assert child.stderr is not None
    stream = child.stderr
    found: list[str] = []
    seen: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in stream:
            if not found:
                seen.append(line.rstrip())
                match = _BANNER.search(line)
                if match:
                    found.append(match.group(1))
                    ready.set()
        ready.set()

    drain = threading.Thread(target=read, name="serve-stderr", daemon=True)
    drain.start()
    deadline = time.monotonic() + timeout
    ready.wait(max(0.0, deadline - time.monotonic()))
    if not found:
        detail = seen[-1] if seen else "no output"
        raise DemoError(f"the demo server did not start: {detail}")
    return found[0], drain
