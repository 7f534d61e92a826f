"""Child processes for the relays (`serve --exec`, `--exec-per-client`): starting one without
a shell, pumping a pipe through the line framing, and stopping one without leaving a zombie
or an orphan. Imports no endpoint module.

A child runs in a session (and process group) of its own, so a Ctrl-C typed at `serve`'s
terminal reaches `serve` alone, which then stops the child and everything it started (an
`sh -c` pipeline, say): SIGTERM to the group, SIGKILL `KILL_AFTER` seconds later if it is
still there, then reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from sse_cli.serve.framing import LineFramer

KILL_AFTER = 2.0  # seconds between SIGTERM and SIGKILL
READ_SIZE = 1 << 16
MIN_WAIT = 0.02  # seconds a read gets before a partial line is flushed, whatever its age


class ByteSource(Protocol):
    async def read(self, n: int) -> bytes: ...


def child_environment(extra: Mapping[str, str] = {}) -> dict[str, str]:  # noqa: B006
    """`serve`'s environment for a child, unbuffered (a Python child flushes each line),
    plus `extra`."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


async def start(argv: Sequence[str], env: Mapping[str, str]) -> asyncio.subprocess.Process:
    """Run `argv` (no shell) with stdin from /dev/null and both outputs piped."""
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env),
        start_new_session=True,
    )


def signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    """Send `sig` to the child's process group (the child and what it started)."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


async def stop(proc: asyncio.subprocess.Process, grace: float = KILL_AFTER) -> int:
    """SIGTERM to the child's group, then SIGKILL to what is left of it after `grace`
    seconds; returns once the child is reaped and its group is gone."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    if proc.returncode is None:
        signal_group(proc, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except asyncio.TimeoutError:
            signal_group(proc, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    await proc.wait()
    # What the child started (the rest of an `sh -c` pipeline, say) is not ours to reap:
    # wait until it has gone, and SIGKILL what is still there at the deadline.
    if not await group_gone(proc.pid, deadline):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        await group_gone(proc.pid, loop.time() + 0.5)
    return proc.returncode if proc.returncode is not None else -1


async def group_gone(group: int, deadline: float) -> bool:
    """Whether process group `group` has no running process left, looking until `deadline`
    (a dead one that waits for init to reap it counts as gone)."""
    loop = asyncio.get_running_loop()
    while True:
        if not group_running(group):
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)


def group_running(group: int) -> bool:
    """Whether a process of `group` runs: from /proc where there is one (so zombies are
    told apart), else whether the group can be signalled. A group with no process at all,
    the usual answer once it stopped, is known from one signal, without reading /proc."""
    try:
        os.killpg(group, 0)
        signalled = True
    except ProcessLookupError:
        return False
    except PermissionError:
        signalled = False
    try:
        entries = os.listdir("/proc")
    except OSError:
        entries = []
    if "self" not in entries:
        return signalled
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if len(fields) > 2 and int(fields[2]) == group and fields[0] != b"Z":
                return True
    return False


def exit_data(status: int) -> str:
    """An `exit` event's data: the exit status as a shell reports it, and the signal that
    ended the child, if one did."""
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = str(-status)
        return json.dumps({"status": 128 - status, "signal": name})
    return json.dumps({"status": status})


async def pump(
    source: ByteSource,
    framer: LineFramer,
    flush_after: float,
    emit: Callable[[list[str]], Awaitable[None]],
) -> None:
    """Read `source` to its end, handing `emit` each batch of lines as it completes; a
    partial line is handed over once the source has been silent `flush_after` seconds.

    One read is kept across the waits, never cancelled, and given at least MIN_WAIT: time
    spent handing lines on (a slow `emit`) is not time the source was silent, so a line
    whose rest is already in the pipe is never cut in two."""
    loop = asyncio.get_running_loop()
    reading: asyncio.Future[bytes] | None = None
    try:
        while True:
            if reading is None:
                reading = asyncio.ensure_future(source.read(READ_SIZE))
            due = framer.due(flush_after)
            if due is not None and not reading.done():
                await asyncio.wait({reading}, timeout=max(MIN_WAIT, due - loop.time()))
                if not reading.done():
                    await emit(framer.flush())
                    continue
            chunk = await reading
            reading = None
            if not chunk:
                lines = framer.close()
                if lines:
                    await emit(lines)
                return
            lines = framer.feed(chunk, loop.time())
            if lines:
                await emit(lines)
    finally:
        if reading is not None:
            reading.cancel()
