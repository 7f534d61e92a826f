"""Output: the sinks that turn decoded items into stdout, and the messages people read on stderr.

Machine formats (`json`, `data`, `raw`) write UTF-8 bytes straight to stdout's buffer, all
the events of one network chunk in one `write` and one `flush`, so `| jq` sees each event
the moment it exists and the output is UTF-8 whatever the locale. `pretty` draws with rich.
Nothing here imports aiohttp: a renderer is fed values, whatever their source.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import IO, TYPE_CHECKING, Any

from sse_cli.parser import Comment, Diagnostic, Event, Item

if TYPE_CHECKING:
    from rich.console import Console

    from sse_cli.client import Action

FORMATS = ("pretty", "json", "data", "raw")

_quote: Any = encode_basestring  # JSON string literal, non-ASCII kept (ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class RenderOptions:
    format: str = "json"
    timestamps: bool = False
    quiet: bool = False
    comments: bool = False
    full: bool = False
    color: bool | None = None
    """None lets rich decide (terminal, NO_COLOR, FORCE_COLOR)."""


def json_line(event: Event, ts: str | None = None) -> str:
    """One event as its JSON line: the stable contract documented in README ("JSON output")."""
    line = '{"event": ' + _quote(event.event) + ', "data": ' + _quote(event.data) + ', "id": '
    line += "null" if event.id is None else _quote(event.id)
    if event.retry is not None:
        line += ', "retry": ' + str(event.retry)
    if ts is not None:
        line += ', "ts": "' + ts + '"'
    return line + "}\n"


def utc_timestamp() -> str:
    """Now, as RFC 3339 UTC with microseconds."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Messages:
    """Lines for people on stderr, each prefixed with the program's name."""

    def __init__(self, stream: IO[str] | None = None, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self._warned: set[str] = set()

    def _line(self, text: str) -> None:
        try:
            self.stream.write(f"sse-cli: {text}\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):  # stderr gone: nothing left to tell
            pass

    def note(self, text: str) -> None:
        """Status: how listening goes and why it ended. Silenced by -q."""
        if not self.quiet:
            self._line(text)

    def warn(self, text: str, key: str | None = None) -> None:
        """A warning, once per key."""
        key = key or text
        if key not in self._warned:
            self._warned.add(key)
            self._line(f"warning: {text}")

    def error(self, text: str) -> None:
        self._line(f"error: {text}")


class Renderer:
    """The base sink: connection notices and diagnostics on stderr; subclasses write events."""

    def __init__(self, options: RenderOptions, messages: Messages, out: IO[bytes]) -> None:
        self.options = options
        self.messages = messages
        self.out = out

    def action(self, action: Action) -> None:
        """A change of connection state (anything but received data)."""
        from sse_cli.client import Connected, Retrying

        if isinstance(action, Retrying):
            self.messages.note(
                f"{action.reason}; reconnecting in {action.delay:.1f} s (attempt {action.attempt})"
            )
        elif isinstance(action, Connected) and action.status != 200:
            self.messages.note(f"connected: HTTP {action.status} {action.reason}")

    def received(self, raw: bytes, items: Sequence[Item]) -> None:
        """One network chunk: its bytes and the items it completed (already filtered)."""
        self.diagnostics(items)

    def diagnostics(self, items: Sequence[Item]) -> None:
        for item in items:
            if type(item) is Diagnostic:
                self.messages.warn(item.message, key=item.code + item.message)

    def close(self) -> None:
        """Listening is over: leave the terminal clean."""


class JsonRenderer(Renderer):
    def received(self, raw: bytes, items: Sequence[Item]) -> None:
        ts = utc_timestamp() if self.options.timestamps else None
        lines = [json_line(item, ts) for item in items if type(item) is Event]
        if lines:
            self.out.write("".join(lines).encode())
            self.out.flush()
        if len(lines) != len(items):
            self.diagnostics(items)


class DataRenderer(Renderer):
    def received(self, raw: bytes, items: Sequence[Item]) -> None:
        data = [item.data for item in items if type(item) is Event]
        if data:
            self.out.write(("\n".join(data) + "\n").encode())
            self.out.flush()
        if len(data) != len(items):
            self.diagnostics(items)


class RawRenderer(Renderer):
    def received(self, raw: bytes, items: Sequence[Item]) -> None:
        if raw:
            self.out.write(raw)
            self.out.flush()
        self.diagnostics(items)


_TYPE_STYLES = ("cyan", "green", "magenta", "yellow", "blue", "bright_cyan", "bright_green")
FOLD_LINES = 24


class PrettyRenderer(Renderer):
    """A readable live view: time, type (coloured by type), id and data, JSON highlighted."""

    def __init__(self, options: RenderOptions, messages: Messages, out: IO[bytes]) -> None:
        super().__init__(options, messages, out)
        self.console = _console(sys.stdout, options.color)

    def received(self, raw: bytes, items: Sequence[Item]) -> None:
        for item in items:
            if type(item) is Event:
                self._event(item)
            elif type(item) is Comment and self.options.comments:
                from rich.text import Text

                self.console.print(Text(":" + item.text, style="dim"), soft_wrap=True)
        self.diagnostics(items)

    def _event(self, event: Event) -> None:
        from rich.text import Text

        head = Text()
        head.append(datetime.now().strftime("%H:%M:%S.%f")[:-3], style="dim")
        head.append(" ")
        head.append(event.event, style=_type_style(event.event))
        if event.id is not None:
            head.append(f" #{event.id}", style="dim")
        body = _pretty_data(event.data, self.options.full)
        if isinstance(body, Text) and "\n" not in event.data and len(event.data) < 100:
            head.append("  ")
            head.append_text(body)
            self.console.print(head, soft_wrap=True)
        else:
            self.console.print(head, soft_wrap=True)
            self.console.print(body, soft_wrap=not isinstance(body, Text))


def _type_style(event_type: str) -> str:
    if event_type == "error":
        return "bold white on red"
    if event_type == "message":
        return "bold cyan"
    return "bold " + _TYPE_STYLES[sum(event_type.encode()) % len(_TYPE_STYLES)]


def _pretty_data(data: str, full: bool) -> Any:
    from rich.text import Text

    stripped = data.lstrip()
    if stripped[:1] in ("{", "[") and len(data) < 1_000_000:
        try:
            value = json.loads(data)
        except ValueError:
            pass
        else:
            from rich.json import JSON

            text = json.dumps(value, indent=2, ensure_ascii=False)
            if not full:
                text = _fold(text)
            return JSON(text, indent=None, highlight=True) if text[:1] in "{[" else Text(text)
    return Text(data if full else _fold(data))


def _fold(text: str) -> str:
    lines = text.split("\n")
    if len(lines) <= FOLD_LINES:
        return text
    hidden = len(lines) - FOLD_LINES
    return "\n".join(lines[:FOLD_LINES]) + f"\n… {hidden} more lines (--full shows all)"


def _console(file: IO[str], color: bool | None) -> Console:
    from rich.console import Console

    console = Console(
        file=file,
        markup=False,
        emoji=False,
        highlight=False,
        no_color=True if color is False else None,
        force_terminal=True if color else None,
    )
    # rich exits with status 1 from inside print() on a closed pipe: let it reach the CLI.
    console.on_broken_pipe = _raise_broken_pipe  # type: ignore[method-assign]
    return console


def _raise_broken_pipe() -> None:
    raise BrokenPipeError


_RENDERERS: dict[str, type[Renderer]] = {
    "pretty": PrettyRenderer,
    "json": JsonRenderer,
    "data": DataRenderer,
    "raw": RawRenderer,
}


def make_renderer(options: RenderOptions, messages: Messages | None = None) -> Renderer:
    """The renderer for `options.format`, writing to this process's stdout."""
    messages = messages or Messages(quiet=options.quiet)
    return _RENDERERS[options.format](options, messages, sys.stdout.buffer)
