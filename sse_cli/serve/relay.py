"""The shared relay: `serve --exec CMD` (one process for every client) and `CMD | serve --stdin`
publish each line they read into the broker, so /subscribe serves it with ids, history and
resume, and with --broker every `serve` process sharing that broker serves it too.

Event types: `stdout` and `stderr` for the command's lines and `exit` (its status as JSON)
when it ends; plain `message` events for standard input's lines and `end` (the counts as
JSON) at its end. With `--lines json` each line is an event in `listen -f json`'s form
(`event`, `data`; an `id` is replaced by this server's, which resuming needs); a line that
is not becomes a `stderr` event saying so, and is counted. With --exec-restart the command
runs again after it ends, after a backoff (1 s doubling to 30 s; back to 1 s after a run of
30 s or more). The app's lifespan starts the relay and stops it; --stdin reads the standard
input the app was given (the process's own unless a caller hands it another stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import IO

from sse_cli.protocol.reconnect import Backoff
from sse_cli.serve.brokers import Broker, BrokerUnavailableError
from sse_cli.serve.children import READ_SIZE, child_environment, exit_data, pump, start, stop
from sse_cli.serve.framing import LineFramer
from sse_cli.serve.relay_settings import RelaySettings

RESTART_CAP = 30.0  # seconds: the longest wait before a restart
STEADY = 30.0  # seconds: a run this long resets the backoff
BATCH = 64  # lines published, at most, between two turns of the subscribers' writers


def json_event(line: str) -> tuple[str | None, str]:
    """A `listen -f json` line's event type and data; ValueError saying what is wrong."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    data, event = value.get("data"), value.get("event")
    if not isinstance(data, str):
        raise ValueError('no "data" string')
    if event is not None and (not isinstance(event, str) or not event or "\n" in event):
        raise ValueError('"event" is not a one-line name')
    if event is not None and ("\r" in event or "\0" in event):
        raise ValueError('"event" is not a one-line name')
    return (None if event == "message" else event), data


class Relay:
    """Publishes the lines of the --exec command (run, and rerun) or of standard input."""

    def __init__(
        self,
        broker: Broker,
        settings: RelaySettings,
        max_line: int,
        stdin: IO[bytes] | None = None,
    ) -> None:
        self.broker = broker
        self.settings = settings
        self.stdin = stdin  # --stdin's source; None: the process's standard input
        self.topic = settings.topic_name
        self.max_line = max_line
        self.lines = 0
        self.invalid = 0
        self.lost = 0  # lines dropped while the broker could not be reached
        self.proc: asyncio.subprocess.Process | None = None
        self.stopping = False
        self.task: asyncio.Task[None] | None = None
        # Under a quarter of --queue-size: a subscriber that keeps up is never dropped.
        self.batch = max(1, min(BATCH, broker.fanout.queue_size // 4))

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.run())

    async def close(self) -> None:
        """Stop the command (SIGTERM, SIGKILL 2 s later) or stop reading standard input."""
        self.stopping = True
        if self.proc is not None:
            await stop(self.proc)
        if self.task is not None:
            await asyncio.wait({self.task}, timeout=0.5)  # to publish the exit event
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # the broker closed first, say: the server is ending
                say(f"the relay stopped: {exc}")

    async def run(self) -> None:
        if self.settings.stdin:
            await self.relay_stdin()
        else:
            await self.relay_command()

    async def publish(self, event: str | None, data: str) -> None:
        """Publish one event; while the broker cannot be reached, lines are dropped (the
        command is never held back), counted, and the outage and its end are logged."""
        try:
            await self.broker.publish(self.topic, event, data)
        except BrokerUnavailableError as exc:
            if not self.lost:
                say(f"the relay is dropping lines: {exc}")
            self.lost += 1
            return
        if self.lost:
            say(f"the relay publishes again; {self.lost} lines were dropped")
            self.lost = 0

    async def relay_stdin(self) -> None:
        source = ThreadedStdin(self.stdin)
        await pump(source, LineFramer(self.max_line), self.settings.flush_after, self.emit_input)
        counts = {"lines": self.lines, "invalid": self.invalid}
        await self.publish("end", json.dumps(counts))
        say(f"standard input ended after {self.lines} lines ({self.invalid} invalid)")

    async def relay_command(self) -> None:
        backoff = Backoff(cap=RESTART_CAP, jitter=0.0)
        while not self.stopping:
            began = time.monotonic()
            await self.run_once()
            if not self.settings.restart or self.stopping:
                return
            if time.monotonic() - began >= STEADY:
                backoff.reset()
            wait = backoff.next_delay(1.0)
            say(f"--exec-restart: running the command again in {wait:g} s")
            await asyncio.sleep(wait)

    async def run_once(self) -> None:
        try:
            self.proc = proc = await start(self.settings.command, child_environment())
        except OSError as exc:
            await self.publish("stderr", f"sse-cli: cannot run the command: {exc}")
            await self.publish("exit", json.dumps({"status": 127}))
            return
        assert proc.stdout is not None and proc.stderr is not None
        limit, wait = self.max_line, self.settings.flush_after
        await asyncio.gather(
            pump(proc.stdout, LineFramer(limit), wait, self.emit_output),
            pump(proc.stderr, LineFramer(limit), wait, self.emit_errors),
        )
        status = await proc.wait()
        await self.publish("exit", exit_data(status))

    async def emit_output(self, lines: list[str]) -> None:
        if self.settings.lines == "json":
            await self.emit_input(lines)
        else:
            await self.publish_lines("stdout", lines)

    async def emit_errors(self, lines: list[str]) -> None:
        await self.publish_lines("stderr", lines)

    async def publish_lines(self, event: str | None, lines: list[str]) -> None:
        """Publish each line in order, letting the subscribers' writers run every few
        lines: one read can hold thousands of lines, and a subscriber's inbox counts them
        against --queue-size until its writer runs."""
        for n, line in enumerate(lines, 1):
            await self.publish(event, line)
            if n % self.batch == 0:
                await asyncio.sleep(0)

    async def emit_input(self, lines: list[str]) -> None:
        """Standard input's lines (or --exec's stdout with --lines json)."""
        if self.settings.lines != "json":
            self.lines += len(lines)
            await self.publish_lines(None, lines)
            return
        for n, line in enumerate(lines, 1):
            self.lines += 1
            if n % self.batch == 0:
                await asyncio.sleep(0)
            if not line.strip():
                continue
            try:
                event, data = json_event(line)
            except ValueError as exc:
                self.invalid += 1
                warning = (
                    f"sse-cli: line {self.lines} is not an event in listen -f json's form "
                    f"({exc}); skipped ({self.invalid} so far)"
                )
                await self.publish("stderr", warning)
                continue
            await self.publish(event, data)


class ThreadedStdin:
    """Standard input read by a daemon thread, whatever it is (a pipe, a file, a terminal),
    handed over through a small queue, so a slow publisher holds the writer back and a
    blocked read never holds up the end of `serve`."""

    def __init__(self, stream: IO[bytes] | None = None) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=8)
        self.loop = asyncio.get_running_loop()
        threading.Thread(target=self.read_all, args=(chunks_of(stream),), daemon=True).start()

    def read_all(self, read: Callable[[], bytes]) -> None:
        while True:
            try:
                chunk = read()
            except (OSError, ValueError):  # a closed stream ends like an empty one
                chunk = b""
            try:
                asyncio.run_coroutine_threadsafe(self.queue.put(chunk), self.loop).result()
            except RuntimeError:  # the loop has closed: serve is ending
                return
            if not chunk:
                return

    async def read(self, n: int) -> bytes:
        return await self.queue.get()


def chunks_of(stream: IO[bytes] | None) -> Callable[[], bytes]:
    """One blocking read of what has arrived, up to READ_SIZE bytes: `os.read` on the
    stream's file descriptor (fd 0 for None) where it has one, so no buffer sits between
    the writer and the relay and no lock of a buffered reader is held by the thread at
    exit; else the stream's own `read1` or `read` (an in-memory stream, say)."""
    if stream is None:
        return lambda: os.read(0, READ_SIZE)
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is both
        read = getattr(stream, "read1", stream.read)
        return lambda: bytes(read(READ_SIZE))
    return lambda: os.read(fd, READ_SIZE)


def say(message: str) -> None:
    sys.stderr.write(f"sse-cli: {message}\n")
    sys.stderr.flush()


@contextlib.asynccontextmanager
async def relaying(
    broker: Broker,
    settings: RelaySettings | None,
    max_line: int,
    stdin: IO[bytes] | None = None,
) -> AsyncIterator[None]:
    """The app's lifespan: the shared relay runs while the app does."""
    relay = None
    if settings is not None and settings.shared:
        relay = Relay(broker, settings, max_line, stdin)
        relay.start()
    try:
        yield
    finally:
        if relay is not None:
            await relay.close()
