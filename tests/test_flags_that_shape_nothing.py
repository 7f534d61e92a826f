"""A flag that shapes another is refused without it, everywhere the same way (issue 27,
point 8): status 2 and one line naming the flag it needs, before anything connects or binds.
"""

from __future__ import annotations

import pytest
from support.cli import invoke

# A port nothing listens on: were the flag ignored, the command would go on and fail with 3.
NOWHERE = "http://127.0.0.1:1/"


@pytest.mark.parametrize(
    ("args", "needed"),
    [
        (["bench", NOWHERE, "--publish-rate", "5"], "--publish-rate needs --publish"),
        (["serve", "--port", "0", "--speed", "2"], "--speed needs --replay"),
        (["serve", "--port", "0", "--speed", "0"], "--speed needs --replay"),
        (["listen", NOWHERE, "--force"], "--force needs --record"),
        (["serve", "--port", "0", "--exec-topic", "x"], "--exec-topic needs --exec or --stdin"),
    ],
)
def test_a_flag_without_the_one_it_shapes_is_refused(args: list[str], needed: str) -> None:
    done = invoke(*args, timeout=30)
    assert done.status == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and needed in lines[0], lines
    assert done.stdout == b""
