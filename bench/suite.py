"""`bench/run`: every benchmark of issue 6, printed as Markdown tables with the targets.

    bench/run [--smoke] [--runs N] [--only NAME,...] [--output FILE]

Progress goes to stderr, the Markdown to stdout (and to FILE). Exit status: 0 when every
target is met (a smoke run only has to finish), 1 when a full run missed a target, 2 when
the suite could not measure (a client missed events, a child failed or hung).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import os
import platform
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from bench import broker, clients, decoder, replay, scale, servers, stacks
from bench import load as load_test
from bench.common import (
    PYTHON,
    ROOT,
    WORK,
    BenchError,
    Report,
    Table,
    progress,
    raise_fd_limit,
    shared_services,
)
from bench.config import FULL, SMOKE, Config

CLIENT_BENCHMARKS = ("startup", "throughput", "latency", "memory")
SERVER_BENCHMARKS = ("counter", "clock", "pubsub", "stacks", "broker", "replay")
DEFAULT = ("decoder",) + CLIENT_BENCHMARKS + SERVER_BENCHMARKS + ("load",)
#: Run only when named (--only scale): minutes of 50,000 streams, the machine to itself.
BENCHMARKS = DEFAULT + ("scale",)


def machine(load: tuple[float, float], code: str, started: datetime.datetime) -> list[str]:
    """The facts a reader needs to compare runs: date, CPU, Python, versions, the command."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = []
    for package in (
        "aiohttp",
        "httpx",
        "httpx-sse",
        "uvicorn",
        "uvloop",
        "httptools",
        "sse-starlette",
        "fastapi",
        "typer",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=False)
    versions.append(curl.stdout.split(" (", 1)[0] if curl.stdout else "curl ?")
    command = "bench/run" + "".join(" " + shlex.quote(a) for a in sys.argv[1:])
    return [
        f"- date: {started.strftime('%Y-%m-%d %H:%M %Z')} (the start of the run)",
        f"- machine: nproc {os.cpu_count()}, {model}, "
        f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB, "
        f"Linux {platform.release()}",
        f"- load average (1 min) at the start {load[0]:.2f}, at the end {load[1]:.2f}",
        f"- Python {platform.python_version()} ({PYTHON})",
        f"- {', '.join(versions)}",
        f"- code: {code}",
        f"- command: `{command}`",
    ]


def run(config: Config, selected: list[str], report: Report) -> None:
    """Run the selected benchmarks in order, adding their tables and targets to `report`."""
    if "decoder" in selected:
        decoder.decoder(config, report)
    if any(name in selected for name in CLIENT_BENCHMARKS):
        with clients.event_source(config) as src:
            if "startup" in selected:
                clients.startup(config, src, report)
            if "throughput" in selected:
                clients.throughput(config, src, report)
            if "latency" in selected:
                clients.latency(config, src, report)
            if "memory" in selected:
                clients.memory(config, src, report)
    if "counter" in selected:
        servers.counter(config, report)
    if "clock" in selected:
        servers.clock(config, report)
    if "pubsub" in selected:
        servers.pubsub(config, report)
    if "stacks" in selected:
        stacks.stacks(config, report)
    if "broker" in selected:
        broker.broker(config, report)
    if "replay" in selected:
        replay.replay(config, report)
    if "load" in selected:
        load_test.count(config, report)
        load_test.scale(config, report)
    if "scale" in selected:
        scale.scale(config, report)


def code_state() -> tuple[str, str]:
    """The code measured: a description, and a fingerprint to notice a change during the run."""
    paths = ["--", "sse_cli", "pyproject.toml"]

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
        except OSError:  # no git: a source tarball, say
            return ""
        return done.stdout

    head = git("log", "-1", "--format=%h %s")
    status = git("status", "--porcelain", "--untracked-files=no", *paths)
    diff = git("diff", "HEAD", *paths)
    commit, _, subject = head.strip().partition(" ")
    if len(subject) > 60:
        subject = subject[:60].rstrip() + "…"
    code = f"commit {commit} ({subject})" if commit else "unknown"
    edits = [line[3:] for line in status.splitlines()]
    if edits:
        code += f" plus uncommitted changes to {', '.join(edits)}"
    return code, commit + hashlib.sha256(diff.encode()).hexdigest()


def render(
    config: Config,
    report: Report,
    seconds: float,
    load: tuple[float, float],
    code: tuple[str, str],
    started: datetime.datetime,
    failure: str,
) -> str:
    title = "sse-cli benchmarks" + (
        " (smoke run: tiny sizes, figures mean nothing)" if config.smoke else ""
    )
    parts = [
        f"## {title}",
        "",
        *machine(load, code[0], started),
        f"- duration: {seconds:.0f} s",
        "",
    ]
    now, fingerprint = code_state()
    if fingerprint != code[1]:
        parts[-1:-1] = [f"- **warning: the code changed during the run**, to {now}"]
    targets = Table("Targets", ["target", "figure", "limit", "verdict", "from"])
    targets.rows += [t.row() for t in report.targets]
    if failure:
        parts += [f"**The run failed, so it is incomplete:** {failure}", ""]
    parts.append(targets.markdown())
    parts += [table.markdown() for table in report.tables]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run; for CI")
    parser.add_argument("--runs", type=int, help="timed runs per figure (default 5; smoke 1)")
    parser.add_argument(
        "--only",
        metavar="NAME,...",
        help=f"run only these benchmarks, of: {', '.join(BENCHMARKS)} (scale only when named)",
    )
    parser.add_argument("--output", type=Path, help="also write the Markdown to this file")
    args = parser.parse_args(argv)
    selected = args.only.split(",") if args.only else list(DEFAULT)
    unknown = [name for name in selected if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be 1 or more")
    config = (SMOKE if args.smoke else FULL).with_runs(args.runs)
    WORK.mkdir(parents=True, exist_ok=True)
    raise_fd_limit(max(4 * config.subscribers, 2 * load_test.STREAMS) + 1024)

    load_start = os.getloadavg()[0]
    if load_start > 0.5 and not config.smoke:
        progress(f"the machine is busy (load average {load_start:.2f}): figures will be noisy")
    code = code_state()
    started = datetime.datetime.now().astimezone()
    start = time.monotonic()
    report = Report()
    failure = ""
    try:
        with shared_services() if config.smoke else contextlib.nullcontext():
            run(config, selected, report)
    except BenchError as exc:
        failure = " ".join(str(exc).split())
    load = (load_start, os.getloadavg()[0])
    text = render(config, report, time.monotonic() - start, load, code, started, failure)
    sys.stdout.write(text)
    sys.stdout.flush()
    (WORK / ("last-smoke.md" if config.smoke else "last-run.md")).write_text(text)
    if args.output:
        args.output.write_text(text)
    if failure:
        progress(f"failed: {failure}")
        return 2
    missed = [t for t in report.targets if not t.met]
    if missed:
        progress(f"{len(missed)} of {len(report.targets)} targets missed")
        if not config.smoke:
            return 1
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
