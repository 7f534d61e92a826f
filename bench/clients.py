"""The client benchmarks: start-up, throughput, latency through a pipe, memory.

`sse-cli listen URL --format F --no-reconnect` against peers measured in the same run,
round-robin: `curl -sN` (the byte floor), a bare aiohttp `iter_any()` loop (the floor of our
own stack) and httpx-sse writing one JSON line per event (the best Python peer today). Every
figure first has a verification run that checks each client saw every event.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from bench import source
from bench.common import (
    BENCH,
    PYTHON,
    SSE_CLI,
    BenchError,
    Finished,
    Report,
    Service,
    Table,
    Target,
    child_env,
    median,
    memory_kib,
    ms,
    percentile,
    progress,
    rate,
    rotation,
    run_read_timed,
    run_timed,
    service,
)
from bench.config import Config

CURL = "curl -sN"
AIOHTTP = "aiohttp iter_any() loop"
AIOHTTP_OUT = "aiohttp loop, to stdout"
HTTPX = "httpx-sse, JSON lines"
JSON = "sse-cli --format json"
DATA = "sse-cli --format data"
RAW = "sse-cli --format raw"
HELP = "sse-cli --help"
VERSION = "sse-cli --version"
TYPER = 'python -c "import typer"'


CURL_TIMES = "%{stderr}%{time_starttransfer} %{time_total}\n"


@dataclass(frozen=True, slots=True)
class Client:
    name: str
    command: Callable[[str], list[str]]
    output: str
    """What its stdout holds: raw (the body), json (lines), data (lines), count (on stderr)."""
    piped: bool = False
    """Timed on a pipe the harness drains (`run_read_timed`): a few ms, which the spread of
    two start-ups would be all of."""


def _sse_cli(fmt: str) -> Client:
    return Client(
        f"sse-cli --format {fmt}",
        lambda url: [SSE_CLI, "listen", url, "--format", fmt, "--no-reconnect"],
        fmt,
        piped=fmt == "raw",
    )


CLIENTS = {
    c.name: c
    for c in (
        # -w: curl times the first byte to the end itself, on stderr.
        Client(CURL, lambda url: ["curl", "-sN", "-w", CURL_TIMES, url], "raw"),
        Client(AIOHTTP, lambda url: [PYTHON, str(BENCH / "peer_aiohttp.py"), url], "count"),
        Client(
            AIOHTTP_OUT,
            lambda url: [PYTHON, str(BENCH / "peer_aiohttp.py"), url, "--write"],
            "raw",
            piped=True,
        ),
        Client(HTTPX, lambda url: [PYTHON, str(BENCH / "peer_httpx_sse.py"), url], "json"),
        _sse_cli("json"),
        _sse_cli("data"),
        _sse_cli("raw"),
    )
}
STREAMING = list(CLIENTS)


@contextlib.contextmanager
def event_source(config: Config) -> Iterator[Service]:
    """The bench source (bench/source.py) in a child process, for the block."""
    argv = [PYTHON, str(BENCH / "source.py")]
    with service(argv, "the bench source", timeout=config.timeout) as src:
        yield src


def verify(client: Client, output: bytes, stderr: bytes, kind: str, n: int) -> None:
    """Check that `client` reported every event of `/kind?n=N`, exactly, in order."""
    body = source.body(kind, n)
    if client.output == "raw":
        if output != body:
            raise BenchError(_mismatch(client.name, output, body))
        return
    if client.output == "count":
        size = int(stderr.split()[0]) if stderr.split() else -1  # "BYTES SECONDS"
        if size != len(body):
            raise BenchError(f"{client.name} read {size:,} of {len(body):,} bytes")
        return
    events = source.expected(kind, n)
    if client.output == "data":
        want = "".join(data + "\n" for _, data, _ in events).encode()
        if output != want:
            raise BenchError(_mismatch(client.name, output, want))
        return
    lines = output.splitlines()
    if len(lines) != len(events):
        raise BenchError(f"{client.name} wrote {len(lines):,} events of {len(events):,}")
    for i, (line, want_event) in enumerate(zip(lines, events, strict=True)):
        got = json.loads(line)
        if (got["event"], got["data"], got["id"]) != want_event:
            raise BenchError(f"{client.name}: event {i + 1} is {line[:120]!r}, not {want_event}")


def _mismatch(name: str, got: bytes, want: bytes) -> str:
    at = next(
        (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
        min(len(got), len(want)),
    )
    return f"{name} wrote {len(got):,} bytes of {len(want):,}, first difference at byte {at:,}"


def startup(config: Config, src: Service, report: Report) -> None:
    """Each client's fixed cost on an empty stream; --help and --version against typer."""
    url = src.url + "/empty"
    commands: dict[str, list[str]] = {name: c.command(url) for name, c in CLIENTS.items()}
    commands[HELP] = [SSE_CLI, "--help"]
    commands[VERSION] = [SSE_CLI, "--version"]
    commands[TYPER] = [PYTHON, "-c", "import typer"]
    runs = "one verified run" if config.smoke else f"a verification run, {config.startup_runs} runs"
    progress(f"start-up: {len(commands)} commands, {runs}")
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for name, argv in commands.items():
        with tempfile.TemporaryFile() as out:
            done = run_timed(argv, stdout=out, timeout=config.timeout)
            out.seek(0)
            if name in CLIENTS:
                verify(CLIENTS[name], out.read(), done.stderr, "empty", 0)
            elif name != TYPER and not out.read().strip():
                raise BenchError(f"{name} printed nothing")
        if config.smoke:  # the verification run's figures are the smoke run's
            times[name].append(done.seconds)
            cpus[name].append(done.cpu)
    for run in range(0 if config.smoke else config.startup_runs):
        for name in rotation(list(commands), run):
            done = run_timed(commands[name], timeout=config.timeout)
            times[name].append(done.seconds)
            cpus[name].append(done.cpu)
    fixed = {name: median(values) for name, values in times.items()}

    table = Table(
        "Start-up: an empty stream (start, connect, headers, end), and --help / --version",
        [
            "command",
            "median ms",
            "min ms",
            "max ms",
            "CPU ms",
            "vs aiohttp loop",
            "vs import typer",
        ],
    )
    for name, values in times.items():
        table.rows.append(
            [
                name,
                ms(fixed[name]),
                ms(min(values)),
                ms(max(values)),
                ms(median(cpus[name])),
                f"{fixed[name] / fixed[AIOHTTP]:.2f}x",
                f"{fixed[name] / fixed[TYPER]:.2f}x",
            ]
        )
    table.notes.append(
        f"Wall time from spawn to exit, median of {config.startup_runs} runs; CPU is the "
        "child's user + system time (median). The throughput tables measure each client's "
        "fixed cost again, paired with each of their runs."
    )
    report.tables.append(table)
    report.targets += [
        Target(
            "start-up: sse-cli listen, empty stream, vs aiohttp loop",
            fixed[JSON] / fixed[AIOHTTP],
            1.2,
            at_least=False,
            detail=f"{ms(fixed[JSON])} vs {ms(fixed[AIOHTTP])} ms",
        ),
        Target(
            'start-up: sse-cli --help vs python -c "import typer"',
            fixed[HELP] / fixed[TYPER],
            1.5,
            at_least=False,
            detail=f"{ms(fixed[HELP])} vs {ms(fixed[TYPER])} ms",
        ),
        Target(
            'start-up: sse-cli --version vs python -c "import typer"',
            fixed[VERSION] / fixed[TYPER],
            1.5,
            at_least=False,
            detail=f"{ms(fixed[VERSION])} vs {ms(fixed[TYPER])} ms",
        ),
    ]


DATA_SETS = {
    "small": "small events (id: N, 31 bytes of data)",
    "large": "1 KiB JSON events (event:, id:, data:)",
}


def throughput(config: Config, src: Service, report: Report) -> None:
    """Events per second from first byte to end, for both data sets.

    Each timed run is paired with a run of the same client on the empty stream just after
    it, in the same round: first byte to end is the difference, so a burst of load on the
    machine lands on both halves of a pair.
    """
    for kind, n in (("small", config.small_events), ("large", config.large_events)):
        _throughput(config, src, kind, n, report)


def self_timed(name: str, done: Finished) -> float | None:
    """The floors' own first-byte-to-end seconds: curl's -w times, the aiohttp loop's; and
    raw's first to last byte on the pipe (`run_read_timed`)."""
    if done.stream is not None:
        return done.stream
    fields = done.stderr.split()
    if name == CURL:
        return float(fields[1]) - float(fields[0])
    if name == AIOHTTP:
        return float(fields[1])
    return None


def _throughput(config: Config, src: Service, kind: str, n: int, report: Report) -> None:
    empty = f"{src.url}/empty"
    url = f"{src.url}/{kind}?n={n}"
    size = len(source.body(kind, n))
    runs = "one verified run" if config.smoke else f"a verification run, {config.runs} runs"
    paired = "" if config.smoke else ", each paired with an empty stream"
    progress(f"throughput, {n:,} {kind} events: {runs}{paired}")
    walls: dict[str, list[float]] = {name: [] for name in STREAMING}
    fixeds: dict[str, list[float]] = {name: [] for name in STREAMING}
    streams: dict[str, list[float]] = {name: [] for name in STREAMING}
    cpus: dict[str, list[float]] = {name: [] for name in STREAMING}

    def record(name: str, done: Finished) -> None:
        walls[name].append(done.seconds)
        if config.smoke:  # unpaired: the smoke run's figures mean nothing
            fixeds[name].append(0.0)
            streams[name].append(self_timed(name, done) or done.seconds)
            cpus[name].append(done.cpu)
            return
        fixed = run_timed(CLIENTS[name].command(empty), timeout=config.timeout)
        fixeds[name].append(fixed.seconds)
        streams[name].append(self_timed(name, done) or done.seconds - fixed.seconds)
        cpus[name].append(done.cpu - fixed.cpu)

    for name in STREAMING:
        client = CLIENTS[name]
        with tempfile.TemporaryFile() as out:
            done = run_timed(client.command(url), stdout=out, timeout=config.timeout)
            out.seek(0)
            verify(client, out.read(), done.stderr, kind, n)
        if config.smoke:  # the verification run's figures are the smoke run's
            record(name, done)
    for run in range(0 if config.smoke else config.runs):
        for name in rotation(STREAMING, run):
            client = CLIENTS[name]
            if client.piped:
                done = run_read_timed(client.command(url), size=size, timeout=config.timeout)
            else:
                done = run_timed(client.command(url), timeout=config.timeout)
            record(name, done)
    wall = {name: median(values) for name, values in walls.items()}
    stream = {name: max(median(streams[name]), 1e-6) for name in STREAMING}
    eps = {name: n / stream[name] for name in STREAMING}

    table = Table(
        f"Throughput: {n:,} {DATA_SETS[kind]}, {size / 2**20:.1f} MiB, stdout to /dev/null",
        [
            "client",
            "wall ms",
            "fixed ms",
            "first byte to end ms",
            "its CPU ms",
            "events/s",
            "MiB/s",
            "vs httpx-sse",
            "time vs aiohttp loop",
        ],
    )
    for name in STREAMING:
        table.rows.append(
            [
                name,
                ms(wall[name]),
                ms(median(fixeds[name])),
                ms(stream[name]),
                ms(median(cpus[name])),
                rate(eps[name]),
                f"{size / 2**20 / stream[name]:,.0f}",
                f"{eps[name] / eps[HTTPX]:.2f}x",
                f"{stream[name] / stream[AIOHTTP]:.2f}x",
            ]
        )
    table.notes.append(
        "First byte to end: the median over runs of (wall time - the wall time of the "
        "same client on the empty stream just after it), but for the two floors, which time "
        "it themselves (curl's time_total - time_starttransfer; the aiohttp loop's clock "
        "from the response head to the end): their few milliseconds would drown in the "
        "noise of two start-ups; and --format raw and the aiohttp loop to stdout, from the "
        "first byte to the last on a pipe the harness drains. events/s = events / first byte "
        "to end. Its CPU: the same difference of the client's user + system CPU time."
    )
    report.tables.append(table)
    label = f"{kind} events"
    report.targets += [
        Target(
            f"{label}: sse-cli json vs httpx-sse, events/s",
            eps[JSON] / eps[HTTPX],
            2.0,
            at_least=True,
            detail=f"{rate(eps[JSON])} vs {rate(eps[HTTPX])} events/s",
        ),
        Target(
            f"{label}: --format data vs --format json, events/s",
            eps[DATA] / eps[JSON],
            1.0,
            at_least=True,
            detail=f"{rate(eps[DATA])} vs {rate(eps[JSON])} events/s",
        ),
        Target(
            f"{label}: --format raw vs aiohttp loop to stdout, time",
            stream[RAW] / stream[AIOHTTP_OUT],
            1.5,
            at_least=False,
            detail=f"{ms(stream[RAW])} vs {ms(stream[AIOHTTP_OUT])} ms",
        ),
    ]


def pipeline(argv: Sequence[str], timeout: float) -> list[tuple[int, int]]:
    """Run `argv | python bench/reader.py`; the reader's [seq, latency ns] pairs."""
    env = child_env()
    with tempfile.TemporaryFile() as err:
        client = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=env
        )
        assert client.stdout is not None
        reader = subprocess.Popen(
            [PYTHON, str(BENCH / "reader.py")],
            stdin=client.stdout,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
        )
        client.stdout.close()  # the reader holds the pipe now: it sees EOF when the client exits
        try:
            out, _ = reader.communicate(timeout=timeout)
            status = client.wait(timeout)
        except subprocess.TimeoutExpired:
            for child in (client, reader):
                child.kill()
                child.wait()
            raise BenchError(f"{argv[0]} | reader did not finish within {timeout:g} s") from None
        if status or reader.returncode:
            err.seek(0)
            detail = err.read()[-1500:].decode("utf-8", "replace").strip()
            raise BenchError(f"{argv[0]} | reader failed ({status}, {reader.returncode}): {detail}")
    return [(int(seq), int(ns)) for seq, ns in json.loads(out)]


def latency(config: Config, src: Service, report: Report) -> None:
    """Send time to reader, one event every 10 ms, through `CLIENT | reader`."""
    names = [CURL, JSON, DATA, RAW] if not config.smoke else [CURL, JSON]
    n, interval = config.latency_events, config.latency_interval
    progress(
        f"latency: {n} events {interval * 1000:g} ms apart; a verification run, {config.runs} runs"
    )

    def one(name: str, count: int) -> list[float]:
        url = f"{src.url}/tick?n={count}&interval={interval}"
        pairs = pipeline(CLIENTS[name].command(url), config.timeout)
        seqs = [seq for seq, _ in pairs]
        if seqs != list(range(1, count + 1)):
            raise BenchError(f"{name} | reader saw {len(seqs)} of {count} events, or out of order")
        return [ns / 1000 for _, ns in pairs]

    for name in names:
        one(name, 10)
    p50s: dict[str, list[float]] = {name: [] for name in names}
    p99s: dict[str, list[float]] = {name: [] for name in names}
    worst: dict[str, float] = dict.fromkeys(names, 0.0)
    for run in range(config.runs):
        for name in rotation(names, run):
            micros = one(name, n)
            p50s[name].append(percentile(micros, 50))
            p99s[name].append(percentile(micros, 99))
            worst[name] = max(worst[name], max(micros))
    p50 = {name: median(v) for name, v in p50s.items()}
    p99 = {name: median(v) for name, v in p99s.items()}
    table = Table(
        f"Latency through a pipe: `CLIENT | reader`, {n} events {interval * 1000:g} ms apart",
        ["client", "p50 µs", "p99 µs", "max µs", "p50 vs curl", "p99 vs curl"],
    )
    for name in names:
        table.rows.append(
            [
                name,
                f"{p50[name]:,.0f}",
                f"{p99[name]:,.0f}",
                f"{worst[name]:,.0f}",
                f"{p50[name] / p50[CURL]:.2f}x",
                f"{p99[name] / p99[CURL]:.2f}x",
            ]
        )
    table.notes.append(
        "From the source's time.time_ns() just before its write to the reader's clock just "
        f"after the read that brought the line; per-run percentiles, median of {config.runs} runs."
    )
    report.tables.append(table)
    report.targets += [
        Target(
            "latency: sse-cli json | reader, p50 vs curl",
            p50[JSON] / p50[CURL],
            3.0,
            at_least=False,
            detail=f"{p50[JSON]:,.0f} vs {p50[CURL]:,.0f} µs",
        ),
        Target(
            "latency: sse-cli json | reader, p99 vs curl",
            p99[JSON] / p99[CURL],
            5.0,
            at_least=False,
            detail=f"{p99[JSON]:,.0f} vs {p99[CURL]:,.0f} µs",
        ),
    ]


def _count_lines_until(fd: int, goal: int, seen: int, deadline: float, name: str) -> int:
    """Read `fd` until `goal` lines in all (or EOF when goal is -1); the count so far."""
    while goal < 0 or seen < goal:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BenchError(f"{name}: {seen:,} lines by the deadline, waiting for {goal:,}")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            if goal < 0:
                return seen
            raise BenchError(f"{name} ended after {seen:,} lines, before {goal:,}")
        seen += chunk.count(b"\n")
    return seen


def memory(config: Config, src: Service, report: Report) -> None:
    """RSS of sse-cli listen --format json after `low` events and after `high` events."""
    low, high = config.memory_low, config.memory_high
    url = f"{src.url}/memory?n={high}&pause={low},{high}"
    argv = CLIENTS[JSON].command(url)
    progress(f"memory: RSS after {low:,} and {high:,} events, {config.runs} runs")
    readings: list[tuple[int, int, int]] = []

    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def release() -> None:
        with direct.open(src.url + "/release", timeout=10) as answer:
            answer.read()

    for _ in range(config.runs):
        deadline = time.monotonic() + config.timeout
        with tempfile.TemporaryFile() as err:
            child = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=child_env()
            )
            assert child.stdout is not None
            fd = child.stdout.fileno()
            try:
                seen = _count_lines_until(fd, low, 0, deadline, JSON)
                at_low = memory_kib(child.pid)
                release()
                seen = _count_lines_until(fd, high, seen, deadline, JSON)
                at_high = memory_kib(child.pid)
                peak = memory_kib(child.pid, "VmHWM")
                release()
                seen = _count_lines_until(fd, -1, seen, deadline, JSON)
                status = child.wait(max(1.0, deadline - time.monotonic()))
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
                child.stdout.close()
            if status or seen != high:
                err.seek(0)
                detail = err.read()[-1500:].decode("utf-8", "replace").strip()
                raise BenchError(f"{JSON}: status {status}, {seen:,} of {high:,} events: {detail}")
        readings.append((at_low, at_high, peak))

    growth = [(h - lo) / 1024 for lo, h, _ in readings]
    table = Table(
        f"Memory: sse-cli listen --format json, RSS after {low:,} and after {high:,} small events",
        ["run", f"RSS at {low:,} MiB", f"RSS at {high:,} MiB", "growth MiB", "peak RSS MiB"],
    )
    for i, (lo, h, peak) in enumerate(readings, 1):
        table.rows.append(
            [
                str(i),
                f"{lo / 1024:.1f}",
                f"{h / 1024:.1f}",
                f"{(h - lo) / 1024:+.1f}",
                f"{peak / 1024:.1f}",
            ]
        )
    table.notes.append(
        "The source holds the stream after each mark until the suite has counted that many "
        "lines on sse-cli's stdout and read VmRSS from /proc."
    )
    report.tables.append(table)
    report.targets.append(
        Target(
            f"memory: RSS growth from {low:,} to {high:,} events",
            median(growth),
            10.0,
            at_least=False,
            unit=" MiB",
            detail=f"median of {len(growth)} runs; largest {max(growth):+.1f} MiB",
        )
    )
