"""No status line from a `listen` in the background.

`sse-cli listen URL &` in a shell with job control runs in a process group that is not the
terminal's foreground one: a status line drawn from there lands on the shell's prompt and
erases what the next command prints. It draws none, as `rsync --progress` and `pv` behave;
the same command in the foreground still draws it.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable

import pexpect
from support.cli import WAIT
from support.sockets import Handler, SocketServer, stream

BODY = b"id: 1\ndata: first\n\nid: 2\ndata: second\n\n"
STATUS = "connected, HTTP 200"


def in_a_shell(script: str) -> str:
    """What a job-control shell in a terminal (a pty) shows while it runs `script`."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "NO_COLOR")}
    env.update(TERM="xterm-256color")
    shell = pexpect.spawn(
        "bash",
        ["--norc", "--noprofile", "-c", f"set -m; {script}"],
        env=env,
        dimensions=(40, 120),
        encoding="utf-8",
        timeout=WAIT,
    )
    try:
        shell.expect(pexpect.EOF)
        output: str = shell.before
    finally:
        shell.close()
    assert shell.exitstatus == 0, output
    return output


MARK = "== now in the background =="


def test_a_background_listen_draws_no_status_line(
    serve_socket: Callable[[Handler], SocketServer],
) -> None:
    """One shell runs the same listen in the foreground, then in the background."""
    server = serve_socket(stream(BODY))
    listen = shlex.join([sys.executable, "-m", "sse_cli", "listen", server.url, "--no-reconnect"])
    output = in_a_shell(f"{listen}; echo {shlex.quote(MARK)}; {listen} & wait $!")
    foreground, background = output.split(MARK)
    for shown in (foreground, background):  # the events show either way
        assert "first" in shown and "second" in shown, output
    assert STATUS in foreground, output
    assert STATUS not in background, output
