"""The pretty view shows first what changes (issue 27, point 10): JSON too wide for its line
puts the keys whose values differ from the last event of its type ahead of those that stay
the same, so an OpenAI chunk cut at the terminal's edge still shows its `delta.content`.
`--full` keeps the wire's order."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sse_cli.pretty import PrettyRenderer, changed_first
from sse_cli.protocol.decoder import Event
from sse_cli.render import Messages, RenderOptions
from sse_cli.stats import Stats

SAMPLE = Path(__file__).parent / "samples" / "openai-chat-completions.sse"
COLUMNS = 120  # the terminal the issue was seen on: a chunk is about 250 characters


def chunks() -> list[str]:
    blocks = SAMPLE.read_text().split("\n\n")
    return [b[len("data: ") :] for b in blocks if b.startswith("data: {")]


def shown(capsys: pytest.CaptureFixture[str], datas: list[str], full: bool = False) -> list[str]:
    renderer = PrettyRenderer(
        RenderOptions(format="pretty", color=False, status=False, full=full),
        Messages(io.StringIO()),
        io.BytesIO(),
        Stats(),
    )
    renderer.console.width = COLUMNS
    renderer.received(b"", [Event("message", data, None) for data in datas])
    return capsys.readouterr().out.splitlines()


def test_an_openai_chunk_cut_at_the_edge_still_shows_its_content(
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second, third = chunks()[:3]
    lines = shown(capsys, [first, second, third])
    assert len(lines) == 3 and all(len(line) <= COLUMNS for line in lines)
    assert '{"choices": [{"delta": {"content": "Hello"}, "index": 0' in lines[1], lines[1]
    assert '"content": "!"' in lines[2], lines[2]
    assert lines[0].endswith("--full shows all)")  # nothing before it to compare with


def test_full_keeps_the_wire_order(capsys: pytest.CaptureFixture[str]) -> None:
    first, second = chunks()[:2]
    text = "\n".join(shown(capsys, [first, second], full=True))
    assert text.count('"id": "chatcmpl-9xYz"') == 2
    assert text.rindex('"id"') < text.rindex('"choices"')


def test_changed_first_moves_what_differs_ahead_at_every_depth() -> None:
    before = {"id": 1, "choices": [{"index": 0, "delta": {"content": "a"}}], "gone": True}
    after = {"id": 1, "choices": [{"index": 0, "delta": {"content": "b"}}], "new": 2}
    moved = changed_first(after, before)
    assert json.dumps(moved) == json.dumps(
        {"choices": [{"delta": {"content": "b"}, "index": 0}], "new": 2, "id": 1}
    )
    assert moved == after  # the same value, only its order differs
    assert changed_first([1, {"a": 1}], "not a list") == [1, {"a": 1}]
