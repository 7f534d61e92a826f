"""What one `bench` run needs, checked: the request (as `listen` builds it) and the load.

The request flags go through `sse_cli.request.build_options`, so `bench` and `listen` take
them with the same meaning and fail on them with the same messages. Stdlib only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sse_cli.checks import check_choice
from sse_cli.errors import UsageError
from sse_cli.loadtest.sources import SourcePool, check_bindable, parse_local_ips
from sse_cli.loadtest.thresholds import Threshold, parse_threshold
from sse_cli.request import ListenOptions, RequestFlags, parse_url

#: How long a run lasts when neither --duration nor --events-per-stream is given.
DEFAULT_DURATION = 10.0
FORMATS = ("table", "json")


@dataclass(frozen=True)
class BenchOptions:
    """One run, checked: what the engine, the runner and the report read."""

    request: ListenOptions
    connections: int = 1
    ramp: float | None = None
    """Streams opened per second; None opens them as fast as connections are made."""
    duration: float | None = DEFAULT_DURATION
    events_per_stream: int | None = None
    workers: int = 1
    publish: str | None = None
    publish_rate: float = 1.0
    latency_field: str | None = None
    thresholds: tuple[Threshold, ...] = ()
    output_format: str = "table"
    report_file: Path | None = None
    """Where `--report` writes the HTML report."""
    live: bool = False
    """Draw the live dashboard on stderr."""
    summary: bool = False
    """Write a one-line summary on stderr after the JSON report (not with -q)."""
    quiet: bool = False
    local_ips: SourcePool | None = None
    """The source addresses the streams connect from (None: the kernel's choice)."""
    first_stream: int = 0
    """The run-wide number of this process's first stream: its place in the round-robin."""

    def share(self, index: int) -> BenchOptions:
        """Worker `index`'s part of the load: its connections and ramp; no publisher.

        Its streams keep their run-wide numbers (`first_stream`), so over all the workers
        stream i still connects from source address i mod N, as in one process: each
        address carries the same share of the streams, however they are split."""
        base, extra = divmod(self.connections, self.workers)
        count = base + (1 if index < extra else 0)
        ramp = None if self.ramp is None else self.ramp * count / self.connections
        return dataclasses.replace(
            self,
            connections=count,
            first_stream=self.first_stream + index * base + min(index, extra),
            ramp=ramp,
            workers=1,
            publish=None,
            live=False,
            report_file=None,
            summary=False,
        )


@dataclass(frozen=True)
class BenchSettings:
    """`bench`'s flags as given on the command line, in one typed object; `options` checks
    them and builds what runs (UsageError, exit status 2, names a bad one)."""

    request: RequestFlags
    connections: int = 10
    ramp: float | None = None
    duration: float | None = None
    events_per_stream: int | None = None
    workers: int = 1
    publish: str | None = None
    publish_rate: float | None = None
    """None: 1 a second; given without --publish, refused."""
    latency_field: str | None = None
    thresholds: Sequence[str] = ()
    output_format: str | None = None
    report: Path | None = None
    quiet: bool = False
    local_ips: str | None = None
    """k6's syntax: addresses, ranges (A-B) and CIDRs (A/N), comma-separated."""

    def options(self, stdout_tty: bool = False, stderr_tty: bool = False) -> BenchOptions:
        """The checked options: the report's format follows stdout, the live view stderr."""
        from sse_cli.request import build_options

        return self.check(build_options(self.request), stdout_tty, stderr_tty)

    def check(
        self, request: ListenOptions, stdout_tty: bool = False, stderr_tty: bool = False
    ) -> BenchOptions:
        """The checked options, for a request already built."""
        self._check_counts()
        local_ips = self._sources(request.url)
        publish = None if self.publish is None else parse_url(self.publish)
        if self.latency_field is not None:
            from sse_cli.loadtest.latency import extractor

            extractor(self.latency_field)  # a bad expression is a usage error now, not mid-run
        check_choice(self.output_format, FORMATS, "-f/--format")
        fmt = self.output_format or ("table" if stdout_tty else "json")
        duration = self.duration
        if duration is None and self.events_per_stream is None:
            duration = DEFAULT_DURATION
        return BenchOptions(
            request=request,
            connections=self.connections,
            ramp=self.ramp,
            duration=duration,
            events_per_stream=self.events_per_stream,
            workers=self.workers,
            publish=publish,
            publish_rate=1.0 if self.publish_rate is None else self.publish_rate,
            latency_field=self.latency_field,
            thresholds=tuple(parse_threshold(t) for t in self.thresholds),
            output_format=fmt,
            report_file=check_report_file(self.report),
            live=stderr_tty and not self.quiet,
            summary=not self.quiet and not stdout_tty,
            quiet=self.quiet,
            local_ips=local_ips,
        )

    def _sources(self, url: str) -> SourcePool | None:
        """`--local-ips`, parsed; only the addresses of the target's IP version are kept,
        and each one the streams will use must be on this machine."""
        if self.local_ips is None:
            return None
        import ipaddress

        from sse_cli.loadtest.target import endpoint, resolve

        pool = parse_local_ips(self.local_ips)
        where = endpoint(url)
        host = resolve(where.hostname, where.port)
        version = ipaddress.ip_address(host).version
        usable = pool.of_version(version)
        if not usable.blocks:
            resolved = "" if host == where.hostname else f" ({host})"
            raise UsageError(
                f"--local-ips holds no IPv{version} address, and the URL's host "
                f"{where.hostname}{resolved} is IPv{version}",
                f"give IPv{version} source addresses",
            )
        check_bindable(usable, self.connections)
        return usable

    def _check_counts(self) -> None:
        connections, workers = self.connections, self.workers
        if connections < 1:
            raise UsageError(f"-c/--connections must be 1 or more, not {connections}")
        if workers < 1 or workers > connections:
            raise UsageError(
                f"--workers must be from 1 to the number of connections ({connections}), "
                f"not {workers}"
            )
        for flag, value in (
            ("--ramp", self.ramp),
            ("--duration", self.duration),
            ("--publish-rate", self.publish_rate),
        ):
            if value is not None and (not value > 0 or value == float("inf")):
                raise UsageError(f"{flag} must be a number more than 0, not {value:g}")
        if self.publish_rate is not None and self.publish is None:
            raise UsageError("--publish-rate needs --publish", "add --publish URL")
        per_stream = self.events_per_stream
        if per_stream is not None and per_stream < 1:
            raise UsageError(f"--events-per-stream must be 1 or more, not {per_stream}")


def check_report_file(path: Path | None) -> Path | None:
    """`--report FILE.html`: its folder must exist, and so must the charts' extra."""
    if path is None:
        return None
    if str(path) == "-":
        raise UsageError("--report writes a file, not standard output", "e.g. --report run.html")
    if not path.parent.is_dir():
        raise UsageError(f"--report {str(path)!r}: no folder {str(path.parent)!r}")
    from sse_cli.loadtest.html import charts_missing

    missing = charts_missing()
    if missing is not None:
        raise UsageError(
            f"--report needs {missing}",
            "pip install 'sse-cli[report]', or from a clone pip install -e '.[report]'",
        )
    return path


__all__ = ["BenchOptions", "BenchSettings"]
