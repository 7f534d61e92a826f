"""A check's result, and the figures the timing checks share. Stdlib only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sse_cli.doctor.probe import Probe

__all__ = ["Check", "Verdict", "longest_silence", "worst"]

Verdict = str  # "pass", "warn", "fail" or "skip"
ORDER = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}


@dataclass(frozen=True)
class Check:
    """One check: its id (a JSON contract), verdict, what it saw, and what to change."""

    id: str
    verdict: Verdict
    summary: str
    fix: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "verdict": self.verdict,
            "summary": self.summary,
            "fix": self.fix,
            **self.figures,
        }


def worst(checks: list[Check]) -> Verdict:
    """The overall verdict: the worst of the checks (`pass` when all were skipped)."""
    verdict = max((c.verdict for c in checks), key=ORDER.__getitem__, default="pass")
    return "pass" if verdict == "skip" else verdict


def longest_silence(probe: Probe, end: float) -> tuple[float, float]:
    """The longest time without a byte while the stream was open, and when it began."""
    if probe.head_at is None:
        return 0.0, 0.0
    times = [probe.head_at] + [r.at for r in probe.reads if r.at >= probe.head_at]
    times.append(probe.ended_at if probe.ended_at is not None else end)
    gaps = [(b - a, a) for a, b in zip(times, times[1:], strict=False)]
    return max(gaps, default=(0.0, 0.0))


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"
