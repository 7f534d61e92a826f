"""What every benchmark shares: child processes, timing, memory readings, statistics, tables.

Every child runs with stdin closed, without PYTHONUNBUFFERED (it hides missing flushes) and
under a time bound; a child that fails or hangs fails the suite with the tail of its stderr.
Stdlib only (and `sse_cli.launcher`, itself stdlib only): the suite's own process stays light,
so it never competes with what it measures.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.config import Config
from sse_cli.launcher import LaunchError, launch

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / ".work"
#: The venv's interpreter and console script (not resolved: the venv is the point).
PYTHON = sys.executable
SSE_CLI = str(Path(sys.executable).parent / "sse-cli")

#: Variables that change how a child buffers, compiles or traces, or send its loopback
#: requests through a proxy: none reaches a child.
DROPPED_ENV = frozenset(
    {
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONPROFILEIMPORTTIME",
        "PYTHONDEVMODE",
        "PYTHONASYNCIODEBUG",
        "PYTHONTRACEMALLOC",
        "PYTHONWARNINGS",
    }
)


class BenchError(Exception):
    """The suite cannot give a figure: a client missed events, a child failed or hung."""


def child_env() -> dict[str, str]:
    """The environment of every child process."""
    return {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}


def progress(text: str) -> None:
    """A progress note for people, on stderr (stdout carries only the Markdown)."""
    sys.stderr.write(f"bench: {text}\n")
    sys.stderr.flush()


def raise_fd_limit(wanted: int) -> None:
    """Raise this process's open-file limit (children inherit it) to `wanted` if allowed."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def command_name(argv: Sequence[str]) -> str:
    names = [Path(argv[0]).name, *argv[1:3]]
    return " ".join(Path(a).name if a.startswith("/") else a for a in names)


@dataclass(frozen=True, slots=True)
class Finished:
    seconds: float
    """Wall time from spawning the child to its exit, as a shell's `time` sees it."""
    cpu: float
    """The child's user plus system CPU time: what it cost, whatever else ran meanwhile."""
    stderr: bytes
    stream: float | None = None
    """Seconds from the first byte of its stdout to the last expected one, when timed so."""


def run_timed(
    argv: Sequence[str], *, timeout: float, stdout: int | IO[bytes] = subprocess.DEVNULL
) -> Finished:
    """Run `argv` to its end with stdout where given (default /dev/null); time it."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=err,
            env=child_env(),
            cwd=ROOT,
        )
        # wait4 rather than wait: it also gives the child's CPU time.
        timer = threading.Timer(timeout, child.kill)
        timer.start()
        try:
            _, wait_status, usage = os.wait4(child.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        child.returncode = status = os.waitstatus_to_exitcode(wait_status)
        err.seek(0)
        stderr = err.read()
    if seconds >= timeout:
        raise BenchError(f"{command_name(argv)} did not finish within {timeout:g} s")
    if status != 0:
        tail = stderr[-1500:].decode("utf-8", "replace").strip()
        raise BenchError(f"{command_name(argv)} exited with status {status}: {tail}")
    return Finished(seconds, usage.ru_utime + usage.ru_stime, stderr)


def run_read_timed(argv: Sequence[str], *, size: int, timeout: float) -> Finished:
    """`run_timed` with stdout into a pipe that a thread of this process drains: `stream` is
    the time from the first byte on the pipe to the `size`-th, so neither the child's start-up
    nor its exit is in it (what a floor that times itself leaves out too)."""
    read, write = os.pipe()
    marks: list[float] = []

    def drain() -> None:
        got = 0
        with os.fdopen(read, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 20):
                if not got:
                    marks.append(time.perf_counter())
                got += len(chunk)
                if got >= size and len(marks) == 1:
                    marks.append(time.perf_counter())

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = run_timed(argv, timeout=timeout, stdout=write)
    finally:
        os.close(write)
        reader.join(timeout)
    if len(marks) != 2:
        raise BenchError(f"{command_name(argv)} wrote fewer than {size:,} bytes")
    return Finished(done.seconds, done.cpu, done.stderr, marks[1] - marks[0])


def run_json(argv: Sequence[str], what: str, *, timeout: float) -> dict[str, Any]:
    """Run a measuring child to its end and read the one JSON object it prints; BenchError
    ("WHAT failed: " and the tail of its stderr) if it fails."""
    with tempfile.TemporaryFile() as out:
        done = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.PIPE,
            env=child_env(),
            cwd=ROOT,
            timeout=timeout,
            check=False,
        )
        out.seek(0)
        text = out.read()
    if done.returncode:
        tail = done.stderr[-1500:].decode("utf-8", "replace").strip()
        raise BenchError(f"{what} failed: {tail}")
    result: dict[str, Any] = json.loads(text)
    return result


def serve_argv(streams: int, ping: int | None = None) -> list[str]:
    """`sse-cli serve` on a free loopback port, quiet and without a rate limit, with room for
    `streams` subscribers (and heartbeats every `ping` seconds where given)."""
    argv = [SSE_CLI, "serve", "--host", "127.0.0.1", "--port", "0"]
    if ping is not None:
        argv += ["--ping", str(ping)]
    return argv + ["--max-streams", str(streams + 64), "--rate-limit", "0", "--quiet"]


@dataclass(frozen=True, slots=True)
class Service:
    """A server child process: its base URL and pid (for memory readings)."""

    url: str
    pid: int


#: Smoke runs only (see `shared_services`): the running children by argv, and what stops them.
_shared: dict[tuple[str, ...], Service] = {}
_shared_stack: list[contextlib.ExitStack] = []


@contextmanager
def shared_services() -> Iterator[None]:
    """For the block, every `service()` with the same argv is one child, started at its first
    use and stopped when the block ends. The smoke run proves each benchmark still runs, and
    its figures mean nothing, so it pays a server's start-up once, not once per figure."""
    with contextlib.ExitStack() as stack:
        _shared_stack.append(stack)
        try:
            yield
        finally:
            _shared_stack.pop()
            _shared.clear()


@contextmanager
def service(
    argv: Sequence[str],
    name: str,
    *,
    timeout: float = 30.0,
    stop: signal.Signals = signal.SIGINT,
) -> Iterator[Service]:
    """Run a server child for the block; its stderr banner `serving on URL` gives the URL.

    `sse_cli.launcher` starts it and drains its stderr the whole time (uvicorn logs every
    request there), keeping the last lines for the error message if the child dies. Within
    `shared_services()` the child outlives the block, shared by every block with its argv.
    """
    if not _shared_stack:
        with _service(argv, name, timeout=timeout, stop=stop) as server:
            yield server
        return
    key = tuple(argv)
    if key not in _shared:
        _shared[key] = _shared_stack[-1].enter_context(
            _service(argv, name, timeout=timeout, stop=stop)
        )
    yield _shared[key]


@contextmanager
def _service(
    argv: Sequence[str], name: str, *, timeout: float, stop: signal.Signals
) -> Iterator[Service]:
    try:
        child = launch(argv, env=child_env(), cwd=ROOT, timeout=timeout, keep=20, name=name)
    except LaunchError as exc:
        raise BenchError(f"{exc.message} (within {timeout:g} s)") from None
    try:
        yield Service(child.url, child.pid)
        if child.proc.poll() is not None:
            detail = " | ".join(line.rstrip() for line in child.lines()) or "no output"
            raise BenchError(f"{name} exited with status {child.proc.returncode}: {detail}")
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.stop(stop)  # killed if it does not exit


def pubsub_load(
    server: Service,
    name: str,
    config: Config,
    *,
    subscribers: int,
    publishes: int,
    idle: float,
    first_comment: bool = True,
) -> dict[str, Any]:
    """bench/loadclient.py against `server`: its figures, once every subscriber stayed and
    got every event (and a heartbeat, when idle for longer than one --ping)."""
    argv = [
        PYTHON, "-m", "bench.loadclient", server.url, "--pid", str(server.pid),
        "--subscribers", str(subscribers), "--batch", str(config.batch), "--idle", str(idle),
        "--publishes", str(publishes), "--timeout", str(config.timeout),
    ]  # fmt: skip
    if first_comment:  # "Each stream starts with a comment at once", sent once subscribed
        argv.append("--first-comment")
    result = run_json(argv, f"the load client against {name}", timeout=config.timeout + 10)
    if result["lost"] or any(p["reached"] != subscribers for p in result["publishes"]):
        raise BenchError(f"{name}: a subscriber was lost or missed an event: {result}")
    if idle > config.ping * 1.2 and result["heartbeats_min"] < 1:
        raise BenchError(f"{name}: a subscriber saw no heartbeat in {idle:g} s idle")
    return result


def pubsub_runs(
    what: str,
    names: Sequence[str],
    config: Config,
    load: Callable[[str, Config, int, int, float], Any],
) -> dict[str, list[Any]]:
    """`load(name, config, subscribers, publishes, idle)` of each server: a verification run
    (up to 100 subscribers, one publish, a heartbeat round) unless smoke, then
    `config.runs` timed runs of each, in rotation; the timed runs' results by name. The
    progress note starts with `what`."""
    verify = "" if config.smoke else "a verification run, "
    progress(f"{what}; {verify}{config.runs} runs, a fresh server each")
    n = config.subscribers
    if not config.smoke:
        for name in names:
            load(name, config, min(n, 100), 1, config.ping + 0.5)
    runs: dict[str, list[Any]] = {name: [] for name in names}
    for run in range(config.runs):
        for name in rotation(names, run):
            runs[name].append(load(name, config, n, config.publishes, config.idle))
    return runs


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (10 ms resolution), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int, key: str = "VmRSS") -> int:
    """A process's resident set size (or VmHWM, its peak) in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise BenchError(f"no {key} in /proc/{pid}/status")


def median(values: Sequence[float]) -> float:
    if not values:
        raise BenchError("no measurements")
    return float(statistics.median(values))


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile: the smallest value at or above p % of the values."""
    if not values:
        raise BenchError("no measurements")
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)])


def rotation(items: Sequence[str], run: int) -> list[str]:
    """Round-robin: each run starts one item later, so drift and noise land evenly."""
    k = run % len(items)
    return [*items[k:], *items[:k]]


@dataclass
class Table:
    title: str
    header: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        lines.append("| " + " | ".join(self.header) + " |")
        aligns = ["---"] + ["---:"] * (len(self.header) - 1)
        lines.append("| " + " | ".join(aligns) + " |")
        lines += [
            "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in self.rows
        ]
        if self.notes:
            lines.append("")
            lines += self.notes
        return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Target:
    """One target of issue 6: a figure from this run against its limit."""

    name: str
    figure: float
    limit: float
    at_least: bool
    """True: figure >= limit is met; False: figure <= limit is met."""
    unit: str = "x"
    detail: str = ""
    """How the figure was formed, e.g. '412k vs 98k events/s'."""

    @property
    def met(self) -> bool:
        return self.figure >= self.limit if self.at_least else self.figure <= self.limit

    def verdict(self) -> str:
        if self.met:
            return "met"
        if self.at_least:
            short = (self.limit - self.figure) / self.limit * 100
            if self.figure <= 0:
                return f"**missed** by {short:.0f}%"
            return f"**missed** by {short:.0f}% ({self.limit / self.figure:.2f}x short)"
        over = (self.figure - self.limit) / self.limit * 100
        return f"**missed** by {over:.0f}% ({self.figure / self.limit:.2f}x over)"

    def row(self) -> list[str]:
        sign = "≥" if self.at_least else "≤"
        return [
            self.name,
            f"{fmt_figure(self.figure)}{self.unit}",
            f"{sign} {fmt_figure(self.limit)}{self.unit}",
            self.verdict(),
            self.detail,
        ]


def fmt_figure(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def rate(per_second: float) -> str:
    if per_second >= 1e6:
        return f"{per_second / 1e6:.2f}M"
    if per_second >= 1e3:
        return f"{per_second / 1e3:.1f}k"
    return f"{per_second:.0f}"


@dataclass
class Report:
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
