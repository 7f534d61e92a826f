"""`sse-cli demo`: start `sse-cli serve` on a free loopback port in a child process
(`sse_cli.launcher` does the starting). Stdlib only."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

from sse_cli.launcher import running_server as _running_server


def running_server(args: Sequence[str] = (), timeout: float = 20.0) -> AbstractContextManager[str]:
    """Run `sse-cli serve --port 0 ARGS` for the block; yield its base URL."""
    return _running_server(args, timeout, name="the demo server")
