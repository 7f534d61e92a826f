"""`sse-cli listen` on a terminal: the live view, its status line and its end.

The smoke test runs the CLI in a real pseudo-terminal with pexpect; the others run it
in-process with stdout and stderr said to be terminals, as wide as COLUMNS. pyte, a VT100
emulator, replays everything written to give the final screen, so the tests check what a
person would see.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pexpect
import pyte
import pytest
from aiohttp import web
from support.cli import Result, invoke

COLUMNS, LINES = 120, 40


@dataclass
class Script:
    """What each connection gets, in order; the last entry repeats."""

    bodies: list[list[bytes] | int]
    gate: threading.Event = field(default_factory=threading.Event)
    connections: int = 0


class StreamServer:
    """An aiohttp server on 127.0.0.1:0 in a thread, serving `Script` bodies."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        script = self.script
        index = min(script.connections, len(script.bodies) - 1)
        script.connections += 1
        body = script.bodies[index]
        if isinstance(body, int):
            return web.Response(status=body)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if index > 0:
            await self.loop.run_in_executor(None, script.gate.wait, 10)
        for piece in body:
            await response.write(piece)
        return response

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/", self.handle)
        runner = web.AppRunner(app, handle_signals=False)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())

    def __enter__(self) -> str:
        self.thread.start()
        assert self.ready.wait(10)
        return f"http://127.0.0.1:{self.port}/"

    def __exit__(self, *exc: object) -> None:
        self.script.gate.set()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def spawn(*args: str, **extra_env: str) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "NO_COLOR")}
    env.update(TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(LINES), **extra_env)
    return pexpect.spawn(
        sys.executable,
        ["-m", "sse_cli", "listen", *args],
        env=env,
        dimensions=(LINES, COLUMNS),
        encoding="utf-8",
        timeout=15,
    )


def on_terminal(*args: str, **extra_env: str) -> Result:
    """`sse-cli listen ARGS` in-process, stdout and stderr terminals COLUMNS wide."""
    size = {"COLUMNS": str(COLUMNS), "LINES": str(LINES)}
    return invoke(
        "listen", *args, tty=True, variables={"TERM": "xterm-256color", **size, **extra_env}
    )


def screen_of(output: str) -> list[str]:
    screen = pyte.Screen(COLUMNS, LINES)
    stream = pyte.Stream(screen)
    stream.feed(output.replace("\n", "\r\n") if "\r\n" not in output else output)
    return [line.rstrip() for line in screen.display]


@pytest.fixture
def drop_then_204() -> Iterator[tuple[str, Script]]:
    first = [
        b"retry: 400\n\n",
        b'id: 1\ndata: {"n": 1}\n\n',
        b"id: 2\nevent: update\ndata: two\n\n",
    ]
    second = [b"id: 3\nevent: error\ndata: boom\n\n"]
    script = Script([first, second, 204])
    with StreamServer(script) as url:
        yield url, script


def test_live_view_shows_events_status_through_a_reconnect_and_clears_it(
    drop_then_204: tuple[str, Script],
) -> None:
    url, script = drop_then_204
    child = spawn(url)
    log: list[str] = []
    try:
        child.expect(r"connected, HTTP 200 · " + re.escape(url))
        log.append(child.before + child.after)
        child.expect("update")
        log.append(child.before + child.after)
        # The first stream ended: the status line counts down to the next attempt.
        child.expect(
            r"reconnecting in \d+\.\d s \(reconnect 1\) · " + re.escape(url) + " · 2 events"
        )
        log.append(child.before + child.after)
        script.gate.set()
        child.expect("boom")
        log.append(child.before + child.after)
        child.expect(pexpect.EOF)
        log.append(child.before)
    finally:
        child.close()
    assert child.exitstatus == 0
    output = "".join(log)
    screen = screen_of(output)
    text = "\n".join(screen)
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3} message #1  \{\"n\": 1\}", text), text
    assert re.search(r"update #2  two", text), text
    assert re.search(r"error #3  boom", text), text
    assert "sse-cli: stopped: the server answered 204" in text
    # The status line is gone at the end: no line of the final screen is a status line.
    assert not any(" events · " in line for line in screen), text
    # `error` events stand out: white on red.
    assert "\x1b[1;37;41merror" in output


def test_view_keeps_exact_counts_at_a_rate_faster_than_redraws() -> None:
    count = 3000
    events = b"".join(b"id: %d\ndata: e%d\n\n" % (i, i) for i in range(1, count + 1))
    chunks = [b"retry: 10\n"] + [events[i : i + 4096] for i in range(0, len(events), 4096)]
    script = Script([chunks, 204])
    with StreamServer(script) as url:
        script.gate.set()
        result = on_terminal(url, "--stats")
    assert result.status == 0, result.stderr
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.text + result.stderr)
    ids = [int(n) for n in re.findall(r" #(\d+)  e\1\b", plain)]
    assert ids == list(range(1, count + 1))  # every event once, in order
    assert re.search(rf"events\s+{count} \(message {count}\)", plain)


@pytest.fixture
def one_event_with_comment() -> Iterator[str]:
    script = Script([[b"retry: 10\n: heartbeat\n\nevent: error\ndata: boom\n\n"], 204])
    script.gate.set()
    with StreamServer(script) as url:
        yield url


@pytest.mark.parametrize(
    ("args", "env", "coloured"),
    [
        ((), {}, True),
        (("--no-color",), {}, False),
        ((), {"NO_COLOR": "1"}, False),
        (("--color",), {"NO_COLOR": "1"}, True),
    ],
)
def test_colour_follows_flags_and_no_color(
    one_event_with_comment: str, args: tuple[str, ...], env: dict[str, str], coloured: bool
) -> None:
    result = on_terminal(one_event_with_comment, "--comments", *args, **env)
    assert result.status == 0, result.stderr
    output = result.text
    assert "boom" in output and ": heartbeat" in output
    assert ("\x1b[1;37;41merror" in output) is coloured


@pytest.mark.parametrize("name", ["openai-chat-completions", "anthropic-messages"])
def test_text_mode_grows_the_reply_in_place_on_a_terminal(name: str) -> None:
    from test_listen_diagnostics import anthropic_text, openai_contents, pieces, sample

    reply = "".join(openai_contents()) if name.startswith("openai") else anthropic_text()
    script = Script([[b"retry: 10\n\n", *pieces(sample(name), 61)], 204])  # no 3 s wait
    script.gate.set()
    with StreamServer(script) as url:
        result = on_terminal(url, "-f", "text")
    assert result.status == 0, result.stderr
    screen = "".join(screen_of(result.text))
    assert re.sub(r"\s", "", reply) in re.sub(r"\s", "", screen)
    assert "{" not in screen  # the text alone, no JSON


def test_an_openai_chunk_takes_one_line_at_120_columns_and_full_expands_it() -> None:
    from pathlib import Path

    sample = Path(__file__).parent / "samples" / "openai-chat-completions.sse"
    chunk = next(b for b in sample.read_bytes().split(b"\n\n") if b.startswith(b"data: {"))
    data = chunk.decode()[len("data: ") :]
    assert len(data) > COLUMNS  # a real chunk: about 250 characters
    screens = {}
    for flag in ("", "--full"):
        with StreamServer(Script([[b"retry: 10\n\n", chunk + b"\n\n"], 204])) as url:
            result = on_terminal(url, "-f", "pretty", "-q", *([flag] if flag else []))
        assert result.status == 0, result.stderr
        screens[flag] = [line for line in screen_of(result.text) if line]
    (line,) = screens[""]
    assert " message  {" in line and line.endswith(f"… ({len(data):,} chars, --full shows all)")
    assert len(line) <= COLUMNS
    full = screens["--full"]
    assert len(full) > 10  # pretty-printed, one key a line
    assert any('"object": "chat.completion.chunk"' in row for row in full)
