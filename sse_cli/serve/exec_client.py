"""GET /exec with `serve --exec-per-client CMD`: each client gets a process of its own, and its
lines as a stream (websocketd's model, over SSE).

The request reaches the process through its environment only, never its command line:
`QUERY_STRING` (the raw query), `REMOTE_ADDR`, and `LAST_EVENT_ID` (the header, or
`?last_event_id=`; empty on a first connection). Events are `stdout` and `stderr` lines with
ids counting on from the client's last event id when it is a number (1, 2, 3 ... otherwise),
and `exit` (the status as JSON) once the process ends, which ends the stream for good: its
id is `N-exit`, and a reconnect carrying it gets 204 (stop reconnecting) instead of running
the command again, as the demo's finite streams answer a reconnect after their last id.

A client that leaves gets its process stopped (SIGTERM, SIGKILL 2 s later) and reaped before
its stream slot is freed, so --max-streams caps the processes too. Shutdown stops every one.

A bare ASGI app, like /subscribe: it sets its own headers and ends its own body.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from sse_cli.encode import encode_comment, encode_event
from sse_cli.serve.auth import refusal
from sse_cli.serve.children import child_environment, exit_data, pump, start, stop
from sse_cli.serve.framing import LineFramer
from sse_cli.serve.pubsub import BARE_HEADERS, STREAM_HEAD, disconnected, resume_id
from sse_cli.serve.streams import SECURITY_HEADERS, error_response

OPENING = encode_comment("running the command for this client")
#: Ends the id of the `exit` event: a reconnect carrying such an id gets 204.
EXIT_ID = "-exit"
ENDED_HEAD = [(b"cache-control", b"no-cache"), *SECURITY_HEADERS]
QUEUED = 64  # batches of lines waiting for a slow client before its process is held back


class Clients:
    """The per-client processes running now, so shutdown can stop them all."""

    def __init__(self) -> None:
        self.running: set[asyncio.subprocess.Process] = set()
        self.closing = asyncio.Event()

    async def close(self) -> None:
        self.closing.set()
        procs = list(self.running)
        await asyncio.gather(*(stop(proc) for proc in procs), return_exceptions=True)


def environment(scope: Scope) -> dict[str, str] | None:
    """The request as the process sees it; None if a value cannot be an environment value."""
    query = scope.get("query_string", b"").decode("latin-1")
    client = scope.get("client") or ("", 0)
    last = resume_id(scope, parse_qs(query, keep_blank_values=True))
    values = {"QUERY_STRING": query, "REMOTE_ADDR": str(client[0]), "LAST_EVENT_ID": last}
    if any("\0" in value for value in values.values()):
        return None
    return values


class ExecStream:
    """GET /exec as a bare ASGI app; its settings and `Clients` are the app's."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        settings = state.shared.settings
        clients: Clients = state.exec_clients
        command = settings.relay.per_client if settings.relay is not None else ()
        if scope["method"] not in ("GET", "HEAD"):
            await error_response(405, "use GET for /exec", BARE_HEADERS)(scope, receive, send)
            return
        denied = refusal(scope, settings.jwt, "publish", "exec")
        if denied is not None:
            headers = {**BARE_HEADERS, **denied.headers}
            await error_response(denied.status, str(denied), headers)(scope, receive, send)
            return
        if not command:
            message = "no command: start serve with --exec-per-client CMD"
            await error_response(404, message, BARE_HEADERS)(scope, receive, send)
            return
        env = environment(scope)
        if env is None:
            await error_response(400, "NUL in the request", BARE_HEADERS)(scope, receive, send)
            return
        if env["LAST_EVENT_ID"].endswith(EXIT_ID):
            await send({"type": "http.response.start", "status": 204, "headers": ENDED_HEAD})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if scope["method"] == "HEAD" or clients.closing.is_set():
            await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEAD})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        try:
            proc = await start(command, child_environment(env))
        except OSError as exc:
            message = f"cannot run the command: {exc.strerror or exc}"
            await error_response(500, message, BARE_HEADERS)(scope, receive, send)
            return
        clients.running.add(proc)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEAD})
            await send({"type": "http.response.body", "body": OPENING, "more_body": True})
            last = env["LAST_EVENT_ID"]
            first = int(last) + 1 if last.isascii() and last.isdigit() and len(last) < 19 else 1
            session = Session(proc, first, settings.max_body, settings.relay.flush_after)
            with state.shared.activity.generator():
                await session.serve(receive, send, clients.closing)
        finally:
            await stop(proc)
            clients.running.discard(proc)


class Session:
    """One client's process and stream."""

    def __init__(
        self, proc: asyncio.subprocess.Process, first: int, limit: int, flush_after: float
    ) -> None:
        self.proc = proc
        self.next_id = first
        self.limit = limit
        self.flush_after = flush_after
        self.outbox: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=QUEUED)

    def encode(self, event: str, lines: list[str]) -> bytes:
        blocks = []
        for line in lines:
            blocks.append(encode_event(line, event=event, id=str(self.next_id)))
            self.next_id += 1
        return b"".join(blocks)

    async def produce(self) -> None:
        proc = self.proc
        assert proc.stdout is not None and proc.stderr is not None

        async def out(lines: list[str]) -> None:
            await self.outbox.put(self.encode("stdout", lines))

        async def err(lines: list[str]) -> None:
            await self.outbox.put(self.encode("stderr", lines))

        await asyncio.gather(
            pump(proc.stdout, LineFramer(self.limit), self.flush_after, out),
            pump(proc.stderr, LineFramer(self.limit), self.flush_after, err),
        )
        status = await proc.wait()
        ending = encode_event(exit_data(status), event="exit", id=f"{self.next_id}{EXIT_ID}")
        await self.outbox.put(ending)
        await self.outbox.put(None)

    async def serve(self, receive: Receive, send: Send, closing: asyncio.Event) -> None:
        """Write what the process says until it ends, the client goes or serve stops."""
        gone = asyncio.ensure_future(disconnected(receive))
        ending = asyncio.ensure_future(closing.wait())
        producer = asyncio.ensure_future(self.produce())
        try:
            while True:
                item = asyncio.ensure_future(self.outbox.get())
                await asyncio.wait({item, gone, ending}, return_when=asyncio.FIRST_COMPLETED)
                if not item.done():
                    item.cancel()
                    if gone.done():
                        return
                    break  # serve is stopping
                body = item.result()
                if body is None:
                    break
                await send({"type": "http.response.body", "body": body, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            for task in (gone, ending, producer):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer


exec_stream = ExecStream()
