"""`bench --local-ips`: k6's syntax, the round-robin over source addresses (across
`--workers` too), and the one-line failures and warnings around the kernel's port limit.

The real runs connect from 127.0.0.2 and up (all of 127.0.0.0/8 is loopback on Linux) to a
small asyncio server on 127.0.0.1 that records each connection's peer address.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import WAIT, invoke

from sse_cli.errors import UsageError
from sse_cli.loadtest import sources
from sse_cli.loadtest.metrics import Metrics
from sse_cli.loadtest.options import BenchOptions
from sse_cli.loadtest.report import hints, nothing_opened, summary_line
from sse_cli.loadtest.sources import SourcePool, parse_local_ips, port_shortfall
from sse_cli.request import ListenOptions

EVENTS = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
EVENTS += b"id: 1\ndata: one\n\nid: 2\ndata: two\n\n"


class PeerServer:
    """An SSE server on 127.0.0.1 port 0, on its own thread: it counts the peer address of
    every connection, sends two events and closes."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.peers: Counter[str] = Counter()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/events"

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.peers[writer.get_extra_info("peername")[0]] += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(EVENTS)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass  # the client left first: its peer address is counted all the same
        finally:
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._answer, self.host, 0, backlog=1024)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def __enter__(self) -> PeerServer:
        self._thread.start()
        assert self._ready.wait(WAIT)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(WAIT)


@pytest.fixture
def peer_server() -> Iterator[PeerServer]:
    with PeerServer() as server:
        yield server


def bench(*args: str) -> tuple[int, dict[str, Any], str]:
    done = invoke("bench", *args, timeout=60)
    stdout = done.stdout.decode()
    return done.status, json.loads(stdout) if stdout.strip() else {}, done.stderr


def test_streams_spread_round_robin_over_the_source_addresses(peer_server: PeerServer) -> None:
    status, report, err = bench(
        peer_server.url, "-c", "300", "-n", "2", "--no-reconnect",
        "--local-ips", "127.0.0.2,127.0.0.3",
    )  # fmt: skip
    assert status == 0, err
    assert peer_server.peers == {"127.0.0.2": 150, "127.0.0.3": 150}
    assert report["events"]["total"] == 600
    assert report["errors"]["total"] == 0
    assert report["settings"]["local_ips"] == ["127.0.0.2", "127.0.0.3"]


def test_without_local_ips_every_stream_comes_from_the_kernels_choice(
    peer_server: PeerServer,
) -> None:
    status, report, _ = bench(peer_server.url, "-c", "4", "-n", "2", "--no-reconnect")
    assert status == 0
    assert peer_server.peers == {"127.0.0.1": 4}
    assert report["settings"]["local_ips"] is None


def test_workers_keep_the_run_wide_round_robin(peer_server: PeerServer) -> None:
    # Streams 0-1 in one worker, 2-3 in the other: addresses .2 .3 .4 .2, as in one
    # process. Each worker starting the round over would give .2 .3 .2 .3.
    status, report, err = bench(
        peer_server.url, "-c", "4", "--workers", "2", "-n", "2", "--no-reconnect",
        "--local-ips", "127.0.0.2-127.0.0.4",
    )  # fmt: skip
    assert status == 0, err
    assert peer_server.peers == {"127.0.0.2": 2, "127.0.0.3": 1, "127.0.0.4": 1}
    assert report["events"]["total"] == 8


def test_ipv6_source_addresses_reach_an_ipv6_server() -> None:
    with PeerServer("::1") as server:
        status, report, err = bench(
            server.url, "-c", "3", "-n", "2", "--no-reconnect", "--local-ips", "::1/128"
        )
        assert status == 0, err
        assert server.peers == {"::1": 3}
    assert report["settings"]["local_ips"] == ["::1"]


def test_a_mixed_list_uses_the_addresses_of_the_targets_version(peer_server: PeerServer) -> None:
    status, report, err = bench(
        peer_server.url, "-c", "2", "-n", "2", "--no-reconnect",
        "--local-ips", "::1,127.0.0.5",
    )  # fmt: skip
    assert status == 0, err
    assert peer_server.peers == {"127.0.0.5": 2}
    assert report["settings"]["local_ips"] == ["127.0.0.5"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("127.0.0.2-", "'127.0.0.2-' is not an IP address, a range (A-B) or a CIDR (A/N)"),
        ("localhost", "'localhost' is not an IP address"),
        ("127.0.0.9-127.0.0.2", "'127.0.0.9-127.0.0.2' ends before it starts"),
        ("127.0.0.2-::1", "'127.0.0.2-::1' mixes IPv4 and IPv6"),
        ("127.0.0.2,,127.0.0.3", "an empty item in the list"),
        ("127.0.0.0/33", "'127.0.0.0/33' is not a CIDR"),
        ("192.0.2.1", "192.0.2.1 is not an address of this machine (EADDRNOTAVAIL)"),
        ("::1", "--local-ips holds no IPv4 address, and the URL's host 127.0.0.1 is IPv4"),
    ],
)
def test_a_bad_list_is_one_line_and_status_2(value: str, message: str) -> None:
    # Port 9 on loopback: nothing is ever opened, the check comes first.
    done = invoke("bench", "http://127.0.0.1:9/", "--local-ips", value)
    assert done.status == 2
    assert done.stdout == b""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sse-cli: error: "), done.stderr
    assert message in lines[0]


@pytest.mark.parametrize(
    ("value", "shown", "count"),
    [
        ("127.0.0.2", ["127.0.0.2"], 1),
        (" 127.0.0.2 - 127.0.0.4 ", ["127.0.0.2-127.0.0.4"], 3),
        ("10.0.0.0/29", ["10.0.0.1-10.0.0.6"], 6),  # as k6: no network, no broadcast address
        ("10.0.0.0/31", ["10.0.0.0-10.0.0.1"], 2),
        ("10.0.0.7/32", ["10.0.0.7"], 1),
        ("10.0.0.5/30", ["10.0.0.5-10.0.0.6"], 2),  # host bits are ignored, as Go's ParseCIDR
        ("fd00::/126", ["fd00::-fd00::3"], 4),  # IPv6 has no broadcast: every address
        ("::1, 127.0.0.2-127.0.0.3", ["::1", "127.0.0.2-127.0.0.3"], 3),
        ("2001:db8::/64", ["2001:db8::-2001:db8::ffff:ffff:ffff:ffff"], 2**64),
    ],
)
def test_k6_syntax(value: str, shown: list[str], count: int) -> None:
    pool = parse_local_ips(value)
    assert pool.shown() == shown
    assert pool.count == count


def test_stream_i_takes_address_i_mod_n_across_blocks() -> None:
    pool = parse_local_ips("127.0.0.2-127.0.0.3,::1,10.0.0.0/30")
    taken = [pool.address(i) for i in range(7)]
    assert taken == [
        "127.0.0.2", "127.0.0.3", "::1", "10.0.0.1", "10.0.0.2", "127.0.0.2", "127.0.0.3",
    ]  # fmt: skip
    assert list(pool.addresses(4)) == taken[:4]
    assert pool.of_version(6).shown() == ["::1"]
    assert parse_local_ips("2001:db8::/64").address(2**64 + 5) == "2001:db8::5"


def test_a_workers_share_starts_where_the_one_before_ended() -> None:
    options = BenchOptions(ListenOptions(url="http://127.0.0.1/"), connections=10, workers=3)
    shares = [options.share(i) for i in range(3)]
    assert [(s.first_stream, s.connections) for s in shares] == [(0, 4), (4, 3), (7, 3)]


def test_the_open_files_need_is_the_largest_share_not_the_whole_run() -> None:
    from sse_cli.loadtest.runner import per_process

    def options(connections: int, workers: int) -> BenchOptions:
        url = ListenOptions(url="http://127.0.0.1/")
        return BenchOptions(url, connections=connections, workers=workers)

    assert per_process(options(10, 3)) == max(options(10, 3).share(i).connections for i in range(3))
    assert per_process(options(50_000, 3)) == 16_667  # under a 20,000 limit: no warning
    assert per_process(options(300, 1)) == 300


@pytest.fixture
def ports_10(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A port range of 10, read by the check as it reads the kernel's."""
    fake = tmp_path / "ip_local_port_range"
    fake.write_text("40000\t40009\n")
    monkeypatch.setattr(sources, "PORT_RANGE", fake)


@pytest.mark.usefixtures("ports_10")
def test_more_streams_than_ports_is_said_up_front_naming_local_ips(
    peer_server: PeerServer,
) -> None:
    args = (peer_server.url, "-c", "25", "-n", "2", "--no-reconnect")
    status, report, err = bench(*args, "--local-ips", "127.0.0.2-127.0.0.3")
    assert status == 0, err  # a warning: the run goes on (the kernel's real range is larger)
    warning = err.splitlines()[0]
    assert warning.startswith("sse-cli: warning: 25 streams need more local ports than ")
    assert "2 source addresses hold (10 each per destination" in warning
    assert "streams past 20 fail as 'no-ports' errors; spread them with --local-ips" in warning
    assert report["events"]["total"] == 50
    _, _, err = bench(*args, "--local-ips", "127.0.0.2-127.0.0.4")
    assert "warning" not in err
    _, _, err = bench(*args, "-q")
    assert err == ""


def test_port_shortfall_counts_ports_times_addresses() -> None:
    assert port_shortfall(28_232, 1, 28_232) is None
    one = port_shortfall(28_233, 1, 28_232)
    assert one is not None and "than one source address hold" in one
    assert port_shortfall(60_000, 3, 28_232) is None
    assert port_shortfall(10**6, 1, None) is None  # no /proc: nothing to say


def test_running_out_of_ports_is_counted_and_names_local_ips() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.error("no-ports", "[Errno 99] Cannot assign requested address")
    found = hints(metrics)
    assert len(found) == 1
    assert found[0].startswith("3 connections found no free local port (EADDRNOTAVAIL)")
    assert "--local-ips" in found[0]
    report: Any = {
        "streams": {"opened": 0, "max_open": 0},
        "connections": 3,
        "events": {"total": 0, "per_s": 0.0},
        "errors": {"total": 3, "by_kind": {"no-ports": 3}},
        "latency_ms": None,
        "thresholds": [],
        "duration_s": 1.0,
    }
    assert "(3 no-ports: add source addresses with --local-ips)" in summary_line(report)
    error = nothing_opened(report)
    assert error is not None and "--local-ips" in str(error)


def test_a_pool_is_blocks_not_addresses() -> None:
    pool = parse_local_ips("10.0.0.0/8")
    assert isinstance(pool, SourcePool) and len(pool.blocks) == 1
    with pytest.raises(UsageError):
        parse_local_ips("")
