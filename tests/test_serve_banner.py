"""What `serve` says it serves (issue 27, point 12): the banner lists only what is served (a
replay hides the built-in endpoint it replaces), names where a relay is read, is short under
-q; and `serve --help`, which the 404 body points at, lists the endpoints and the replay's
query options."""

from __future__ import annotations

import pytest
from support.cli import invoke

from sse_cli.serve.relay_settings import RelaySettings
from sse_cli.serve.routes import ROUTES
from sse_cli.serve.runner import banner
from sse_cli.serve.settings import ServeSettings
from sse_cli.serve.tapes import SSE_HEADERS, Tape

SERVING = "sse-cli: serving on http://127.0.0.1:8000 (Ctrl-C to stop)"


def test_a_replay_hides_the_built_in_endpoint_it_replaces() -> None:
    tape = Tape("counter.jsonl", "GET", "/counter", 200, SSE_HEADERS)
    lines = banner(ServeSettings(replays=(tape,)), 8000)
    counters = [line for line in lines if " /counter " in line]
    assert counters == [
        "  GET  /counter              replays counter.jsonl - replaces the built-in endpoint"
    ]
    assert any(" /clock " in line for line in lines)  # what is not replaced stays


@pytest.mark.parametrize(
    ("relay", "topic"),
    [
        (RelaySettings(command=("tail", "-F", "app.log")), "exec"),
        (RelaySettings(stdin=True), "stdin"),
        (RelaySettings(command=("make",), topic="build"), "build"),
    ],
)
def test_the_banner_says_where_the_relay_is_read(relay: RelaySettings, topic: str) -> None:
    lines = banner(ServeSettings(relay=relay), 8000)
    relayed = [line for line in lines if f"/subscribe?topic={topic}" in line]
    assert len(relayed) == 1, lines
    assert (
        f"sse-cli listen 'http://127.0.0.1:8000/subscribe?topic={topic}&history=100'"
        in (relayed[0])
    )


@pytest.mark.parametrize(
    "relay", [None, RelaySettings(command=("make",), topic="a-topic-longer-than-the-column")]
)
def test_the_banner_commands_start_in_one_column(relay: RelaySettings | None) -> None:
    lines = banner(ServeSettings(relay=relay), 8000)
    starts = {
        line.index(" sse-cli listen ") if " sse-cli listen " in line else line.index(" curl ")
        for line in lines
        if line.startswith("  ") and (" sse-cli listen " in line or " curl " in line)
    }
    assert len(starts) == 1, lines


def test_the_quiet_banner_is_the_address_and_how_to_stop() -> None:
    assert banner(ServeSettings(quiet=True), 8000, ("uvloop", "httptools")) == [SERVING]
    public = banner(ServeSettings(host="0.0.0.0", quiet=True), 8000)
    assert len(public) == 2 and "warning: listening on every interface" in public[1]


def test_serve_help_lists_every_endpoint_and_the_replay_options() -> None:
    done = invoke("serve", "--help", COLUMNS="100")
    assert done.status == 0
    text = done.text
    for route in ROUTES:
        if route.documented and route.example is not None:
            assert f"{route.method:<4} {route.path} " in text, route.path
    for option in ("?speed=", "?drop_after=", "?status=", "?stall_after=", "?reconnects="):
        assert option in text
    examples = text.split("Examples:", 1)[1]
    for flag in ("--replay", "--broker", "--workers", "--stdin"):
        assert flag in examples, flag
