"""`bench` against a port where nothing listens ends at once (issue 27, point 3): when not one
stream has opened and every attempt was refused, the run stops within a couple of seconds
with status 3, as `listen` fails the same case, instead of waiting out --duration."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from support.cli import invoke


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: every connection to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    "args",
    [
        ["-c", "5"],
        ["-c", "50", "--ramp", "2"],  # not 25 s of ramp to open streams that cannot open
        ["-c", "4", "--workers", "2"],
    ],
)
def test_bench_where_nothing_listens_exits_3_within_seconds(
    closed_port: int, args: list[str]
) -> None:
    began = time.monotonic()
    done = invoke("bench", f"http://127.0.0.1:{closed_port}/", "--duration", "60", *args)
    took = time.monotonic() - began
    assert done.status == 3, done.stderr
    assert "refused" in done.stderr
    # Stopped, not waiting out --duration: a third of it leaves room for --workers' two
    # interpreters to start on a busy machine (5.6 s beside a CPU hog in CI, 1.5 s idle).
    assert took < 20, took


def test_bench_with_reconnect_waits_for_a_server_that_is_starting(closed_port: int) -> None:
    """--reconnect keeps trying, as it does for `listen`: the run lasts its --duration."""
    began = time.monotonic()
    done = invoke(
        "bench", f"http://127.0.0.1:{closed_port}/", "-c", "2", "--duration", "1.5", "--reconnect"
    )
    assert done.status == 3, done.stderr
    assert time.monotonic() - began >= 1.5
