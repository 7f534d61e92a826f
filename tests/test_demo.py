"""`sse-cli demo`: a serve child on a free port, listened to in-process until its stream ends."""

from __future__ import annotations

import re

import pytest
from support.cli import invoke


@pytest.mark.slow  # the demo stream paces its 28 events over about 6 s
def test_demo_on_a_terminal_draws_the_pretty_view_and_ends_by_itself() -> None:
    result = invoke("demo", tty=True, COLUMNS="100", timeout=60)
    assert result.status == 0, result.stderr
    lines = result.text.splitlines()
    # Pretty, the default on a terminal: time, type, id, data; not JSON lines.
    assert len(lines) >= 10 and not lines[0].startswith("{")
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", lines[0])
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} message #1  \S+", plain), plain
    said = [line for line in result.stderr.split("\n") if line.startswith("sse-cli: ")]
    assert said[0].startswith("sse-cli: demo server up; running: sse-cli listen http://127.0.0.1:")
    assert said[-1].startswith("sse-cli: next: run 'sse-cli serve'")
