"""`serve` with a relay (--exec, --stdin, --exec-per-client) as a child process, small Python
scripts for it to run, and process checks by PID."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sse_cli.launcher import Launched, LaunchError, child_env, serve_command
from support.cli import WAIT

PYTHON = sys.executable


def script(folder: Path, name: str, body: str) -> str:
    """Write a Python script; return the command line that runs it (for --exec)."""
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return f"{PYTHON} {path}"


def wait_for_file(path: Path) -> str:
    """Script text that waits (bounded) until the test creates `path`."""
    return (
        "import os, time\n"
        f"for _ in range({int(WAIT / 0.01)}):\n"
        f"    if os.path.exists({str(path)!r}):\n"
        "        break\n"
        "    time.sleep(0.01)\n"
    )


@contextmanager
def relay_server(args: Sequence[str], stdin: int | None = subprocess.DEVNULL) -> Iterator[Launched]:
    """`sse-cli serve --port 0 -q ARGS` running for the block, then Ctrl-C (killed if it does
    not end)."""
    proc = subprocess.Popen(
        serve_command(["-q", *args]),
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=child_env(),
    )
    server = Launched(proc)
    try:
        line = server.wait_line("serving on ", WAIT)
    except LaunchError:
        server.kill()
        raise
    server.url = line.split("serving on ", 1)[1].split()[0]
    try:
        yield server
    finally:
        if proc.stdin is not None and not proc.stdin.closed:
            proc.stdin.close()
        try:
            server.stop()
        except subprocess.TimeoutExpired:
            pass


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
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found
