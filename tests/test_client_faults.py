"""Attacks on the client: hostile and broken servers, dropped and silent connections, a reader
that stops reading, signals, TLS and redirects.

Every server is a real loopback socket (`SocketServer`), the CLI runs in-process (`invoke`,
or `start` with stdout on a real pipe), and every wait is on a condition with a timeout;
every loop is bounded in count and time. Where the process is the point (peak RSS, Ctrl-C) it
runs as a subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
from support.cli import WAIT, cli_env, finish, invoke, read_line, start
from support.measure import memory_kib
from support.sockets import (
    Handler,
    Request,
    SocketServer,
    by_connection,
    endless,
    head,
    steps,
    stream,
)
from support.waiting import wait_until

Serve = Callable[[Handler], SocketServer]
Spawn = Callable[..., subprocess.Popen[bytes]]

MIB = 1 << 20
FLOOD = 64 * MIB  # what a hostile server sends without ending a line or an event
BOUND = 16 * MIB  # the default --max-event-size
MARGIN = 16 * MIB  # peak RSS allowed over a normal run's, besides the bound
LINGER_ZERO = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST, not FIN


# Helpers


def event(i: int, eol: str = "\n") -> bytes:
    """Event `i`: an id, a type, two data lines (2-, 3- and 4-byte characters), a comment."""
    lines = [f"id: {i}", "event: tick", f"data: {i} é 糕 😀", "data: second line", ": note"]
    return (eol.join(lines) + eol + eol).encode()


def expected(i: int) -> dict[str, Any]:
    return {"event": "tick", "data": f"{i} é 糕 😀\nsecond line", "id": str(i)}


def events(first: int, last: int) -> bytes:
    return b"".join(event(i) for i in range(first, last + 1))


def json_lines(out: bytes) -> list[dict[str, Any]]:
    """stdout as JSON lines; fails unless it is whole lines only (empty, or ending in a newline)."""
    assert out == b"" or out.endswith(b"\n"), f"stdout ends in a partial line: {out[-80:]!r}"
    return [json.loads(line) for line in out.splitlines()]


def resume_point(request: Request) -> int:
    """The id to resume after: Last-Event-ID, which must be one this module's servers sent."""
    last = request.headers.get("last-event-id")
    if last is None:
        return 0
    assert last.isdigit(), f"Last-Event-ID {last!r} is not an id the server sent"
    return int(last)


def resuming(total: int) -> Handler:
    """Sends `retry: 0`, then every event after the request's Last-Event-ID up to `total`."""

    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(head() + b"retry: 0\n\n" + events(resume_point(request) + 1, total))

    return handler


def text_of(err: str | bytes) -> str:
    """stderr as text, from a subprocess (bytes) or an in-process run (text)."""
    return err if isinstance(err, str) else err.decode(errors="replace")


def error_lines(err: str | bytes) -> list[str]:
    return [line for line in text_of(err).splitlines() if line.startswith("sse-cli: error:")]


def assert_no_traceback(err: str | bytes) -> None:
    text = text_of(err)
    assert "Traceback" not in text and "Exception ignored" not in text, text


# Bounded memory against a hostile server


def flood(prefix: bytes, unit: bytes, total: int = FLOOD) -> Handler:
    """Sends `prefix`, then `unit` repeated to `total` bytes (or until the client leaves)."""
    block = unit * max(1, 65536 // len(unit))

    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(head() + prefix)
        for _ in range(total // len(block) + 1):
            conn.sendall(block)

    return handler


# One interpreter measures every flood: it imports the CLI once, then forks a child per run,
# which resets its peak (/proc/self/clear_refs) and runs `sse-cli ARGS` with stdout and
# stderr in files; each child's peak is measured from the same start as the normal run's.
FORKED_PEAKS = """\
import json, os, sys
runs, folder = json.loads(sys.argv[1]), sys.argv[2]
sys.argv[0] = "sse-cli"
from sse_cli import process
process.start()
from sse_cli.cli import main
import sse_cli.client, sse_cli.cli.listen
for n, args in enumerate(runs):
    pid = os.fork()
    if pid == 0:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        for fd, name in ((1, "out"), (2, "err")):
            os.dup2(os.open(f"{folder}/{n}.{name}", os.O_WRONLY | os.O_CREAT), fd)
        sys.argv[1:] = args
        try:
            main()
        except SystemExit as exit:
            status = exit.code if isinstance(exit.code, int) else 1
        sys.stdout.flush()
        sys.stderr.flush()
        with open("/proc/self/status") as lines:
            peak = next(line for line in lines if line.startswith("VmHWM:")).split()[1]
        with open(f"{folder}/{n}.peak", "w") as out:
            out.write(peak)
        os._exit(status)
    _, status = os.waitpid(pid, 0)
    with open(f"{folder}/{n}.status", "w") as out:
        out.write(str(os.waitstatus_to_exitcode(status)))
"""


@dataclass(frozen=True)
class Measured:
    """One forked run: its exit status, output and peak resident set size in bytes."""

    status: int
    stdout: bytes
    stderr: str
    peak: int


def run_forked(folder: Path, runs: list[list[str]]) -> list[Measured]:
    """Run `sse-cli ARGS` for each of `runs` in turn, each forked from one interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", FORKED_PEAKS, json.dumps(runs), str(folder)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=cli_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    return [
        Measured(
            int((folder / f"{n}.status").read_text()),
            (folder / f"{n}.out").read_bytes(),
            (folder / f"{n}.err").read_text(),
            int((folder / f"{n}.peak").read_text()) * 1024,
        )
        for n in range(len(runs))
    ]


#: (id, prefix, unit): 64 MiB that never ends an event, each of which must fail with exit 7
#: naming --max-event-size in memory bounded by it...
UNENDED = [
    ("a-data-line-with-no-end", b"data: ", b"x"),
    ("a-comment-with-no-end", b":", b"x"),
    ("data-lines-and-no-blank-line", b"", b"data: ab\n"),
    ("a-line-of-4-byte-characters", b"data: ", "😀".encode()),
]
#: ...and 64 MiB of lines that buffer nothing, which must run to the end in flat memory.
FLAT = [
    ("comments", b":" + b"z" * 1000 + b"\n"),
    ("event-lines", b"event: " + b"y" * 1000 + b"\n"),
    ("id-lines", b"id: " + b"i" * 1000 + b"\n"),
]


def test_64_mib_floods_fail_naming_the_flag_or_run_flat_in_bounded_memory(
    tmp_path: Path,
) -> None:
    floods = [(name, prefix, unit) for name, prefix, unit in UNENDED]
    floods += [(name, b"", unit) for name, unit in FLAT]
    with contextlib.ExitStack() as servers:
        normal = servers.enter_context(SocketServer(stream(events(1, 3))))
        urls = [normal.url]
        for _, prefix, unit in floods:
            urls.append(servers.enter_context(SocketServer(flood(prefix, unit))).url)
        baseline, *measured = run_forked(tmp_path, [["listen", u, "--no-reconnect"] for u in urls])
    assert baseline.status == 0, baseline.stderr
    assert len(json_lines(baseline.stdout)) == 3
    print(f"a normal run: peak RSS {baseline.peak / MIB:.0f} MiB")
    for (name, _, unit), run in zip(floods, measured, strict=True):
        over = f"{name}: peak RSS {(run.peak - baseline.peak) / MIB:.0f} MiB over a normal run"
        print(over)
        assert run.stdout == b"", name
        if name in {n for n, _, _ in UNENDED}:
            assert run.status == 7, (name, run.stderr)
            [error] = error_lines(run.stderr)
            assert "--max-event-size" in error, name
            assert run.stderr.splitlines()[-1] == error, name
            # A 4-byte character is one character of the bound but 4 bytes of memory.
            bound = BOUND * (4 if len(unit) == 4 else 1)
            assert run.peak - baseline.peak < bound + MARGIN, over
        else:
            assert run.status == 0, (name, run.stderr)
            assert run.peak - baseline.peak < MARGIN, over


def test_max_event_size_is_the_exact_bound_on_an_events_data(serve_socket: Serve) -> None:
    # 1K: data of exactly 1024 characters (two lines and the newline joining them) dispatches;
    # one character more fails, after delivering the events before it.
    fits = b"data: " + b"a" * 511 + b"\ndata: " + b"b" * 512 + b"\n\n"
    over = b"data: " + b"c" * 1025 + b"\n\n"
    server = serve_socket(stream(fits, fits, over, b"data: never\n\n"))
    proc = invoke("listen", server.url, "--max-event-size", "1K", timeout=WAIT)
    assert proc.status == 7, proc.stderr
    assert [len(e["data"]) for e in json_lines(proc.stdout)] == [1024, 1024]
    [error] = error_lines(proc.stderr)
    assert "1,024 characters" in error and "--max-event-size" in error


# Chaos: exactly once across hundreds of drops


EOLS = ("\n", "\r\n", "\r")
CUT_KINDS = (
    "anywhere",
    "mid-character",  # between the bytes of a 2-, 3- or 4-byte UTF-8 character
    "mid-field-name",
    "mid-crlf",  # between the CR and the LF of one line end
    "before-blank-line",  # the event's fields all arrived, its dispatching blank line did not
    "event-boundary",
    "response-head",  # inside the HTTP response head (never twice in a row)
)


@dataclass
class Chaos:
    """A server that cuts each connection at a random byte and resumes after Last-Event-ID.

    The first `drops` connections each end (with FIN, or RST) somewhere within the next two
    events; then every remaining event is sent (and a client that still comes back, having
    lost some, is told 204 to stop). Cuts are chosen by kind from a seeded random, so each run
    cuts the same places and every kind is covered.
    """

    total: int
    drops: int
    seed: int
    cuts: Counter[str] = field(default_factory=Counter)
    resets: int = 0
    resumed_from: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.eols = ["\n"] + [self.rng.choice(EOLS) for _ in range(self.total)]
        self.last_kind = ""

    def handler(self, conn: socket.socket, request: Request) -> None:
        with self.lock:
            start = resume_point(request)
            self.resumed_from.append(start)
            preamble = head() + b"retry: 0\n\n"
            if len(self.resumed_from) > self.drops + 3:  # the client lost events: stop it
                conn.sendall(head(204, None))
                return
            if sum(self.cuts.values()) >= self.drops:
                rest = [event(i, self.eols[i]) for i in range(start + 1, self.total + 1)]
                conn.sendall(preamble + b"".join(rest))
                return
            ids = range(start + 1, min(start + 3, self.total + 1))
            response = preamble + b"".join(event(i, self.eols[i]) for i in ids)
            kind, cut = self.cut(response, len(preamble), ids)
            self.cuts[kind] += 1
            splits = sorted(self.rng.sample(range(cut + 1), k=min(cut + 1, 2)))
            reset = self.rng.random() < 0.3
            self.resets += reset
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for begin, end in zip([0, *splits], [*splits, cut], strict=True):
            if end > begin:
                conn.sendall(response[begin:end])
        if reset:  # close with RST instead of FIN
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)

    def cut(self, response: bytes, events_at: int, ids: range) -> tuple[str, int]:
        """A kind of cut, and the offset in `response` to cut at."""
        first = len(self.resumed_from) == 1
        kinds = [k for k in CUT_KINDS if k != "response-head" or not (first or self.last_kind == k)]
        kind = self.last_kind = self.rng.choice(kinds)
        body_at = len(head())
        # The first connection keeps its `retry: 0`, or reconnecting would wait 3 s.
        floor = events_at if first else body_at
        ends: list[int] = []  # where each event ends, after its blank line
        for i in ids:
            ends.append((ends[-1] if ends else events_at) + len(event(i, self.eols[i])))
        events_part = response[events_at:]
        if kind == "response-head":
            candidates = list(range(1, body_at))
        elif kind == "mid-character":
            candidates = [p for p in range(floor, len(response)) if 0x80 <= response[p] < 0xC0]
        elif kind == "mid-field-name":
            candidates = [
                events_at + p
                for m in re.finditer(rb"(?:^|[\r\n])(id|event|data)", events_part)
                for p in range(m.start(1) + 1, m.end(1))
            ]
        elif kind == "mid-crlf":
            candidates = [events_at + m.start() + 1 for m in re.finditer(rb"\r\n", events_part)]
        elif kind == "before-blank-line":
            candidates = [end - len(self.eols[i]) for i, end in zip(ids, ends, strict=True)]
        elif kind == "event-boundary":
            candidates = ends
        else:
            candidates = list(range(floor, len(response) + 1))
        if not candidates:  # e.g. no CRLF in these two events
            kind, candidates = "anywhere", list(range(floor, len(response) + 1))
        return kind, self.rng.choice(candidates)


def test_every_event_arrives_exactly_once_in_order_across_hundreds_of_drops(
    serve_socket: Serve,
) -> None:
    chaos = Chaos(total=1050, drops=500, seed=7)
    server = serve_socket(chaos.handler)
    started = time.monotonic()
    proc = invoke("listen", server.url, "-n", str(chaos.total), "-q", timeout=30)
    elapsed = time.monotonic() - started
    assert proc.status == 0, proc.stderr[-2000:]
    received = json_lines(proc.stdout)
    assert [e["id"] for e in received] == [str(i) for i in range(1, chaos.total + 1)]
    assert received == [expected(i) for i in range(1, chaos.total + 1)]
    assert sum(chaos.cuts.values()) == chaos.drops
    assert all(chaos.cuts[kind] >= 10 for kind in CUT_KINDS), chaos.cuts
    assert chaos.resets >= 50
    # Each reconnection resumed at or after the one before (Last-Event-ID never went back).
    assert chaos.resumed_from == sorted(chaos.resumed_from)
    assert len(chaos.resumed_from) == chaos.drops + 1
    print(f"{chaos.drops} drops survived in {elapsed:.1f} s: {dict(chaos.cuts)}")


@pytest.mark.parametrize("silent", ["before-the-head", "mid-stream"])
def test_a_silent_open_connection_is_dropped_by_idle_timeout_and_resumed(
    serve_socket: Serve, gate: threading.Event, silent: str
) -> None:
    def never_answer(conn: socket.socket, request: Request) -> None:
        gate.wait(WAIT)  # the request is read, and nothing is ever sent: no head, no FIN

    if silent == "mid-stream":
        handlers = [steps(b"retry: 0\n\n" + events(1, 3), gate), resuming(5)]
    else:
        handlers = [stream(b"retry: 0\n\n" + events(1, 3)), never_answer, resuming(5)]
    server = serve_socket(by_connection(*handlers))
    started = time.monotonic()
    proc = invoke("listen", server.url, "--idle-timeout", "0.5", "-n", "5", timeout=WAIT)
    elapsed = time.monotonic() - started
    assert proc.status == 0, proc.stderr
    assert json_lines(proc.stdout) == [expected(i) for i in range(1, 6)]
    requests = server.wait_requests(len(handlers))
    assert len(requests) == len(handlers)
    assert [r.headers.get("last-event-id") for r in requests[1:]] == ["3"] * (len(handlers) - 1)
    assert "no data from" in proc.stderr
    # The 0.5 s idle timeout, a backoff of at most 1.2 s, start-up: well under WAIT.
    assert elapsed < 6, f"{elapsed:.1f} s"


@pytest.mark.parametrize("strict", [False, True])
def test_an_id_no_header_can_carry_reconnects_without_it_and_says_so(
    serve_socket: Serve, strict: bool
) -> None:
    # Before: aiohttp refused the Last-Event-ID header and the CLI crashed with exit 1.
    server = serve_socket(stream(b"retry: 0\n\nid: a\x01b\ndata: x\n\n"))
    proc = invoke("listen", server.url, "-n", "2", *["--strict"] * strict, timeout=WAIT)
    assert proc.status == (7 if strict else 0), proc.stderr
    assert [e["id"] for e in json_lines(proc.stdout)] == ["a\x01b"] * (1 if strict else 2)
    assert "cannot carry" in proc.stderr
    assert [r.headers.get("last-event-id") for r in server.requests] == [None] * (1 + (not strict))


# Slow consumer: backpressure from stdout to the socket


@dataclass
class StalledSender:
    """Sends `count` events of `size` bytes; notices each time a send makes no progress for
    `stall` seconds (the client stopped reading its socket) and keeps trying, up to `WAIT`."""

    count: int
    size: int
    stall: float = 0.25
    sent: int = 0
    stalls: int = 0
    done: bool = False
    progress: threading.Condition = field(default_factory=threading.Condition)

    def body(self, i: int) -> bytes:
        return b"id: %d\ndata: %d %s\n\n" % (i, i, b"x" * self.size)

    def handler(self, conn: socket.socket, request: Request) -> None:
        conn.sendall(head())
        conn.settimeout(self.stall)
        deadline = time.monotonic() + 2 * WAIT
        for i in range(1, self.count + 1):
            view = memoryview(self.body(i))
            while view:
                assert time.monotonic() < deadline, "the client never read the rest"
                try:
                    n = conn.send(view)
                except TimeoutError:
                    with self.progress:
                        self.stalls += 1
                        self.progress.notify_all()
                    continue
                view = view[n:]
                with self.progress:
                    self.sent += n
        with self.progress:
            self.done = True
            self.progress.notify_all()

    def wait_stalls(self, count: int) -> int:
        """Wait until `count` sends have stalled; return the bytes sent so far."""
        with self.progress:
            self.progress.wait_for(lambda: self.stalls >= count or self.done, WAIT)
            assert self.stalls >= count, (
                f"the server never blocked: it sent {self.sent / MIB:.1f} MiB"
            )
            return self.sent


def test_a_reader_that_stops_reading_stops_the_client_reading_the_socket(
    serve_socket: Serve,
) -> None:
    """In-process, stdout a real pipe: a write to a full pipe blocks the client's loop as it
    blocks a process's. The memory measured is this process's, from before the run."""
    sender = StalledSender(count=8192, size=4000)  # 32 MiB
    total = sender.count * (sender.size + 20)
    server = serve_socket(sender.handler)
    start_rss = memory_kib(os.getpid()) * 1024
    running = start("listen", server.url, "--no-reconnect")
    # Nobody reads stdout: the pipe fills, the client stops reading, the server's send blocks.
    sent = sender.wait_stalls(1)
    before = memory_kib(os.getpid()) * 1024
    later = sender.wait_stalls(5)  # the server kept trying for a second more
    after = memory_kib(os.getpid()) * 1024
    assert sent < total / 2 and later - sent < MIB, (sent, later)
    assert after - before < 2 * MIB and after - start_rss < MARGIN, (start_rss, before, after)
    # The reader comes back: every event arrives, in order, once.
    drained: list[bytes] = []
    reader = threading.Thread(target=lambda: drained.append(running.stdout.read()), daemon=True)
    reader.start()
    result = running.finish(timeout=2 * WAIT)
    reader.join(WAIT)
    assert result.status == 0, result.stderr
    ids = [line["id"] for line in json_lines(b"".join(drained) + result.stdout)]
    assert ids == [str(i) for i in range(1, sender.count + 1)]
    print(f"server blocked after {sent / MIB:.1f} of {total / MIB:.0f} MiB")


# Whole lines only: Ctrl-C, a closed pipe, errors


def read_lines(stream: IO[bytes], count: int) -> list[bytes]:
    return [read_line(stream) for _ in range(count)]


def test_ctrl_c_while_connecting_exits_130_with_empty_stdout(
    serve_socket: Serve, gate: threading.Event, spawned: Spawn
) -> None:
    def never_answer(conn: socket.socket, request: Request) -> None:
        gate.wait(WAIT)

    server = serve_socket(never_answer)
    proc = spawned("listen", server.url)
    server.wait_requests(1)
    proc.send_signal(signal.SIGINT)
    status, out, err = finish(proc)
    assert status == 130, err
    assert out == b""
    assert_no_traceback(err)


def test_ctrl_c_during_the_backoff_wait_exits_130_with_whole_lines(
    serve_socket: Serve, spawned: Spawn
) -> None:
    server = serve_socket(stream(b"retry: 60000\n\n" + events(1, 2)))
    proc = spawned("listen", server.url)
    assert proc.stdout is not None and proc.stderr is not None
    read_lines(proc.stdout, 2)
    for _ in range(5):  # status lines until the one that announces the wait
        if b"; reconnecting in " in read_line(proc.stderr):
            break
    else:
        pytest.fail("no status line announced the wait")
    proc.send_signal(signal.SIGINT)
    status, out, err = finish(proc)
    assert status == 130, err
    assert out == b""  # both lines were read above
    assert_no_traceback(err)
    assert len(server.requests) == 1


@pytest.mark.parametrize("fmt", ["json", "data"])
def test_ctrl_c_while_a_write_is_blocked_mid_line_still_ends_on_a_whole_line(
    serve_socket: Serve, spawned: Spawn, fmt: str
) -> None:
    # Each event is 1 MiB, 16 times the pipe's buffer: the client is stopped inside writing
    # one line when the signal comes, and must finish that line, not cut it.
    sender = StalledSender(count=40, size=MIB)
    server = serve_socket(sender.handler)
    proc = spawned("listen", server.url, "-f", fmt)
    assert proc.stdout is not None
    first = read_line(proc.stdout)  # the reader then stops reading
    sender.wait_stalls(1)
    proc.send_signal(signal.SIGINT)
    status, out, err = finish(proc)
    assert status == 130, err
    lines = (first + out).split(b"\n")
    assert lines[-1] == b"", f"stdout ends in a partial line of {len(lines[-1])} bytes"
    assert 1 <= len(lines) - 1 < sender.count
    for n, line in enumerate(lines[:-1], start=1):
        text = json.loads(line)["data"] if fmt == "json" else line.decode()
        assert text == f"{n} " + "x" * MIB
    assert_no_traceback(err)


@pytest.mark.parametrize("fmt", ["json", "data", "raw", "pretty", "text"])
def test_a_closed_pipe_exits_0_quietly(serve_socket: Serve, fmt: str) -> None:
    """Each renderer meets the closed pipe (in-process, stdout a real pipe); test_listen's
    smoke test shows the process then exits without a word."""
    server = serve_socket(endless)
    running = start("listen", server.url, "-f", fmt)
    assert running.stdout.read(1)  # something arrived (text output has no line ends)
    running.stdout.close()  # `| head -c 1`
    result = running.finish()
    assert result.status == 0, result.stderr
    assert_no_traceback(result.stderr)
    assert error_lines(result.stderr) == []


def reset_after(data: bytes) -> Handler:
    """Promises a long body (Content-Length), sends `data`, then resets the connection."""

    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(head(headers={"Content-Length": str(len(data) + 1000)}) + data)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)

    return handler


@pytest.mark.parametrize(
    ("handler", "args", "code", "count"),
    [
        pytest.param(
            reset_after(events(1, 3) + event(4)[:9]), ["--no-reconnect"], 3, 3, id="reset"
        ),
        pytest.param(
            stream(events(1, 2) + b"data: " + b"x" * 5000),
            ["--max-event-size", "4K"],
            7,
            2,
            id="max-event-size",
        ),
        pytest.param(stream(events(1, 2) + b"bogus: 1\n"), ["--strict"], 7, 2, id="strict"),
        pytest.param(
            stream(b"oops", status=500, content_type="text/plain"),
            ["--max-retries", "0"],
            5,
            0,
            id="http-500",
        ),
        pytest.param(
            stream(b"<html>", content_type="text/html"), [], 6, 0, id="not-an-event-stream"
        ),
    ],
)
def test_an_error_ends_stdout_on_a_whole_line_with_its_exit_status(
    serve_socket: Serve, handler: Handler, args: list[str], code: int, count: int
) -> None:
    server = serve_socket(handler)
    proc = invoke("listen", server.url, *args, timeout=WAIT)
    assert proc.status == code, proc.stderr
    assert json_lines(proc.stdout) == [expected(i) for i in range(1, count + 1)]
    assert len(error_lines(proc.stderr)) == 1, proc.stderr
    assert_no_traceback(proc.stderr)


# Safe defaults: TLS


@dataclass
class Tls:
    ca_file: Path
    context: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return Tls(ca_file, context)


class TlsSocketServer(SocketServer):
    """`SocketServer` behind TLS; a failed handshake is recorded and the connection dropped."""

    context: ssl.SSLContext
    handshake_failures: int = 0

    def _serve(self, conn: socket.socket) -> None:
        try:
            wrapped = self.context.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            self.handshake_failures += 1
            conn.close()
            return
        super()._serve(wrapped)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/"


@pytest.fixture
def tls_server(tls: Tls) -> Iterator[TlsSocketServer]:
    server = TlsSocketServer(stream(events(1, 2)))
    server.context = tls.context
    with server:
        yield server


def test_tls_is_verified_by_default_and_a_self_signed_cert_fails_fast(
    tls_server: TlsSocketServer,
) -> None:
    # GET reconnects by default; a certificate no retry can fix still fails at once.
    proc = invoke("listen", tls_server.url, timeout=WAIT)
    assert proc.status == 3, proc.stderr
    assert proc.stdout == b""
    [line] = proc.stderr.splitlines()
    assert "not trusted" in line and "--cacert" in line and "--insecure" in line
    # The server's thread counts the failed handshake; the client may have ended first.
    wait_until(lambda: tls_server.handshake_failures == 1, what="the server's failed handshake")
    assert tls_server.requests == [] and tls_server.handshake_failures == 1


def test_cacert_trusts_the_servers_ca(tls_server: TlsSocketServer, tls: Tls) -> None:
    proc = invoke(
        "listen", tls_server.url, "--no-reconnect", "--cacert", str(tls.ca_file), timeout=WAIT
    )
    assert proc.status == 0, proc.stderr
    assert json_lines(proc.stdout) == [expected(1), expected(2)]
    assert "warning" not in proc.stderr


def test_insecure_connects_and_warns_on_stderr(tls_server: TlsSocketServer) -> None:
    proc = invoke("listen", tls_server.url, "--no-reconnect", "-k", timeout=WAIT)
    assert proc.status == 0, proc.stderr
    assert json_lines(proc.stdout) == [expected(1), expected(2)]
    assert "sse-cli: warning: --insecure: TLS certificates are not verified" in (
        proc.stderr.splitlines()
    )


# Safe defaults: credentials and redirects

CREDENTIALS = {
    "authorization": "Bearer s3cr3t-token",
    "cookie": "session=s3cr3t-cookie",
    "proxy-authorization": "Basic s3cr3t-proxy",
}
CREDENTIAL_ARGS = [arg for name, value in CREDENTIALS.items() for arg in ("-H", f"{name}: {value}")]


def redirect(location: Callable[[], str], status: int = 302) -> Handler:
    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(
            f"HTTP/1.1 {status} Moved\r\nLocation: {location()}\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )

    return handler


@pytest.mark.parametrize(
    ("target", "forwarded"),
    [
        pytest.param(lambda port: f"http://127.0.0.1:{port}/next", True, id="same-origin"),
        pytest.param(lambda port: "/next", True, id="same-origin-relative"),
        pytest.param(lambda port: f"http://localhost:{port}/next", False, id="another-host"),
        pytest.param(None, False, id="another-port"),
    ],
)
def test_credentials_follow_a_redirect_only_within_the_origin(
    serve_socket: Serve, target: Callable[[int], str] | None, forwarded: bool
) -> None:
    other = serve_socket(stream(events(1, 1)))
    holder: list[SocketServer] = []

    def location() -> str:
        return other.url + "next" if target is None else target(holder[0].port)

    def first(conn: socket.socket, request: Request) -> None:
        if request.target == "/":
            redirect(location)(conn, request)
        else:
            stream(events(1, 1))(conn, request)

    holder.append(serve_socket(first))
    proc = invoke(
        "listen",
        holder[0].url,
        "--no-reconnect",
        *CREDENTIAL_ARGS,
        "-H",
        "X-Other: kept",
        timeout=WAIT,
    )
    assert proc.status == 0, proc.stderr
    assert json_lines(proc.stdout) == [expected(1)]
    requests = holder[0].requests + other.requests
    assert [r.target for r in requests] == ["/", "/next"]
    assert all(requests[0].headers[name] == value for name, value in CREDENTIALS.items())
    followed = requests[1].headers
    assert followed["x-other"] == "kept"
    for name, value in CREDENTIALS.items():
        assert followed.get(name) == (value if forwarded else None), name


@pytest.mark.parametrize(
    ("header", "sent"),
    [
        pytest.param([], "Basic dXNlcjpwdw==", id="url-credentials"),
        pytest.param(["-H", "Authorization: Bearer t"], "Bearer t", id="the-header-wins"),
    ],
)
def test_an_authorization_header_wins_over_credentials_in_the_url(
    serve_socket: Serve, header: list[str], sent: str
) -> None:
    # aiohttp refuses both at once (a crash, before); curl sends the header.
    server = serve_socket(stream(events(1, 1)))
    url = f"http://user:pw@127.0.0.1:{server.port}/"
    proc = invoke("listen", url, "--no-reconnect", *header, timeout=WAIT)
    assert proc.status == 0, proc.stderr
    assert [r.headers["authorization"] for r in server.requests] == [sent]


@pytest.mark.parametrize(
    ("location", "message"),
    [
        pytest.param("http://[::1", "redirected to a malformed URL", id="malformed"),
        pytest.param("http://127.0.0.1:99999/", "redirected to a malformed URL", id="bad-port"),
        pytest.param("ftp://127.0.0.1/", "redirected to ftp://127.0.0.1/", id="not-http"),
    ],
)
def test_a_broken_redirect_fails_with_one_line_not_a_crash(
    serve_socket: Serve, location: str, message: str
) -> None:
    server = serve_socket(redirect(lambda: location))
    proc = invoke("listen", server.url, timeout=WAIT)
    assert proc.status == 3, proc.stderr
    [line] = proc.stderr.splitlines()
    assert message in line, line
    assert len(server.requests) == 1


# Safe defaults: secrets never reach stderr

SECRET = "s3cr3t-pw"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed, so not reused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("connection-refused", 3),
        ("http-401", 4),
        ("idle-timeout", 3),
        ("connection-lost", 3),
        ("redirect-then-refused", 3),
        ("url-without-host", 2),
        ("url-with-bad-port", 2),
        ("header-without-colon", 2),
    ],
)
def test_secrets_never_appear_in_error_messages(
    serve_socket: Serve, gate: threading.Event, case: str, code: int
) -> None:
    auth = ["-H", f"Authorization: Bearer {SECRET}", "-H", f"Cookie: id={SECRET}"]
    port = closed_port()
    handlers: dict[str, Handler] = {
        "http-401": stream(b"denied", status=401, content_type="text/plain"),
        "idle-timeout": steps(events(1, 1), gate),
        "connection-lost": reset_after(events(1, 1) + b"data: x"),
        "redirect-then-refused": redirect(lambda: f"http://u:{SECRET}@127.0.0.1:{port}/"),
    }
    server = serve_socket(handlers.get(case, stream(b"")))
    url = f"http://user:{SECRET}@127.0.0.1:{server.port}/"
    args = [url, *auth, "--no-reconnect", "--idle-timeout", "0.5"]
    if case == "connection-refused":
        args[0] = f"http://user:{SECRET}@127.0.0.1:{port}/"
    elif case == "url-without-host":
        args[0] = f"http://user:{SECRET}@/"
    elif case == "url-with-bad-port":
        args[0] = f"http://user:{SECRET}@127.0.0.1:99999/"
    elif case == "header-without-colon":
        args += ["-H", f"Authorization Bearer {SECRET}"]
    proc = invoke("--traceback", "listen", *args, timeout=WAIT)
    assert proc.status == code, proc.stderr
    err = proc.stderr
    assert len(error_lines(proc.stderr)) == 1, err
    assert SECRET not in err, err
    assert_no_traceback(proc.stderr)
