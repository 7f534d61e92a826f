"""Pass/fail conditions on the report, as k6 has them: `--threshold 'ttfe.p99 < 500ms'`.

Grammar (README, "Thresholds"):

    threshold := metric [ "." stat ] op number [ unit ]
    metric    := connect | ttfe | gap | latency | publish          (times; stat required)
               | errors | reconnects | duplicates | gaps | events | bytes | streams
               | events_per_s | bytes_per_s | publish_errors      (figures; no stat)
               | errors "." KIND                   (one kind of error, e.g. errors.http-503)
    stat      := p50 | p90 | p99 | max
    op        := "<" | "<=" | ">" | ">=" | "==" | "!="
    unit      := us | ms | s          (times only; ms when left out)

A time with no sample at all (no event arrived) fails its threshold: nothing was measured.
Stdlib only.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sse_cli.errors import UsageError

TIMES = ("connect", "ttfe", "gap", "latency", "publish")
STATS = ("p50", "p90", "p99", "max")
FIGURES = (
    "errors",
    "reconnects",
    "duplicates",
    "gaps",
    "events",
    "bytes",
    "streams",
    "events_per_s",
    "bytes_per_s",
    "publish_errors",
)
OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_GRAMMAR = re.compile(
    r"^\s*(?P<metric>[a-z_]+)(?:\.(?P<stat>[a-z0-9_-]+))?\s*(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>us|ms|s)?\s*$"
)
EXAMPLE = "e.g. 'ttfe.p99 < 500ms', 'errors == 0', 'gaps == 0'"


@dataclass(frozen=True)
class Threshold:
    text: str
    metric: str
    stat: str | None
    op: str
    limit: float
    """In ms for times, as written for figures."""

    def value(self, report: Mapping[str, Any]) -> float | None:
        """The figure this threshold reads from the JSON report; None when nothing was measured."""
        if self.metric in TIMES:
            if self.metric == "publish":
                section = report["publish"] and report["publish"]["latency_ms"]
            else:
                section = report[f"{self.metric}_ms"]
            return None if section is None else float(section[self.stat or ""])
        if self.metric == "errors" and self.stat:
            return float(report["errors"]["by_kind"].get(self.stat, 0))
        return float(_figure(report, self.metric))

    def check(self, report: Mapping[str, Any]) -> dict[str, Any]:
        value = self.value(report)
        ok = value is not None and OPS[self.op](value, self.limit)
        if value is not None and value.is_integer() and self.metric not in TIMES:
            return {"threshold": self.text, "value": int(value), "ok": ok}
        return {"threshold": self.text, "value": value, "ok": ok}


def _figure(report: Mapping[str, Any], metric: str) -> float:
    if metric == "errors":
        return float(report["errors"]["total"])
    if metric in ("duplicates", "gaps"):
        return float(report["resume"][metric])
    if metric in ("events", "bytes"):
        return float(report[metric]["total"])
    if metric in ("events_per_s", "bytes_per_s"):
        return float(report[metric.removesuffix("_per_s")]["per_s"])
    if metric == "streams":
        return float(report["streams"]["max_open"])
    if metric == "publish_errors":
        publish = report["publish"]
        return 0.0 if publish is None else float(sum(publish["errors"].values()))
    return float(report[metric])


def parse_threshold(text: str) -> Threshold:
    """One `--threshold` expression; UsageError (exit status 2) names what is wrong."""
    match = _GRAMMAR.match(text)
    if not match:
        raise UsageError(f"--threshold {text!r} is not 'METRIC[.STAT] OP NUMBER[UNIT]'", EXAMPLE)
    metric, stat, unit = match["metric"], match["stat"], match["unit"]
    number = float(match["number"])
    if metric in TIMES:
        if stat not in STATS:
            raise UsageError(
                f"--threshold {text!r}: {metric} needs one of .{', .'.join(STATS)}",
                f"e.g. '{metric}.p99 < 500ms'",
            )
        number *= UNITS[unit or "ms"]
    elif metric in FIGURES:
        if unit is not None:
            raise UsageError(f"--threshold {text!r}: {metric} is a count, not a time")
        if stat is not None and metric != "errors":
            raise UsageError(f"--threshold {text!r}: {metric} takes no .{stat}")
    else:
        known = ", ".join(TIMES + FIGURES)
        raise UsageError(f"--threshold {text!r}: unknown metric {metric!r}", f"one of {known}")
    return Threshold(text.strip(), metric, stat, match["op"], number)
