"""`serve` with a relay (--exec, --stdin, --exec-per-client): in-process (`relay_serving`, a
fresh app on a thread, whose relay starts its commands as children of the test process);
small Python scripts for the relay to run, and process checks by PID (test_server_hardening's
Ctrl-C test uses them on a serve child)."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sse_cli.serve.relay_settings import RelaySettings, relay_settings
from support.cli import WAIT
from support.serve import InProcessServer
from support.stderr import ServeStderr

PYTHON = sys.executable


def script(folder: Path, name: str, body: str) -> str:
    """Write a Python script; return the command line that runs it (for --exec)."""
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return f"{PYTHON} {path}"


def forever_script(folder: Path) -> str:
    """A command that prints its pid, then runs for 60 s unless stopped."""
    return script(
        folder,
        "forever",
        "import os, time\nprint(os.getpid(), flush=True)\n"
        "for _ in range(6000):\n    time.sleep(0.01)\n",
    )


def wait_for_file(path: Path) -> str:
    """Script text that waits (bounded) until the test creates `path`."""
    return (
        "import os, time\n"
        f"for _ in range({int(WAIT / 0.01)}):\n"
        f"    if os.path.exists({str(path)!r}):\n"
        "        break\n"
        "    time.sleep(0.01)\n"
    )


class RelayServer:
    """A relay's server running in-process: `url`, what it said (`said`), and the processes
    its relay started that are still there (`children()`)."""

    def __init__(self, server: InProcessServer, said: ServeStderr, before: set[int]) -> None:
        self.server = server
        self.url = server.url
        self.said = said
        self._before = before

    def stop(self) -> None:
        """Stop the server as Ctrl-C stops serve (less the signal); the block may go on."""
        self.server.stop()

    def children(self) -> set[int]:
        """The processes the relay started that exist now, zombies included: descendants of
        this process, new since the server started, in a session other than this process's
        (the relay starts each command in a session of its own; what the test starts, such
        as a redis-server, stays in the test's)."""
        ours = os.getsid(0)
        return {
            pid
            for pid, (_, session) in descendant_table(os.getpid()).items()
            if pid not in self._before and session != ours
        }


@contextmanager
def relay_serving(stdin: IO[bytes] | None = None, **fields: Any) -> Iterator[RelayServer]:
    """`serve` with `ServeSettings(port=0, **fields)` (a `relay=RelaySettings(...)`) on a
    thread of this process for the block, its stderr and log lines kept; `stdin` is what a
    --stdin relay reads. Then stopped as Ctrl-C stops it, and no process the relay started
    may be left: stopping the server stops and reaps them all."""
    before = set(descendant_table(os.getpid()))
    with ServeStderr() as said:
        server = InProcessServer(stdin, **fields).start()
        relayed = RelayServer(server, said, before)
        try:
            yield relayed
        finally:
            server.stop()
    left = relayed.children()
    assert not left, f"the relay's processes outlived the server: {sorted(left)}"


@contextmanager
def stdin_pipe() -> Iterator[tuple[IO[bytes], IO[str]]]:
    """A pipe for a --stdin relay: the end it reads and the end the test writes (text); the
    writing end is closed first (so the relay's reader sees the end of its input)."""
    read_end, write_end = os.pipe()
    reader = os.fdopen(read_end, "rb", buffering=0)
    writer = os.fdopen(write_end, "w", encoding="utf-8")
    try:
        yield reader, writer
    finally:
        if not writer.closed:
            writer.close()
        reader.close()


def alive(pid: int) -> bool:
    """Whether `pid` is a process, zombies included (a zombie is a child not reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return bool(stat)


def running_now(pid: int) -> bool:
    """Whether `pid` runs (a dead process waiting for its reaper does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(pid: int) -> set[int]:
    """Every process whose parent chain reaches `pid` (from /proc)."""
    return set(descendant_table(pid))


def descendant_table(pid: int) -> dict[int, tuple[int, int]]:
    """Every process whose parent chain reaches `pid`, zombies included (from /proc): its
    parent and its session."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            table[int(entry)] = (int(fields[1]), int(fields[3]))
    found: dict[int, tuple[int, int]] = {}
    frontier = {pid}
    while frontier:
        frontier = {child for child, (parent, _) in table.items() if parent in frontier}
        found |= {child: table[child] for child in frontier}
    return found


def relay_of(
    command: str | None = None,
    stdin: bool = False,
    topic: str | None = None,
    restart: bool = False,
    lines: str | None = None,
    flush_after: float | None = None,
    per_client: str | None = None,
) -> RelaySettings:
    """The relay that `serve --exec COMMAND --stdin --exec-topic TOPIC --exec-restart --lines
    LINES --flush-after S --exec-per-client CMD` asks for, checked as the command checks it."""
    settings = relay_settings(command, stdin, topic, restart, lines, flush_after, per_client)
    assert settings is not None, "no relay asked for"
    return settings
