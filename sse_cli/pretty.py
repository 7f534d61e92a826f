"""`--format pretty`: a readable live view drawn with rich, for people at a terminal.

Time, type (coloured by type), id and data, JSON highlighted and long data folded. Server
data is printed as `Text`, never as markup. rich is imported only when this view is drawn.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from sse_cli.env import Environment
from sse_cli.protocol.decoder import Comment, Event, Item
from sse_cli.render import Messages, Renderer, RenderOptions, StatusLine
from sse_cli.stats import Stats

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

_TYPE_STYLES = ("green", "magenta", "yellow", "blue", "bright_cyan", "bright_green", "cyan")
FOLD_LINES = 24
FOLD_CHARS = 2000
INDENT = "  "  # data of many lines, under its event's header


class PrettyRenderer(Renderer):
    """A readable live view: time, type (coloured by type), id and data, JSON highlighted."""

    def __init__(
        self,
        options: RenderOptions,
        messages: Messages,
        out: IO[bytes],
        stats: Stats,
        env: Environment | None = None,
    ) -> None:
        super().__init__(options, messages, out, stats)
        if env is None:
            env = Environment.from_sys()
        self.console = _console(env.text_stdout, options.color, env.environ)
        show_status = options.status
        if show_status is None:
            show_status = not options.quiet and _isatty(messages.stream)
        if show_status:
            color = options.color if options.color is not None else self.console.is_terminal
            self.status = StatusLine(messages.stream, stats, color and not self.console.no_color)
            messages.status = self.status
        self.last_json: dict[str, Any] = {}
        """The JSON data of the last event of each type, to show first what changed."""

    def received(self, raw: bytes, items: Sequence[Item]) -> None:
        shown = False
        for item in items:
            if type(item) is Event:
                if not shown and self.status is not None:
                    self.status.clear()
                shown = True
                self._event(item)
            elif type(item) is Comment and self.options.comments:
                from rich.text import Text

                if not shown and self.status is not None:
                    self.status.clear()
                shown = True
                self.console.print(Text(":" + item.text, style="dim"), soft_wrap=True)
        self.console.file.flush()
        self.diagnostics(items)
        if self.status is not None:
            self.status.draw_if_due()

    def _event(self, event: Event) -> None:
        from rich.text import Text

        head = Text()
        head.append(datetime.now().strftime("%H:%M:%S.%f")[:-3], style="dim")
        head.append(" ")
        head.append(event.event, style=_type_style(event.event))
        if event.id is not None:
            head.append(f" #{event.id}", style="dim")
        room = self.console.width - head.cell_len - 2  # what fits beside the header
        body = _pretty_data(event.data, self.options.full, room, self.last_json, event.event)
        if "\n" not in body.plain and (len(body.plain) < 100 or len(body.plain) <= room):
            head.append("  ")
            head.append_text(body)
            self.console.print(head, soft_wrap=True)
        else:
            # Data of many lines sits indented under its header, so it never reads as new
            # output of its own.
            lines = body.split("\n", allow_blank=True)
            indented = Text("\n").join(Text(INDENT).append_text(line) for line in lines)
            self.console.print(head, soft_wrap=True)
            self.console.print(indented, soft_wrap=True)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _type_style(event_type: str) -> str:
    if event_type == "error":
        return "bold white on red"
    if event_type == "message":
        return "bold cyan"
    return "bold " + _TYPE_STYLES[sum(event_type.encode()) % len(_TYPE_STYLES)]


def _pretty_data(
    data: str, full: bool, room: int = 120, last: dict[str, Any] | None = None, kind: str = ""
) -> Text:
    """Data as shown: JSON highlighted, on one line beside the header unless `full` (then
    pretty-printed when long); other data folded past FOLD_LINES or FOLD_CHARS. JSON too
    wide for its line shows first what changed since the last event of type `kind` (its
    data kept in `last`), so a cut never hides the one part that changes."""
    from rich.text import Text

    if data.lstrip()[:1] in ("{", "[") and len(data) < 1_000_000:
        try:
            value = json.loads(data)
        except ValueError:
            pass
        else:
            from rich.highlighter import JSONHighlighter

            text = json.dumps(value, ensure_ascii=False)
            if full and len(text) > 80:
                text = json.dumps(value, indent=2, ensure_ascii=False)
            elif not full:
                if len(text) > room and last is not None and kind in last:
                    text = json.dumps(changed_first(value, last[kind]), ensure_ascii=False)
                text = _one_line(text, room, len(data))
            if last is not None:
                last[kind] = value
            return JSONHighlighter()(Text(text))
    return Text(data if full else _fold(data))


def changed_first(value: Any, before: Any) -> Any:
    """`value` with the keys of each object whose values differ from `before` moved ahead of
    those that stayed the same, at every depth (list items keep their places). Deliberate
    divergence from the wire's order, on the one-line view only: `--full` keeps it."""
    if isinstance(value, dict) and isinstance(before, dict):
        changed = {
            key: changed_first(item, before.get(key))
            for key, item in value.items()
            if key not in before or before[key] != item
        }
        same = {key: item for key, item in value.items() if key not in changed}
        return {**changed, **same}
    if isinstance(value, list) and isinstance(before, list):
        return [
            changed_first(item, before[i]) if i < len(before) else item
            for i, item in enumerate(value)
        ]
    return value


def _one_line(text: str, room: int, size: int) -> str:
    """Compact JSON cut to `room` columns with an ellipsis and the data's size as it came,
    as `kubectl logs` and `stern` show one event a line. Cut by characters: a wide
    character may still push the line past the edge."""
    if len(text) <= room:
        return text
    tail = f"… ({size:,} chars, --full shows all)"
    return text[: max(room - len(tail), 20)] + tail


def _fold(text: str) -> str:
    lines = text.split("\n")
    if len(lines) > FOLD_LINES:
        return "\n".join(lines[:FOLD_LINES]) + _folded(len(lines) - FOLD_LINES, "lines")
    if len(text) > FOLD_CHARS:
        return text[:FOLD_CHARS] + _folded(len(text) - FOLD_CHARS, "characters")
    return text


def _folded(hidden: int, unit: str) -> str:
    """The one way a fold is said, on a line of its own."""
    return f"\n… {hidden:,} more {unit} (--full shows all)"


def _console(file: IO[str], color: bool | None, environ: Mapping[str, str]) -> Console:
    """A console on `file` that reads NO_COLOR, FORCE_COLOR, COLUMNS and the like from
    `environ` (the run's environment variables)."""
    from rich.console import Console

    console = Console(
        file=file,
        markup=False,
        emoji=False,
        highlight=False,
        no_color=None if color is None else not color,
        force_terminal=True if color else None,
        _environ=environ,
    )
    # rich exits with status 1 from inside print() on a closed pipe: let it reach the CLI.
    console.on_broken_pipe = _raise_broken_pipe  # type: ignore[method-assign]
    return console


def _raise_broken_pipe() -> None:
    raise BrokenPipeError
