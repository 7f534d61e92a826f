"""`serve --exec-per-client`: the `exit` event ends the stream for good. A reconnect carrying
the exit's id gets 204, so `listen` (and `EventSource`) stop there instead of running the
command again every 3 s. serve and listen both run in the test process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from support.cli import WAIT, invoke
from support.relays import relay_of, relay_serving, script

COUNTED = """\
import os, pathlib
path = pathlib.Path({runs!r})
path.write_text(path.read_text() + "run\\n" if path.exists() else "run\\n")
print("hello from the script")
"""


def test_listen_to_exec_ends_after_exit_and_runs_the_command_once(tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    command = script(tmp_path, "once", COUNTED.format(runs=str(runs)))
    with relay_serving(relay=relay_of(per_client=command)) as server:
        done = invoke("listen", f"{server.url}/exec", "-f", "json", timeout=WAIT)
    assert done.status == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["event"] for e in events] == ["stdout", "exit"]
    assert events[-1]["id"] == "2-exit"
    assert "204" in done.stderr
    assert runs.read_text() == "run\n"


def test_a_reconnect_with_the_exit_id_gets_204_and_runs_nothing(tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    command = script(tmp_path, "once", COUNTED.format(runs=str(runs)))
    with relay_serving(relay=relay_of(per_client=command)) as server:
        for ask in (
            urllib.request.Request(f"{server.url}/exec", headers={"Last-Event-ID": "7-exit"}),
            urllib.request.Request(f"{server.url}/exec?last_event_id=3-exit"),
        ):
            with urllib.request.urlopen(ask, timeout=WAIT) as response:
                assert response.status == 204
                assert response.read() == b""
    assert not runs.exists()
