"""Output: the sinks that turn decoded items into stdout, and the messages people read on stderr.

Machine formats (`json`, `data`, `raw`, and `text` in a pipe) write UTF-8 bytes straight to
stdout's buffer, all the events of one network chunk in one `write` (JSON lines in batches
of bounded size) and one `flush`, so `| jq` sees each event the moment it exists and the
output is UTF-8 whatever the locale. `pretty` (in `sse_cli.pretty`, which builds on this
module) draws with rich, with a status line pinned at the bottom of the terminal (stderr)
that one object owns (here) and redraws at a capped rate. Nothing here imports aiohttp: a
renderer is fed values, whatever their source.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING, Any

from sse_cli.errors import ProtocolError
from sse_cli.protocol.decoder import Diagnostic, Event, Item
from sse_cli.request import SECRET_HEADERS
from sse_cli.stats import Stats, human_bytes
from sse_cli.terminal import in_foreground

if TYPE_CHECKING:
    from sse_cli.actions import Action
    from sse_cli.extract import Extractor

FORMATS = ("pretty", "json", "data", "raw", "text")
#: In text mode, events without text before any text that earn a word on stderr.
TEXTLESS_EVENTS = 4
STATUS_INTERVAL = 0.1  # seconds between status-line redraws, at most


@dataclass(frozen=True, slots=True)
class RenderOptions:
    format: str = "json"
    timestamps: bool = False
    quiet: bool = False
    comments: bool = False
    full: bool = False
    color: bool | None = None
    """None lets rich decide (terminal, NO_COLOR, FORCE_COLOR)."""
    verbose: int = 0
    strict: bool = False
    extractor: Extractor | None = None
    """For text mode: what each event adds to the text."""
    status: bool | None = None
    """The live status line; None: on for pretty output when stderr is a terminal."""


def utc_timestamp() -> str:
    """Now, as RFC 3339 UTC with microseconds."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def mask_header(name: str, value: str, reveal: bool) -> str:
    """A header's value for -v: secrets masked (the auth scheme kept) unless `reveal`."""
    if reveal or name.lower() not in SECRET_HEADERS:
        return value
    scheme, sep, _ = value.partition(" ")
    if sep and name.lower().endswith("authorization"):
        return f"{scheme} ***"
    return "***"


class StatusLine:
    """One line pinned at the bottom of the terminal, on stderr, redrawn at a capped rate.

    Whoever writes to the terminal calls `clear()` first; the line comes back at the next
    `draw()` (from the renderer's ticker, or right after output when it is due).
    """

    def __init__(self, stream: IO[str], stats: Stats, color: bool) -> None:
        self.stream = stream
        self.stats = stats
        self.color = color
        self.url = ""
        self.state = "starting"
        self.deadline: float | None = None
        self.shown = False
        self.last_draw = 0.0
        self._rate_mark = (stats.elapsed(), 0)
        self._measured = False  # has a whole second been measured yet?
        self.rate = 0.0

    def clear(self) -> None:
        if self.shown:
            self.shown = False
            if in_foreground(self.stream):  # in the background, the line is the shell's now
                self.stream.write("\r\x1b[2K")
                self.stream.flush()

    def text(self, width: int = 1_000_000) -> str:
        """The line, fitted to `width` columns: the URL is shortened first, then dropped, so
        the state and the counts stay; nothing at all fits in 0 columns."""
        state = self.state
        if self.deadline is not None:
            state = state.format(left=max(0.0, self.deadline - time.monotonic()))
        stats = self.stats
        now = stats.elapsed()
        then, count = self._rate_mark
        if now - then >= 1.0:
            self.rate = (stats.events - count) / (now - then)
            self._rate_mark = (now, stats.events)
            self._measured = True
        elif not self._measured:
            # The first second: a rate over what has passed (at least a quarter second, so
            # one early event does not read as hundreds a second), not 0.0/s.
            self.rate = (stats.events - count) / max(now - then, 0.25)
        events = f"{stats.events:,} event{'' if stats.events == 1 else 's'}"
        counts = f"{events} · {human_bytes(stats.bytes)} · {self.rate:,.1f}/s"
        # Lines stay shorter than the width: a line that fills it wraps on some terminals.
        line = f"{state} · {self.url} · {counts}"
        if len(line) < width:
            return line
        room = width - 1 - len(f"{state} ·  · {counts}")
        if room >= 12:
            return f"{state} · {self.url[: room - 1]}… · {counts}"
        line = f"{state} · {counts}"
        if len(line) < width:
            return line
        return line[: width - 2] + "…" if width >= 3 else ""

    def draw(self) -> None:
        if not in_foreground(self.stream):
            return
        line = self.text(_terminal_width(self.stream))
        if not line:
            return
        if self.color:
            line = f"\x1b[2m{line}\x1b[0m"
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()
        self.shown = True
        self.last_draw = time.monotonic()

    def draw_if_due(self) -> None:
        if time.monotonic() - self.last_draw >= STATUS_INTERVAL:
            self.draw()


def _terminal_width(stream: IO[str]) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 80


class Messages:
    """Lines for people on stderr, each prefixed with the program's name."""

    def __init__(self, stream: IO[str] | None = None, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.status: StatusLine | None = None
        self._warned: set[str] = set()

    def raw(self, text: str) -> None:
        """A line as it is (for -v and --stats), the status line kept out of its way."""
        try:
            if self.status is not None:
                self.status.clear()
            self.stream.write(text + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):  # stderr gone: nothing left to tell
            pass

    def note(self, text: str) -> None:
        """Status: how listening goes and why it ended. Silenced by -q."""
        if not self.quiet:
            self.raw(f"sse-cli: {text}")

    def warn(self, text: str, key: str | None = None) -> bool:
        """A warning, once per key; returns whether it was new."""
        key = key or text
        if key in self._warned:
            return False
        self._warned.add(key)
        self.raw(f"sse-cli: warning: {text}")
        return True

    def error(self, text: str) -> None:
        self.raw(f"sse-cli: error: {text}")


class Renderer:
    """The base sink: connection state, -v and diagnostics on stderr; subclasses write events."""

    def __init__(
        self, options: RenderOptions, messages: Messages, out: IO[bytes], stats: Stats
    ) -> None:
        self.options = options
        self.messages = messages
        self.out = out
        self.stats = stats
        self.status: StatusLine | None = None

    def action(self, action: Action) -> None:
        """A change of connection state (anything but received data)."""
        from sse_cli.actions import Connected, Connecting, Retrying

        if isinstance(action, Retrying):
            # Counted as reconnects, not attempts: after streams that ran, "attempt 5" would
            # read as four failures.
            self.messages.note(
                f"{action.reason}; reconnecting in {action.delay:.1f} s "
                f"(reconnect {action.attempt - 1})"
            )
        elif isinstance(action, Connected):
            if self.options.verbose:
                self._verbose(action)
            encoding = action.headers.get("Content-Encoding", "identity").lower()
            if encoding != "identity" and 200 <= action.status < 300:
                self.problem(
                    f"the response is compressed ({encoding}); compression makes servers and "
                    "proxies buffer a stream",
                    "compressed",
                )
        status = self.status
        if status is not None:
            if isinstance(action, Connecting):
                status.url = action.url
                status.deadline = None
                status.state = "connecting" + (
                    f" (reconnect {action.attempt - 1})" * (action.attempt > 1)
                )
            elif isinstance(action, Connected):
                status.state = f"connected, HTTP {action.status}"
            elif isinstance(action, Retrying):
                status.deadline = time.monotonic() + action.delay
                status.state = "reconnecting in {left:.1f} s" + f" (reconnect {action.attempt - 1})"
            status.draw()

    def _verbose(self, action: Any) -> None:
        reveal = self.options.verbose >= 2
        lines = [f"> {action.method} {action.url}"]
        lines += [f"> {k}: {mask_header(k, v, reveal)}" for k, v in _items(action.request_headers)]
        lines.append(f"< HTTP {action.status} {action.reason}".rstrip())
        lines += [f"< {k}: {mask_header(k, v, reveal)}" for k, v in _items(action.headers)]
        self.messages.raw("\n".join(lines))

    def received(self, raw: bytes, items: Sequence[Item]) -> None:
        """One network chunk: its bytes and the items it completed (already filtered)."""
        self.diagnostics(items)

    def diagnostics(self, items: Sequence[Item]) -> None:
        for item in items:
            if type(item) is Diagnostic:
                self.problem(item.message, item.code + item.message)

    def problem(self, message: str, key: str) -> None:
        """A wire-format warning, once each; under --strict it ends listening (exit 7)."""
        if self.options.strict:
            raise ProtocolError(message, "--strict turns wire-format warnings into errors")
        self.messages.warn(message, key)

    async def tick(self) -> None:
        """Redraw the status line on a timer until cancelled (no-op without one)."""
        status = self.status
        if status is None:
            return
        while True:
            await asyncio.sleep(STATUS_INTERVAL)
            status.draw()

    def close(self) -> None:
        """Listening is over: leave the terminal clean."""
        if self.status is not None:
            self.status.clear()
            self.messages.status = None
            self.status = None


def _items(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    items = getattr(headers, "items", None)
    return list(items()) if items is not None else []


class JsonRenderer(Renderer):
    def __init__(
        self, options: RenderOptions, messages: Messages, out: IO[bytes], stats: Stats
    ) -> None:
        super().__init__(options, messages, out, stats)
        from sse_cli.jsonline import LineEncoder

        self.write_lines = LineEncoder().write

    def received(self, raw: bytes, items: Sequence[Item]) -> None:
        ts = utc_timestamp() if self.options.timestamps else None
        events = self.write_lines(items, self.out.write, ts)
        if events:
            self.out.flush()
        if events != len(items):
            self.diagnostics(items)


class DataRenderer(Renderer):
    def received(self, raw: bytes, items: Sequence[Item]) -> None:
        data = [item.data for item in items if type(item) is Event]
        if data:
            data.append("")  # the last line's newline, without copying the joined text again
            self.out.write("\n".join(data).encode())
            self.out.flush()
            data.pop()
        if len(data) != len(items):
            self.diagnostics(items)


class RawRenderer(Renderer):
    def received(self, raw: bytes, items: Sequence[Item]) -> None:
        if raw:
            self.out.write(raw)
            self.out.flush()
        self.diagnostics(items)


class TextRenderer(Renderer):
    """Event data as one running text, the way a chat UI shows an LLM's reply."""

    def __init__(
        self, options: RenderOptions, messages: Messages, out: IO[bytes], stats: Stats
    ) -> None:
        super().__init__(options, messages, out, stats)
        from sse_cli.extract import llm_text

        self.extract = options.extractor or llm_text
        self.ends_in_newline = True
        self.printed = False
        self.textless = 0  # events that added no text, while none has printed yet
        self.explained = False

    def received(self, raw: bytes, items: Sequence[Item]) -> None:
        extract = self.extract
        pieces = [
            text for item in items if type(item) is Event and (text := extract(item)) is not None
        ]
        text = "".join(pieces)
        if text:
            self.out.write(text.encode())
            self.out.flush()
            self.ends_in_newline = text.endswith("\n")
            self.printed = True
        elif not self.printed:
            self.textless += sum(1 for item in items if type(item) is Event)
            # A chat stream may open with a few events that carry no text (Anthropic sends
            # three before its first delta): only more than that is worth a word.
            if self.textless >= TEXTLESS_EVENTS:
                self._explain()
        self.diagnostics(items)

    def _explain(self) -> None:
        """Say once why text output shows nothing, rather than stay silent."""
        if self.explained or self.printed or not self.textless:
            return
        self.explained = True
        many = f"{self.textless} event{'s' if self.textless != 1 else ''}"
        if self.options.extractor is not None:
            why = f"-x found no text in {many} so far"
        else:
            why = (
                f"{many} so far carried no text (their data is neither plain text nor an "
                "OpenAI or Anthropic chunk)"
            )
        self.messages.warn(
            f"-f text shows nothing: {why}; name the text's field with -x PATH "
            "(e.g. -x time), or see whole events with -f json"
        )

    def close(self) -> None:
        self._explain()
        if not self.ends_in_newline:
            self.ends_in_newline = True
            try:
                self.out.write(b"\n")
                self.out.flush()
            except (BrokenPipeError, ValueError):
                pass
        super().close()


#: The machine formats; `pretty` is `sse_cli.pretty.PrettyRenderer`, imported only when used.
MACHINE_RENDERERS: dict[str, type[Renderer]] = {
    "json": JsonRenderer,
    "data": DataRenderer,
    "raw": RawRenderer,
    "text": TextRenderer,
}
