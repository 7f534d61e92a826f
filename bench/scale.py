"""The scale benchmark (`bench/run --only scale`): 10,000, 25,000 and 50,000 concurrent
streams of `sse-cli serve --workers W --broker redis://...`, held by `sse-cli bench --workers
W` while a publish goes out every second.

For each size, a fresh server on the one redis-server (bench/broker.py's, on a free loopback
port, stopped by its PID):

1. a baseline run, one stream per bench worker and 2 publishes: it checks the set-up end to
   end, warms the server, and gives bench's own RSS at that size; then serve's idle RSS;
2. `sse-cli bench URL/subscribe?topic=T -c N --ramp R --workers W --events-per-stream K
   --publish URL/publish?topic=T --publish-rate 1`: bench publishes once every stream is
   open, and each stream ends with its K-th event, so all N are held for K - 1 seconds of
   publishes (K = HOLD + 3: a second more than the hold, which is read from samples a second
   apart) and bench's report counts N x K events if none was lost;
3. meanwhile a sampler thread reads every process's RSS, CPU time and open files from /proc
   once a second (serve's workers, bench's processes, redis-server).

RSS per stream = (the largest sample of the side's summed RSS - the same at baseline) / N.
Stdlib only, as bench/common.py; every process it starts is stopped in a `finally`, also on
Ctrl-C: the servers by their PIDs, bench by its own process group.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.broker import redis_server
from bench.common import (
    ROOT,
    SSE_CLI,
    WORK,
    BenchError,
    Report,
    Table,
    Target,
    child_env,
    cpu_seconds,
    memory_kib,
    progress,
    raise_fd_limit,
    service,
)
from bench.config import Config

SIZES = (10_000, 25_000, 50_000)
SMOKE_SIZES = (300,)
HOLD = 60
"""Seconds every stream is held while publishes go out, in a full run."""
SMOKE_HOLD = 2
SERVE_WORKERS = 3
BENCH_WORKERS = 3
RAMP = 1_000
"""Streams opened a second (bench's --ramp): 2,000 outran serve on a busy 2-core machine,
which then answered some heads after bench's 30 s connect timeout."""
#: Streams per source address at most: the rest of ip_local_port_range stays for others.
PORT_SHARE = 0.75
#: Limits of the issue: p99 delivery to the largest size, KiB per stream on each side.
P99_LIMIT_MS = 2_000.0
SERVE_KIB_LIMIT = 14.0
BENCH_KIB_LIMIT = 6.0


@dataclass
class Sample:
    t: float
    serve_rss: int
    bench_rss: int
    serve_cpu: float
    bench_cpu: float
    redis_cpu: float
    serve_fds: list[int]
    machine_cpu: float
    """CPU time every process on the machine has used, from /proc/stat."""


@dataclass
class Sampler:
    """Reads /proc every `every` seconds in a thread until stopped: serve's workers, bench's process
    tree (found afresh each time: its workers start late) and redis-server."""

    serve: list[int]
    redis: int
    every: float = 1.0
    bench: int | None = None
    samples: list[Sample] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def take(self) -> Sample:
        bench = tree(self.bench) if self.bench is not None else []
        return Sample(
            time.monotonic(),
            sum(_quiet(memory_kib, p) for p in self.serve),
            sum(_quiet(memory_kib, p) for p in bench),
            sum(_quiet(cpu_seconds, p) for p in self.serve),
            sum(_quiet(cpu_seconds, p) for p in bench),
            _quiet(cpu_seconds, self.redis),
            [_quiet(open_files, p) for p in self.serve],
            machine_cpu(),
        )

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(self.take())
            self.stop.wait(self.every)

    @contextlib.contextmanager
    def running(self) -> Iterator[Sampler]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            thread.join(5.0)


def _quiet(read: Any, pid: int) -> Any:
    """A /proc reading of a process that may have just exited: 0 then."""
    try:
        return read(pid)
    except (OSError, BenchError, IndexError):
        return 0


def machine_cpu() -> float:
    """Busy CPU seconds of all cores since boot: user, nice, system, irq, softirq, steal."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    busy = sum(int(fields[i]) for i in (0, 1, 2, 5, 6, 7))
    return busy / os.sysconf("SC_CLK_TCK")


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def tree(pid: int) -> list[int]:
    """A process and its descendants."""
    found: list[int] = []
    todo = [pid]
    while todo and len(found) < 64:
        p = todo.pop()
        found.append(p)
        todo += children(p)
    return found


def port_range() -> tuple[int, int]:
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return int(low), int(high)


def local_ips(n: int, has_flag: bool) -> list[str] | None:
    """bench's --local-ips for n streams: [] when one source address does, None when more
    are needed but this bench has no --local-ips."""
    low, high = port_range()
    per_address = int((high - low + 1) * PORT_SHARE)
    if n <= per_address:
        return []
    if not has_flag:
        return None
    return ["--local-ips", f"127.0.0.2-127.0.0.{1 + math.ceil(n / per_address)}"]


def has_local_ips() -> bool:
    done = subprocess.run(
        [SSE_CLI, "bench", "--help"], capture_output=True, text=True, env=child_env(), check=False
    )
    return "--local-ips" in done.stdout


@dataclass(frozen=True)
class Plan:
    size: int
    events: int
    """K: each stream ends with its K-th event."""
    serve_workers: int
    bench_workers: int
    ramp: float
    extra: list[str]
    report: Path | None = None

    def bound(self) -> float:
        """bench's --duration: the bound on the run, never reached when nothing is lost."""
        return self.size / self.ramp + self.events + 60.0


def bench_argv(base: str, topic: str, plan: Plan, streams: int, events: int) -> list[str]:
    argv = [
        SSE_CLI, "bench", f"{base}/subscribe?topic={topic}", "-c", str(streams),
        "--workers", str(plan.bench_workers), "--ramp", str(plan.ramp),
        "--events-per-stream", str(events), "--duration", f"{plan.bound():.0f}",
        "--publish", f"{base}/publish?topic={topic}", "--publish-rate", "1",
        "--no-reconnect", "-q", "-f", "json", *plan.extra,
    ]  # fmt: skip
    if plan.report is not None and streams == plan.size:
        argv += ["--report", str(plan.report)]
    return argv


def run_bench(argv: list[str], sampler: Sampler, timeout: float) -> tuple[dict[str, Any], float]:
    """bench in its own process group (so all of it stops, also on Ctrl-C), sampled while it
    runs: its JSON report, and its CPU time with its workers' (wait4: they are reaped)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=child_env(), cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip
        sampler.bench = child.pid
        timer = threading.Timer(timeout, os.killpg, (child.pid, signal.SIGKILL))
        timer.start()
        try:
            with sampler.running():
                _, wait_status, usage = os.wait4(child.pid, 0)
            child.returncode = status = os.waitstatus_to_exitcode(wait_status)
        finally:
            timer.cancel()
            if child.returncode is None:  # interrupted: stop all of bench
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        out.seek(0)
        err.seek(0)
        text, tail = out.read(), err.read()[-1500:].decode("utf-8", "replace").strip()
    if status == -signal.SIGKILL:
        raise BenchError(f"sse-cli bench did not finish within {timeout:.0f} s")
    if status not in (0, 8) or not text.strip():
        raise BenchError(f"sse-cli bench exited with status {status}: {tail}")
    report: dict[str, Any] = json.loads(text)
    (WORK / f"scale-{report['connections']}.json").write_bytes(text)
    return report, usage.ru_utime + usage.ru_stime


def lost(report: dict[str, Any], streams: int, events: int) -> str:
    """What went missing, or '' when every stream got every one of its events."""
    problems = []
    if report["streams"]["opened"] != streams:
        problems.append(f"{report['streams']['opened']:,} of {streams:,} streams opened")
    if report["errors"]["total"] or report["reconnects"]:
        problems.append(f"errors {report['errors']['by_kind']}, {report['reconnects']} reconnects")
    resume = report["resume"]
    if resume["duplicates"] or resume["gaps"]:
        problems.append(f"resume audit: {resume['duplicates']} duplicates, {resume['gaps']} gaps")
    if report["publish"]["errors"]:
        problems.append(f"publish errors {report['publish']['errors']}")
    if report["events"]["total"] != streams * events:
        problems.append(f"{report['events']['total']:,} events of {streams * events:,}")
    return "; ".join(problems)


@dataclass
class Figures:
    size: int
    report: dict[str, Any]
    problems: str
    held_s: float
    serve_kib: float
    bench_kib: float
    growth: tuple[float, float]
    """How fast serve's and bench's RSS grew while every stream was held, in MiB a minute."""
    serve_cpu_s: float
    bench_cpu_s: float
    redis_cpu_s: float
    hold_cores: tuple[float, float, float]
    """serve's, bench's and the whole machine's CPU while every stream is held, in cores."""
    spread: list[int]
    """Streams each serve worker held at the peak."""

    @property
    def delivered_pct(self) -> float:
        expected = self.size * (self.report["settings"]["events_per_stream"] or 0)
        return 100.0 * int(self.report["events"]["total"]) / expected if expected else 0.0

    @property
    def lost_events(self) -> int:
        expected = self.size * (self.report["settings"]["events_per_stream"] or 0)
        return max(0, expected - int(self.report["events"]["total"]))


def _settle(workers: list[int], fds: int) -> list[int]:
    """Wait (bounded) until serve's workers are down to `fds` open files, their streams
    closed; their open files then."""
    for _ in range(100):
        now = [_quiet(open_files, p) for p in workers]
        if sum(now) <= fds:
            break
        time.sleep(0.1)
    return now


def _cpu(samples: list[Sample], first: int, last: int) -> tuple[float, float, float]:
    a, b = samples[first], samples[last]
    t = b.t - a.t
    if t < 0.5:
        return math.nan, math.nan, math.nan
    used = (b.serve_cpu - a.serve_cpu, b.bench_cpu - a.bench_cpu, b.machine_cpu - a.machine_cpu)
    return used[0] / t, used[1] / t, used[2] / t


def measure(plan: Plan, redis_url: str, redis_pid: int, timeout: float) -> Figures:
    """One size: a fresh server, the baseline run, then the run of `plan.size` streams."""
    argv = [
        SSE_CLI, "serve", "--host", "127.0.0.1", "--port", "0", "--workers",
        str(plan.serve_workers), "--broker", redis_url, "--max-streams", str(plan.size + 64),
        "--rate-limit", "0", "--quiet",
    ]  # fmt: skip
    topic = f"scale-{plan.size}"
    with service(argv, "sse-cli serve --workers", timeout=timeout) as srv:
        workers = children(srv.pid)
        warm = Sampler(workers, redis_pid, every=0.2)
        few = plan.bench_workers
        base, _ = run_bench(bench_argv(srv.url, f"{topic}-base", plan, few, 3), warm, timeout)
        if problem := lost(base, few, 3):
            raise BenchError(f"the baseline run of {few} streams lost events: {problem}")
        idle_fds = _settle(workers, max(sum(s.serve_fds) for s in warm.samples) - few)
        idle = Sampler(workers, redis_pid).take()
        sampler = Sampler(workers, redis_pid)
        first = sampler.take()
        main, bench_cpu = run_bench(
            bench_argv(srv.url, topic, plan, plan.size, plan.events), sampler, plan.bound() + 60
        )
        last = sampler.take()
    samples = sampler.samples
    rows = [[round(s.t - samples[0].t, 2), s.serve_rss, s.bench_rss, s.serve_fds] for s in samples]
    (WORK / f"scale-{plan.size}-samples.json").write_text(json.dumps(rows))
    held = [i for i, s in enumerate(samples) if sum(s.serve_fds) - sum(idle_fds) >= plan.size]
    peak = max(samples, key=lambda s: sum(s.serve_fds))
    base_held = [s for s in warm.samples if sum(s.serve_fds) - sum(idle_fds) >= few]
    main_held = [samples[i] for i in held] or samples
    opened = main_held[min(1, len(main_held) - 1)]  # a second after the last stream opened
    minutes = max(main_held[-1].t - opened.t, 1.0) / 60
    return Figures(
        size=plan.size,
        report=main,
        problems=lost(main, plan.size, plan.events),
        held_s=samples[held[-1]].t - samples[held[0]].t if held else 0.0,
        serve_kib=(opened.serve_rss - idle.serve_rss) / plan.size,
        bench_kib=(opened.bench_rss - max(s.bench_rss for s in base_held or warm.samples))
        / (plan.size - few),
        growth=(
            (main_held[-1].serve_rss - opened.serve_rss) / 1024 / minutes,
            (main_held[-1].bench_rss - opened.bench_rss) / 1024 / minutes,
        ),
        serve_cpu_s=last.serve_cpu - first.serve_cpu,
        bench_cpu_s=bench_cpu,
        redis_cpu_s=last.redis_cpu - first.redis_cpu,
        hold_cores=_cpu(samples, held[0], held[-1]) if held else (math.nan,) * 3,
        spread=[n - i for n, i in zip(peak.serve_fds, idle_fds, strict=True)],
    )


def plans(
    config: Config, serve_workers: int, bench_workers: int, sizes: tuple[int, ...]
) -> list[Plan | int]:
    """What to run for each size; a bare size where one source address is too few and this
    bench has no --local-ips."""
    flag = has_local_ips()
    hold = SMOKE_HOLD if config.smoke else HOLD
    WORK.mkdir(parents=True, exist_ok=True)
    out: list[Plan | int] = []
    for n in sizes:
        extra = local_ips(n, flag)
        if extra is None:
            out.append(n)
            continue
        chart = WORK / f"scale-{n}.html" if n == max(sizes) and not config.smoke else None
        out.append(Plan(n, hold + 3, serve_workers, bench_workers, RAMP, extra, chart))
    return out


def preflight(sizes: tuple[int, ...], serve_workers: int, bench_workers: int) -> list[str]:
    """Raise the open-files limit to the hard limit; say where it or the ports fall short."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    raise_fd_limit(hard if hard != resource.RLIM_INFINITY else 1 << 20)
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    low, high = port_range()
    notes = [
        f"Open-files limit {soft:,} per process (hard {hard:,}); ip_local_port_range "
        f"{low}-{high} ({high - low + 1:,} ports per source address)."
    ]
    for n in sizes:
        for side, workers in (("serve", serve_workers), ("bench", bench_workers)):
            if n / workers + 64 > soft:
                notes.append(
                    f"**{n:,} streams over {workers} {side} workers need more than {soft:,} "
                    "open files per process**: streams past it fail."
                )
    return notes


def scale(
    config: Config,
    report: Report,
    sizes: tuple[int, ...] | None = None,
    serve_workers: int = SERVE_WORKERS,
    bench_workers: int = BENCH_WORKERS,
) -> None:
    sizes = sizes or (SMOKE_SIZES if config.smoke else SIZES)
    notes = preflight(sizes, serve_workers, bench_workers)
    todo = plans(config, serve_workers, bench_workers, sizes)
    done: list[Figures] = []
    with redis_server(config.timeout) as (url, redis_pid):
        for plan in todo:
            if isinstance(plan, int):
                progress(f"scale: {plan:,} streams need --local-ips, which this bench lacks")
                continue
            progress(
                f"scale: {plan.size:,} streams, serve --workers {plan.serve_workers}, "
                f"bench --workers {plan.bench_workers}, held for {plan.events - 2} s of publishes"
            )
            done.append(measure(plan, url, redis_pid, config.timeout))
    skipped = [p for p in todo if isinstance(p, int)]
    _table(report, done, skipped, notes, serve_workers, bench_workers)
    if done:
        wanted = done[-1].size if config.smoke else SIZES[-1]
        _targets(report, done[-1], wanted, SMOKE_HOLD if config.smoke else HOLD)


def _cores(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def _table(
    report: Report,
    done: list[Figures],
    skipped: list[int],
    notes: list[str],
    serve_workers: int,
    bench_workers: int,
) -> None:
    table = Table(
        f"Scale: concurrent streams of `serve --workers {serve_workers} --broker redis` held by "
        f"`bench --workers {bench_workers}`, a publish every second",
        [
            "streams", "all held", "events (lost)", "delivery p50 ms", "p99 ms", "max ms",
            "serve KiB / stream", "bench KiB / stream", "RSS growth, MiB / min (serve, bench)",
            "serve CPU s (cores held)",
            "bench CPU s (cores held)", "redis CPU s", "streams per serve worker",
        ],
    )  # fmt: skip
    for f in done:
        latency = f.report["latency_ms"]
        table.rows.append(
            [
                f"{f.size:,}",
                f"{f.held_s:.0f} s",
                f"{f.report['events']['total']:,} ({f.lost_events:,})",
                f"{latency['p50']:,.0f}",
                f"{latency['p99']:,.0f}",
                f"{latency['max']:,.0f}",
                f"{f.serve_kib:.1f}",
                f"{f.bench_kib:.1f}",
                f"{f.growth[0]:.1f}, {f.growth[1]:.1f}",
                f"{f.serve_cpu_s:.1f} ({_cores(f.hold_cores[0])})",
                f"{f.bench_cpu_s:.1f} ({_cores(f.hold_cores[1])})",
                f"{f.redis_cpu_s:.1f}",
                " / ".join(f"{n:,}" for n in f.spread),
            ]
        )
        if f.problems:
            table.notes.append(f"**{f.size:,} streams: {f.problems}.**")
    for n in skipped:
        table.rows.append([f"{n:,}", "not run: one source address has too few ports and "
                           "this bench has no --local-ips"] + [""] * 11)  # fmt: skip
    table.notes += notes
    table.notes.append(
        "A fresh server per size, one redis-server. bench opens the streams at "
        f"{RAMP:,} a second and publishes once all are open; each stream ends with its "
        "last expected event, so a lost event shows as a stream short of its count. Delivery "
        "is from each publish's due time to its arrival, over every stream (bench's "
        "histogram). KiB per stream: the summed RSS of the side's processes (sampled each "
        "second) a second after the last stream opened, less serve's idle RSS or bench's "
        "holding one stream per worker, over the streams; RSS growth: from then to the last "
        "second every stream was held (bench's grows with the run's length, not with its "
        "streams). CPU: the whole run (ramp, hold, close); in brackets the cores used while "
        "every stream was open (of 2; the targets table adds the whole machine's). "
        "All held: how long serve's workers held every stream "
        "(their open files, sampled each second)."
    )
    report.tables.append(table)


def _bound(f: Figures) -> str:
    """What bounded the run: the cores in use while every stream was held, by side and in
    all (other work on the machine counts: a shared machine shows as CPU-bound)."""
    serve, bench, machine = f.hold_cores
    if math.isnan(machine):
        return ""
    cores = os.cpu_count() or 1
    verdict = "CPU-bound" if machine >= 0.9 * cores else "CPU to spare"
    return (
        f"; while held serve used {serve:.2f}, bench {bench:.2f}, the whole machine "
        f"{machine:.2f} of {cores} cores ({verdict})"
    )


def _targets(report: Report, f: Figures, wanted: int, hold: int) -> None:
    at = f"{f.size:,} streams" + ("" if f.size == wanted else f" (not {wanted:,}: see the table)")
    latency = f.report["latency_ms"]
    report.targets += [
        Target(
            f"scale: delivery p99 of a publish to {at}",
            latency["p99"],
            P99_LIMIT_MS,
            at_least=False,
            unit=" ms",
            detail=f"p50 {latency['p50']:,.0f} ms, max {latency['max']:,.0f} ms{_bound(f)}",
        ),
        Target(
            f"scale: serve RSS per idle stream, {at}",
            f.serve_kib,
            SERVE_KIB_LIMIT,
            at_least=False,
            unit=" KiB",
            detail=f"streams per worker {f.spread}",
        ),
        Target(
            f"scale: bench RSS per stream, {at}",
            f.bench_kib,
            BENCH_KIB_LIMIT,
            at_least=False,
            unit=" KiB",
        ),
        Target(
            f"scale: events delivered of those published while streams were held, {at}",
            f.delivered_pct,
            100.0,
            at_least=True,
            unit=" %",
            detail=f.problems or "every stream got every publish",
        ),
        Target(
            f"scale: seconds every stream was held while publishing, {at}",
            f.held_s,
            hold,
            at_least=True,
            unit=" s",
        ),
    ]


def main() -> int:
    """`python -m bench.scale --sizes 1000,5000 --serve-workers 2 --bench-workers 3`: the
    scale benchmark alone, at chosen sizes and worker counts, to explore; Markdown to stdout."""
    import argparse
    import sys

    from bench.config import FULL, SMOKE

    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--serve-workers", type=int, default=SERVE_WORKERS)
    parser.add_argument("--bench-workers", type=int, default=BENCH_WORKERS)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    report = Report()
    sizes = tuple(int(n) for n in args.sizes.split(","))
    try:
        scale(SMOKE if args.smoke else FULL, report, sizes, args.serve_workers, args.bench_workers)
    except BenchError as exc:
        progress(f"failed: {exc}")
        return 2
    targets = Table("Targets", ["target", "figure", "limit", "verdict", "from"])
    targets.rows += [t.row() for t in report.targets]
    sys.stdout.write(targets.markdown() + "\n" + "\n".join(t.markdown() for t in report.tables))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
