"""Process tuning: asked for by the entry point only, and undone once a command settles."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest
from support.cli import invoke
from support.sockets import Handler, SocketServer, stream

from sse_cli import process


@pytest.fixture
def saved_gc() -> Iterator[None]:
    threshold, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.set_threshold(*threshold)
    gc.unfreeze()
    if enabled:
        gc.enable()
    process._paused = False


def test_settled_without_start_changes_nothing(saved_gc: None) -> None:
    before = gc.get_threshold(), gc.isenabled(), gc.get_freeze_count()
    process.settled()
    assert (gc.get_threshold(), gc.isenabled(), gc.get_freeze_count()) == before


def test_start_pauses_the_collector_and_settled_brings_it_back_for_new_objects(
    saved_gc: None,
) -> None:
    process.start()
    assert not gc.isenabled()
    process.settled()
    assert gc.isenabled()
    assert gc.get_threshold()[0] == process.GC_THRESHOLD
    assert gc.get_freeze_count() > 0
    process.settled()  # once only
    assert gc.isenabled()


def test_listen_turns_the_collector_back_on(
    serve_socket: Callable[[Handler], SocketServer], saved_gc: None
) -> None:
    """In-process: the collector is the process's, started paused as the entry point does."""
    server = serve_socket(stream(b"data: 1\n\n"))
    process.start()
    assert not gc.isenabled()
    result = invoke("listen", server.url, "--no-reconnect", "-q")
    assert result.status == 0, result.stderr
    assert (gc.isenabled(), gc.get_threshold()[0]) == (True, process.GC_THRESHOLD)
