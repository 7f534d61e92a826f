"""`serve --exec-per-client CMD` at GET /exec: a process of its own per client, the request in
its environment only, stopped and reaped when its client leaves. The server is an app on a
thread of the test process; its processes are the test's children, and none may outlive it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import WAIT
from support.relays import alive, relay_of, relay_serving, script
from support.serve import stats
from support.sse_reader import StreamReader, close_all
from support.waiting import wait_until

REPORT = """\
import json, os, signal, sys, time
if "ignore" in os.environ["QUERY_STRING"]:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
keys = ("QUERY_STRING", "REMOTE_ADDR", "LAST_EVENT_ID")
env = {k: os.environ.get(k) for k in keys}
print(json.dumps({"pid": os.getpid(), "argv": sys.argv[1:], **env}))
for _ in range(6000):
    time.sleep(0.01)
"""


@pytest.fixture(autouse=True)
def readers_closed() -> Iterator[None]:
    yield
    close_all()


@pytest.fixture
def report(tmp_path: Path) -> str:
    return script(tmp_path, "report", REPORT)


def first_report(reader: StreamReader) -> dict[str, object]:
    reader.wait(lambda r: any(e.event == "stdout" for e in r.events))
    value: dict[str, object] = json.loads(reader.events[0].data)
    return value


def test_two_clients_get_two_processes_each_with_its_own_query_string(report: str) -> None:
    with relay_serving(relay=relay_of(per_client=report)) as server:
        one = StreamReader(f"{server.url}/exec?city=Paris&n=1")
        two = StreamReader(f"{server.url}/exec?city=Oslo")
        first, second = first_report(one), first_report(two)
    assert first["pid"] != second["pid"]
    assert first["QUERY_STRING"] == "city=Paris&n=1"
    assert second["QUERY_STRING"] == "city=Oslo"
    assert first["REMOTE_ADDR"] == "127.0.0.1"
    assert first["LAST_EVENT_ID"] == ""
    assert first["argv"] == second["argv"] == []  # nothing from the request on the command line
    assert one.events[0].id == "1"


def test_last_event_id_reaches_the_process_and_ids_count_on_from_it(report: str) -> None:
    with relay_serving(relay=relay_of(per_client=report)) as server:
        reader = StreamReader(f"{server.url}/exec", headers={"Last-Event-ID": "41"})
        assert first_report(reader)["LAST_EVENT_ID"] == "41"
    assert reader.events[0].id == "42"


def test_a_client_that_leaves_has_its_process_gone_within_2_s(report: str) -> None:
    with relay_serving(relay=relay_of(per_client=report)) as server:
        reader = StreamReader(f"{server.url}/exec")
        pid = int(str(first_report(reader)["pid"]))
        reader.cut()
        took = wait_until(lambda: not alive(pid), timeout=WAIT, what=f"process {pid} gone")
        wait_until(lambda: stats(server.url)["generators"] == 0, what="the stream ended")
    assert took < 2.0, took


@pytest.mark.slow  # the 2 s grace before SIGKILL is what it shows
def test_a_process_that_ignores_sigterm_is_killed_2_s_after(report: str) -> None:
    with relay_serving(relay=relay_of(per_client=report)) as server:
        reader = StreamReader(f"{server.url}/exec?ignore")
        pid = int(str(first_report(reader)["pid"]))
        began = time.monotonic()
        reader.cut()
        wait_until(lambda: not alive(pid), timeout=WAIT, what=f"process {pid} gone")
    assert 1.5 <= time.monotonic() - began < 3.5


@pytest.mark.slow  # eighteen real processes started and stopped
def test_clients_joining_and_leaving_in_rounds_leave_no_process(report: str) -> None:
    # Three rounds of six at once: each round starts its processes while the last round's
    # are being ended, the churn that leaks a process when the reaping is wrong.
    with relay_serving(relay=relay_of(per_client=report), rate_limit=0) as server:
        pids: list[int] = []
        for _ in range(3):
            readers = [StreamReader(f"{server.url}/exec?n={n}") for n in range(6)]
            pids += [int(str(first_report(reader)["pid"])) for reader in readers]
            for reader in readers:
                reader.cut()
        assert len(set(pids)) == 18
        wait_until(lambda: not [p for p in pids if alive(p)], what="every process gone")
        wait_until(lambda: stats(server.url)["generators"] == 0, what="every stream ended")
        assert server.children() == set()


def test_max_streams_caps_the_processes(report: str) -> None:
    with relay_serving(relay=relay_of(per_client=report), max_streams=2) as server:
        readers = [StreamReader(f"{server.url}/exec?n={n}") for n in range(2)]
        for reader in readers:
            first_report(reader)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.url}/exec?n=3", timeout=WAIT)
        refused.value.close()
        assert refused.value.code == 503
        assert len(server.children()) == 2


def test_the_process_exit_ends_the_stream_with_an_exit_event(tmp_path: Path) -> None:
    command = script(
        tmp_path,
        "brief",
        "import sys\nprint('hello')\nprint('oops', file=sys.stderr)\nsys.exit(5)\n",
    )
    with relay_serving(relay=relay_of(per_client=command)) as server:
        reader = StreamReader(f"{server.url}/exec")
        reader.wait(lambda r: r.ended)
    kinds = {e.event: e.data for e in reader.events}
    assert kinds["stdout"] == "hello" and kinds["stderr"] == "oops"
    assert reader.events[-1].event == "exit"
    assert json.loads(reader.events[-1].data) == {"status": 5}


def test_exec_without_a_command_is_a_404() -> None:
    with relay_serving() as server:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.url}/exec", timeout=WAIT)
        refused.value.close()
    assert refused.value.code == 404


def test_exec_sends_no_cors_headers_unless_an_origin_is_named(report: str) -> None:
    with relay_serving(relay=relay_of(per_client=report)) as server:
        plain = StreamReader(f"{server.url}/exec", headers={"Origin": "http://evil.example"})
        first_report(plain)
    assert "access-control-allow-origin" not in plain.response_headers
