"""Pass/fail conditions on the report, as k6 has them: `--threshold 'ttfe.p99 < 500ms'`.

Grammar (README, "Thresholds"):

    threshold := metric [ "." stat ] op number [ unit ]
    metric    := connect | head | ttfe | gap | latency | publish   (times; stat required)
               | errors | reconnects | duplicates | gaps | events | bytes | streams
               | events_per_s | bytes_per_s | publish_errors      (figures; no stat)
               | errors "." KIND                   (one kind of error, e.g. errors.http-503)
    stat      := min | mean | p50 | p90 | p95 | p99 | max
    op        := "<" | "<=" | ">" | ">=" | "==" | "!="
    unit      := us | ms | s          (times only; ms when left out)

A time with no sample at all (no event arrived) fails its threshold: nothing was measured.
`connect` is the time to the TCP connection (with TLS, its handshake too); `head` the time
to the response head. Stdlib only.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from sse_cli.errors import UsageError
from sse_cli.loadtest.schema import Check, Report, Times

#: Each time the report has, by the name a threshold gives it.
TIMES_OF: dict[str, Callable[[Report], Times | None]] = {
    "connect": lambda r: r["connect_ms"],
    "head": lambda r: r["head_ms"],
    "ttfe": lambda r: r["ttfe_ms"],
    "gap": lambda r: r["gap_ms"],
    "latency": lambda r: r["latency_ms"],
    "publish": lambda r: None if r["publish"] is None else r["publish"]["latency_ms"],
}
STAT_OF: dict[str, Callable[[Times], float]] = {
    "min": lambda t: t["min"],
    "mean": lambda t: t["mean"],
    "p50": lambda t: t["p50"],
    "p90": lambda t: t["p90"],
    "p95": lambda t: t["p95"],
    "p99": lambda t: t["p99"],
    "max": lambda t: t["max"],
}
#: Each figure the report has, with its unit.
FIGURE_OF: dict[str, tuple[Callable[[Report], float], str]] = {
    "errors": (lambda r: r["errors"]["total"], "errors"),
    "reconnects": (lambda r: r["reconnects"], "reconnects"),
    "duplicates": (lambda r: r["resume"]["duplicates"], "duplicates"),
    "gaps": (lambda r: r["resume"]["gaps"], "ids skipped"),
    "events": (lambda r: r["events"]["total"], "events"),
    "bytes": (lambda r: r["bytes"]["total"], "bytes"),
    "streams": (lambda r: r["streams"]["max_open"], "streams"),
    "events_per_s": (lambda r: r["events"]["per_s"], "events/s"),
    "bytes_per_s": (lambda r: r["bytes"]["per_s"], "bytes/s"),
    "publish_errors": (
        lambda r: 0 if r["publish"] is None else sum(r["publish"]["errors"].values()),
        "errors",
    ),
}
TIMES = tuple(TIMES_OF)
STATS = tuple(STAT_OF)
FIGURES = tuple(FIGURE_OF)
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

    def value(self, report: Report) -> float | None:
        """The figure this threshold reads from the report; None when nothing was measured."""
        if self.metric in TIMES_OF:
            times = TIMES_OF[self.metric](report)
            return None if times is None else float(STAT_OF[self.stat or "max"](times))
        if self.metric == "errors" and self.stat:
            return float(report["errors"]["by_kind"].get(self.stat, 0))
        return float(FIGURE_OF[self.metric][0](report))

    def unit(self) -> str:
        if self.metric in TIMES_OF:
            return "ms"
        if self.metric == "errors" and self.stat:
            return f"{self.stat} errors"
        return FIGURE_OF[self.metric][1]

    def check(self, report: Report) -> Check:
        value = self.value(report)
        ok = value is not None and OPS[self.op](value, self.limit)
        if value is not None and value.is_integer() and self.metric not in TIMES:
            return Check(threshold=self.text, value=int(value), unit=self.unit(), ok=ok)
        return Check(threshold=self.text, value=value, unit=self.unit(), ok=ok)


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
