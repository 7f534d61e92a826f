"""`sse-cli serve` for tests: a fresh app on uvicorn in a thread of the test process, and what
tests ask of any running server (its `/stats`).

`serving(...)` builds a fresh `create_app(settings)` per server and runs it on a thread, bound
to 127.0.0.1 port 0 by the runner's own `listen`, on the runner's event loop and HTTP parser:
what a child `serve` would run, less the interpreter's start-up (0.3-1 s, far more on a busy
machine). sse-starlette's process-global shutdown flag is set only by a signal to uvicorn,
which a server on a thread never installs, so one server's end does not end the next one's
streams. A relay's commands (--exec, --exec-per-client) are children of the test process,
watched by the server's loop on its thread (uvloop's, or asyncio's thread-based child
watcher) and reaped when the server stops, as in a child `serve`. `serve_flags(ARGS)` gives
the settings `serve ARGS` would run with, and what the command wrote on stderr before
serving (`serving_args(ARGS)` serves them); what the app writes while it serves (the
replay's and the relay's lines) is on sys.stderr (pytest's `capsys`, or support/stderr.py's
`ServeStderr`). Each server also keeps what a child would print on stderr from its own
thread (`log`): the banner `listen` wrote, then the log records of the server's thread,
filtered and formatted as the runner's LOG_CONFIG does, the records kept for traceback
checks. Where the process is the point (signals, exit statuses, --workers, the process's RSS
and fds), tests start a child through `sse_cli.launcher`, as the demo and the benchmarks do.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import socket
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import pytest

from support.cli import WAIT, invoke

SHOWN = logging.Formatter("sse-cli: %(message)s")  # the runner's LOG_CONFIG format
SERVER_LOGGERS = ("uvicorn", "starlette", "fastapi", "sse_cli")  # a traceback here is a bug


class ServeLog:
    """What a child serve would have printed on stderr: its banner, then the log records of
    the server's thread that the runner's LOG_CONFIG shows (uvicorn and the project at
    WARNING, the access log unless -q, sse-starlette only at CRITICAL), as lines; and every
    record of that thread, for traceback checks."""

    def __init__(self, banner: list[str], access_log: bool) -> None:
        self.access_log = access_log
        self.records: list[tuple[int, logging.LogRecord]] = []  # (lines before it, record)
        self._lines = [f"{line}\n" for line in banner]
        self._seen = threading.Condition()

    def add(self, record: logging.LogRecord) -> None:
        name = record.name
        if name == "uvicorn.access":
            shown = self.access_log
        elif name.startswith("sse_starlette"):
            shown = record.levelno >= logging.CRITICAL
        else:
            shown = record.levelno >= logging.WARNING
        text = SHOWN.format(record) if shown else ""
        with self._seen:
            self.records.append((len(self._lines), record))
            self._lines += [f"{line}\n" for line in text.splitlines()]
            self._seen.notify_all()

    def mark(self) -> int:
        """How many lines so far: pass it to `lines(since=...)`."""
        with self._seen:
            return len(self._lines)

    def lines(self, since: int = 0) -> list[str]:
        with self._seen:
            return self._lines[since:]

    def wait_line(self, pattern: str, timeout: float = WAIT, since: int = 0) -> str:
        """The first line (from `since`) containing `pattern`, waiting up to `timeout`."""

        def found() -> str | None:
            return next((line for line in self._lines[since:] if pattern in line), None)

        with self._seen:
            self._seen.wait_for(lambda: found() is not None, timeout)
            line = found()
        if line is None:
            last = self.lines()[-1:] or ["no output"]
            raise AssertionError(f"no line with {pattern!r} in {timeout:g} s: {last[0].rstrip()}")
        return line

    def tracebacks(self, since: int = 0) -> list[logging.LogRecord]:
        """The ERROR records with an exception from the server's loggers, from line `since`."""
        with self._seen:
            records = [record for at, record in self.records if at >= since]
        return [
            record
            for record in records
            if record.levelno >= logging.ERROR
            and record.exc_info
            and record.name.split(".")[0] in SERVER_LOGGERS
        ]


class _Dispatch(logging.Handler):
    """One handler on the loggers servers write to: each record goes to the ServeLog of the
    server whose thread wrote it. (uvicorn.Config empties uvicorn.access's handlers and stops
    it propagating when the access log is off: each server puts this one back as it starts.)"""

    NAMES = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "sse_cli", "sse_starlette")

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.logs: dict[int, ServeLog] = {}
        self.last: logging.LogRecord | None = None  # a record seen by two of the loggers

    def emit(self, record: logging.LogRecord) -> None:
        log = self.logs.get(record.thread or 0)
        if log is not None and record is not self.last:
            self.last = record
            log.add(record)

    def capture(self, log: ServeLog) -> None:
        """Send this thread's records to `log`, at the levels a child serve logs at."""
        for name in self.NAMES:
            logger = logging.getLogger(name)
            if self not in logger.handlers:
                logger.addHandler(self)
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
        for name in ("uvicorn", "uvicorn.error", "sse_cli"):
            logger = logging.getLogger(name)
            if logger.level > logging.WARNING:  # as another test's uvicorn.Config left it
                logger.setLevel(logging.NOTSET)
        self.logs[threading.get_ident()] = log

    def forget(self) -> None:
        """Stop sending this thread's records anywhere (not `release`: the handler's lock)."""
        self.logs.pop(threading.get_ident(), None)


DISPATCH = _Dispatch()


class InProcessServer:
    """One app on a uvicorn server on its own thread and event loop; `url` once started.
    `stdin` is what a --stdin relay reads (a pipe the test writes to, say)."""

    def __init__(self, stdin: IO[bytes] | None = None, **fields: Any) -> None:
        import uvicorn

        from sse_cli.serve import ServeSettings, create_app
        from sse_cli.serve.runner import listen, stack

        self.settings = ServeSettings(**{"port": 0, **fields})
        self.app = create_app(self.settings, stdin=stdin)
        loop, parser = stack(self.settings.stack)
        self.sock, self.banner = listen(self.settings, (loop, parser))
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = ServeLog(self.banner, self.settings.access_log)
        self.config = uvicorn.Config(
            self.app,
            log_config=None,  # the test process's logging stays as pytest set it
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=self.settings.shutdown_timeout,
            server_header=False,
            loop=loop,
            http=parser,
        )
        self.ready = threading.Event()  # set once started, or once the thread has ended
        ready = self.ready

        class Server(uvicorn.Server):
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets)
                ready.set()  # started, or failed to start (then `started` is False)

        self.server = Server(self.config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="serve-in-process", daemon=True)

    def _run(self) -> None:
        from uvicorn._compat import asyncio_run

        DISPATCH.capture(self.log)
        try:
            asyncio_run(self._serve(), loop_factory=self.config.get_loop_factory())
        except BaseException as exc:  # reported by start() or stop()
            self.failure = exc
        finally:
            DISPATCH.forget()
            self.ready.set()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.server.serve(sockets=[self.sock])

    def start(self) -> InProcessServer:
        self.thread.start()
        if not self.ready.wait(WAIT) or not self.server.started:
            self.stop()
            raise AssertionError(f"the in-process server did not start: {self.failure!r}")
        return self

    @property
    def stderr(self) -> str:
        """What a child serve would have printed on stderr so far, from this server's thread."""
        return "".join(self.log.lines())

    def stop(self) -> None:
        """End the open streams (as Ctrl-C does), stop uvicorn, and join the thread."""
        from sse_cli.serve import stop_streams

        if self.loop is not None and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(stop_streams, self.app)
                self.loop.call_soon_threadsafe(end_sse_starlette_streams)
            except RuntimeError:  # the loop closed in between
                pass
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(WAIT)
        self.sock.close()
        assert not self.thread.is_alive(), "the in-process server did not stop"
        if self.failure is not None and not isinstance(self.failure, SystemExit):
            raise AssertionError(f"the in-process server failed: {self.failure!r}")


def end_sse_starlette_streams() -> None:
    """What sse-starlette does on a signal to uvicorn, for this thread's streams only: its
    shutdown state is kept per thread, and a server on a thread gets no signal."""
    from sse_starlette import sse

    state = getattr(sse, "_get_shutdown_state", lambda: None)()
    for event in list(getattr(state, "events", ())):  # else uvicorn's graceful timeout
        event.set()


@contextmanager
def serving(**fields: Any) -> Iterator[InProcessServer]:
    """A fresh app for `ServeSettings(port=0, **fields)` served on a thread for the block."""
    server = InProcessServer(**fields).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def serving_args(*args: str) -> Iterator[InProcessServer]:
    """What `sse-cli serve --port 0 ARGS` serves (`serve_flags`), on a thread for the block."""
    with serving(**serve_flags(*args)[0]) as server:
        yield server


def serve_flags(*args: str) -> tuple[dict[str, Any], str]:
    """What `sse-cli serve --port 0 ARGS` would serve, as the command builds it from its
    flags (their defaults, checks and --replay files), and what it wrote on stderr before
    serving (a --replay folder's warnings); nothing is served. `serving(**fields)` serves
    the first, so a test gets the child's settings without the child."""
    from sse_cli import serve

    chosen: list[Any] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(serve, "run_server", lambda settings, stdin=None: chosen.append(settings))
        done = invoke("serve", "--port", "0", *args, timeout=WAIT)
    assert done.status == 0 and len(chosen) == 1, done.stderr
    settings = chosen[0]
    named = {field.name: getattr(settings, field.name) for field in dataclasses.fields(settings)}
    return named, done.stderr


def tapes(*paths: str | os.PathLike[str]) -> tuple[Any, ...]:
    """`--replay PATH...` as serve reads them: the `replays=` of `serving`."""
    from sse_cli.serve.tapes import load_tapes

    return tuple(load_tapes([str(path) for path in paths]))


def stats(url: str) -> dict[str, int]:
    """The server's counters (`/stats`): streams, subscribers, events sent, abandoned..."""
    with urllib.request.urlopen(f"{url.rstrip('/')}/stats", timeout=WAIT) as response:
        reply = json.loads(response.read())
    assert isinstance(reply, dict), reply
    return {k: v for k, v in reply.items() if isinstance(v, int)}
