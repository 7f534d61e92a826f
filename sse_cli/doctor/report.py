"""What people and pipes see of a watch: one JSON document, or a checklist in colour.

The JSON keys are a contract (README, "Why doesn't my stream stream?"): `schema`, `url`,
`verdict`, `duration_s`, `checks` (each `id`, `verdict`, `summary`, `fix` and its figures) and
`probes`. rich is imported only for the checklist.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, Any, cast

from sse_cli.doctor.probe import Probe
from sse_cli.doctor.verdicts import Check, longest_silence, worst
from sse_cli.doctor.watch import Watch
from sse_cli.request import SECRET_HEADERS, mask_url

__all__ = ["document", "progress_line", "write_json", "write_pretty"]

SCHEMA = 1
MARKS = {
    "pass": ("✔", "green"),
    "warn": ("!", "yellow"),
    "fail": ("✘", "bold red"),
    "skip": ("-", "dim"),
}


def document(watch: Watch, checks: list[Check]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "url": mask_url(watch.url),
        "verdict": worst(checks),
        "duration_s": round(watch.elapsed, 2),
        "checks": [c.as_json() for c in checks],
        "probes": [_probe(p, watch.elapsed) for p in watch.probes.values()],
    }


def _probe(probe: Probe, end: float) -> dict[str, Any]:
    response = probe.response
    silence, _ = longest_silence(probe, end)
    first = probe.arrivals[0].at if probe.arrivals else None
    return {
        "name": probe.spec.name,
        "request_headers": _masked(probe.spec.headers),
        "status": response.status if response else None,
        "http_version": probe.version or None,
        "response_headers": _masked(response.headers.items()) if response else None,
        "content_encoding": probe.encoding or None,
        "connect_ms": _ms(probe.connected_at),
        "head_ms": _ms(probe.head_at),
        "first_event_ms": _ms(first),
        "events": len(probe.arrivals),
        "comments": len(probe.comments),
        "reads": len(probe.reads),
        "wire_bytes": probe.wire_bytes,
        "body_bytes": probe.body_bytes,
        "decoded_bytes": probe.decoded_bytes,
        "longest_silence_s": round(silence, 3),
        "last_event_id": probe.arrivals[-1].event.id if probe.arrivals else None,
        "ended_s": None if probe.ended_at is None else round(probe.ended_at, 3),
        "error": None if probe.error is None else (str(probe.error) or type(probe.error).__name__),
    }


def _masked(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers for the report, secrets (Authorization, cookies) masked."""
    return {n: ("****" if n.lower() in SECRET_HEADERS else v) for n, v in headers}


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def write_json(out: IO[bytes], doc: dict[str, Any]) -> None:
    out.write(json.dumps(doc, ensure_ascii=False).encode("utf-8") + b"\n")
    out.flush()


def write_pretty(out: IO[bytes], doc: dict[str, Any], color: bool | None = None) -> None:
    """The checklist: a mark and an id per check, what it saw, and the fix under it."""
    from rich.console import Console
    from rich.text import Text

    console = Console(
        file=cast(IO[str], _TextOut(out)), force_terminal=color, no_color=color is False
    )
    console.on_broken_pipe = _raise_broken_pipe  # type: ignore[method-assign]
    verdict = doc["verdict"]
    mark, style = MARKS[verdict]
    title = Text(f"{doc['url']}: ", style="bold")
    title.append(verdict.upper(), style=style)
    title.append(f" (watched {doc['duration_s']} s)")
    console.print(title, soft_wrap=True)
    for check in doc["checks"]:
        mark, style = MARKS[check["verdict"]]
        line = Text(f" {mark} ", style=style)
        line.append(f"{check['id']:<13}", style="bold")
        line.append(check["summary"])
        console.print(line, soft_wrap=True)
        if check["fix"] and check["verdict"] in ("warn", "fail"):
            console.print(Text(f"   {'':<13}fix: {check['fix']}", style="cyan"), soft_wrap=True)


def _raise_broken_pipe() -> None:
    raise BrokenPipeError


class _TextOut:
    """A text stream over a binary one, writing UTF-8 whatever the locale."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out

    def write(self, text: str) -> int:
        self.out.write(text.encode("utf-8"))
        return len(text)

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.out, "isatty", lambda: False)())


def progress_line(watch: Watch) -> str:
    """The live view: what each probe has seen so far, and the time left."""
    parts = []
    for name, probe in watch.probes.items():
        if probe.response is None:
            seen = "connecting" if probe.error is None else "failed"
        else:
            seen = f"{probe.response.status}, {len(probe.arrivals)} events"
            if probe.encoding:
                seen += f" ({probe.encoding})"
        parts.append(f"{name}: {seen}")
    first = next(iter(watch.probes.values()), None)
    left = watch.plan.duration - (first.now() if first is not None else 0.0)
    return (
        f"watching {mask_url(watch.url)} · " + " · ".join(parts) + f" · {max(0, left):.0f} s left"
    )
