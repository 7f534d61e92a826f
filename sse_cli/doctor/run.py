"""One doctor run: watch, check, write the report, and end with the run's exit status.

It raises `SseCliError` for the endings the command line maps: no probe opened a stream
(3 to 6, as `listen`), or a check failed (9, after the report is written).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from sse_cli.doctor.checks import run_checks
from sse_cli.doctor.failure import no_stream_error
from sse_cli.doctor.report import document, progress_line, write_json, write_pretty
from sse_cli.doctor.watch import Watch, WatchPlan, watch
from sse_cli.errors import DoctorFailedError

__all__ = ["Output", "diagnose"]


@dataclass(frozen=True)
class Output:
    """Where the report goes and how it looks; `live` draws progress on `status`, a line
    at most `columns` - 1 wide."""

    out: IO[bytes]
    status: IO[str]
    format: str = "json"
    live: bool = False
    color: bool | None = None
    columns: int = 80


async def diagnose(plan: WatchPlan, send_time: Callable[[str], int | None], output: Output) -> None:
    """Watch `plan`'s stream, then write the report; raise for a failed check or no stream."""
    shown = False

    def progress(current: Watch) -> None:
        nonlocal shown
        output.status.write("\r\x1b[2K" + progress_line(current)[: output.columns - 1])
        output.status.flush()
        shown = True

    try:
        result = await watch(plan, progress if output.live else None)
    finally:
        if shown:
            output.status.write("\r\x1b[2K")
            output.status.flush()
    curl, browser = result.probes["curl"], result.probes["browser"]
    if not curl.opened() and not browser.opened():
        raise no_stream_error(
            curl if curl.response is not None or browser.response is None else browser,
            plan.options.url,
            result.elapsed,
        )
    checks = run_checks(result, send_time)
    doc = document(result, checks)
    if output.format == "pretty":
        write_pretty(output.out, doc, output.color)
    else:
        write_json(output.out, doc)
    failed = [c.id for c in checks if c.verdict == "fail"]
    if failed:
        raise DoctorFailedError(
            f"{len(failed)} of {len(checks)} checks failed: {', '.join(failed)}"
        )
