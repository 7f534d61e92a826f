"""What one `bench` run needs, checked: the request (as `listen` builds it) and the load.

The request flags go through `sse_cli.request.build_options`, so `bench` and `listen` take
them with the same meaning and fail on them with the same messages. Stdlib only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from sse_cli.errors import UsageError
from sse_cli.loadtest.thresholds import Threshold, parse_threshold
from sse_cli.request import Flags, ListenOptions, check_choice, parse_url

#: How long a run lasts when neither --duration nor --events-per-stream is given.
DEFAULT_DURATION = 10.0
FORMATS = ("table", "json")


@dataclass(frozen=True)
class LoadFlags(Flags):
    """`bench`'s flags besides the request flags, as given on the command line."""

    connections: int = 10
    ramp: float | None = None
    duration: float | None = None
    events_per_stream: int | None = None
    workers: int = 1
    publish: str | None = None
    publish_rate: float | None = None
    latency_field: str | None = None
    threshold: list[str] | None = None
    output_format: str | None = None
    quiet: bool = False


def from_flags(
    request: ListenOptions, load: LoadFlags, stdout_tty: bool, stderr_tty: bool
) -> BenchOptions:
    """The options from the flags: the report's format follows stdout, the live view stderr."""
    return bench_options(
        request,
        connections=load.connections,
        ramp=load.ramp,
        duration=load.duration,
        events_per_stream=load.events_per_stream,
        workers=load.workers,
        publish=load.publish,
        publish_rate=load.publish_rate,
        latency_field=load.latency_field,
        thresholds=load.threshold or (),
        output_format=load.output_format,
        stdout_is_terminal=stdout_tty,
        live=stderr_tty and not load.quiet,
    )


@dataclass(frozen=True)
class BenchOptions:
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
    live: bool = False
    """Draw the live dashboard on stderr."""

    def share(self, index: int) -> BenchOptions:
        """Worker `index`'s part of the load: its connections and ramp; no publisher."""
        base, extra = divmod(self.connections, self.workers)
        count = base + (1 if index < extra else 0)
        ramp = None if self.ramp is None else self.ramp * count / self.connections
        return dataclasses.replace(
            self, connections=count, ramp=ramp, workers=1, publish=None, live=False
        )


def bench_options(
    request: ListenOptions,
    *,
    connections: int,
    ramp: float | None = None,
    duration: float | None = None,
    events_per_stream: int | None = None,
    reconnect: bool | None = None,
    workers: int = 1,
    publish: str | None = None,
    publish_rate: float | None = None,
    latency_field: str | None = None,
    thresholds: Sequence[str] = (),
    output_format: str | None = None,
    stdout_is_terminal: bool = False,
    live: bool = False,
) -> BenchOptions:
    """Check the load flags and build the options; UsageError (exit status 2) for a bad one."""
    if connections < 1:
        raise UsageError(f"-c/--connections must be 1 or more, not {connections}")
    if workers < 1 or workers > connections:
        raise UsageError(
            f"--workers must be from 1 to the number of connections ({connections}), not {workers}"
        )
    for flag, value in (
        ("--ramp", ramp),
        ("--duration", duration),
        ("--publish-rate", publish_rate),
    ):
        if value is not None and (not value > 0 or value == float("inf")):
            raise UsageError(f"{flag} must be a number more than 0, not {value:g}")
    if publish_rate is not None and publish is None:
        raise UsageError("--publish-rate needs --publish", "add --publish URL")
    if events_per_stream is not None and events_per_stream < 1:
        raise UsageError(f"--events-per-stream must be 1 or more, not {events_per_stream}")
    if publish is not None:
        publish = parse_url(publish)
    if latency_field is not None:
        from sse_cli.loadtest.latency import extractor

        extractor(latency_field)  # a bad expression is a usage error now, not mid-run
    check_choice(output_format, FORMATS, "-f/--format")
    fmt = output_format or ("table" if stdout_is_terminal else "json")
    if duration is None and events_per_stream is None:
        duration = DEFAULT_DURATION
    return BenchOptions(
        request=request if reconnect is None else dataclasses.replace(request, reconnect=reconnect),
        connections=connections,
        ramp=ramp,
        duration=duration,
        events_per_stream=events_per_stream,
        workers=workers,
        publish=publish,
        publish_rate=1.0 if publish_rate is None else publish_rate,
        latency_field=latency_field,
        thresholds=tuple(parse_threshold(t) for t in thresholds),
        output_format=fmt,
        live=live,
    )


__all__ = ["BenchOptions", "LoadFlags", "bench_options", "from_flags"]
