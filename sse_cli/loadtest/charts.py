"""The HTML report's charts, as Vega-Lite specifications built from the report alone.

Each chart is a plain dict, its data inline (never a URL), so the page needs nothing but the
Vega libraries embedded beside it. Stdlib only.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

from sse_cli.loadtest.schema import Percentiles, Point, Report

Spec = dict[str, Any]
Row = dict[str, Any]

TIME_AXIS = {"field": "t", "type": "quantitative", "title": "seconds into the run"}
HEIGHT = 220


def chart(title: str, rows: list[Row], layers: list[Spec], note: str = "") -> Spec:
    """A chart of `rows` drawn as `layers`, sized to its container; without rows, the note
    alone (Vega cannot scale an axis over no data)."""
    if not rows:
        return {
            "title": title,
            "width": "container",
            "height": HEIGHT,
            "data": {"values": [{"note": textwrap.fill(note or "nothing was measured", 64)}]},
            "mark": {"type": "text", "fontSize": 13, "color": "#666", "lineBreak": "\n"},
            "encoding": {"text": {"field": "note", "type": "nominal"}},
        }
    return {
        "title": {"text": title, "subtitle": note} if note else title,
        "width": "container",
        "height": HEIGHT,
        "data": {"values": rows},
        "layer": layers,
    }


def lines(y: str, y_title: str, colour: str | None = None, scale: Spec | None = None) -> Spec:
    encoding: Spec = {
        "x": TIME_AXIS,
        "y": {
            "field": y,
            "type": "quantitative",
            "title": y_title,
            **({"scale": scale} if scale else {}),
        },
        "tooltip": [
            {"field": "t", "type": "quantitative", "title": "s"},
            {"field": y, "type": "quantitative", "title": y_title, "format": ",.3~f"},
        ],
    }
    if colour is not None:
        encoding["color"] = {"field": colour, "type": "nominal", "title": None}
        encoding["tooltip"].append({"field": colour, "type": "nominal"})
    return {
        "mark": {"type": "line", "point": True, "interpolate": "step-after"},
        "encoding": encoding,
    }


def streams_chart(report: Report) -> Spec:
    rows = [{"t": p["t"], "open": p["streams_open"]} for p in report["series"]]
    target = {
        "data": {"values": [{"target": report["connections"]}]},
        "mark": {"type": "rule", "strokeDash": [6, 4], "color": "#c0392b"},
        "encoding": {"y": {"field": "target", "type": "quantitative"}},
    }
    note = f"dashed: the target, {report['connections']:,} streams"
    return chart("Streams open", rows, [lines("open", "streams open"), target], note)


def rate_chart(report: Report) -> Spec:
    rows = [{"t": p["t"], "per_s": p["events_per_s"]} for p in report["series"]]
    total = report["events"]
    note = f"{total['total']:,} events in all, {total['per_s']:,.1f}/s over the run"
    return chart("Events per second", rows, [lines("per_s", "events/s")], note)


def percentile_rows(series: list[Point], pick: Callable[[Point], Percentiles | None]) -> list[Row]:
    rows: list[Row] = []
    for point in series:
        times = pick(point)
        if times is not None:
            t = point["t"]
            rows.append({"t": t, "ms": times["p50"], "percentile": "p50"})
            rows.append({"t": t, "ms": times["p95"], "percentile": "p95"})
            rows.append({"t": t, "ms": times["p99"], "percentile": "p99"})
    return rows


def times_chart(
    report: Report, pick: Callable[[Point], Percentiles | None], title: str, empty: str
) -> Spec:
    rows = percentile_rows(report["series"], pick)
    return chart(title, rows, [lines("ms", "ms", "percentile")], "" if rows else empty)


def errors_chart(report: Report) -> Spec:
    rows: list[Row] = [
        {"t": p["t"], "count": count, "kind": kind}
        for p in report["series"]
        for kind, count in p["errors_by_kind"].items()
    ]
    rows += [
        {"t": p["t"], "count": p["reconnects"], "kind": "reconnects"} for p in report["series"]
    ]
    note = f"{report['errors']['total']:,} errors, {report['reconnects']:,} reconnects in all"
    bars = {
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": {**TIME_AXIS, "bin": False},
            "y": {"aggregate": "sum", "field": "count", "type": "quantitative", "title": "count"},
            "color": {"field": "kind", "type": "nominal", "title": None},
        },
    }
    return chart("Errors and reconnects", rows, [bars], note)


def resume_chart(report: Report) -> Spec:
    rows: list[Row] = []
    for p in report["series"]:
        rows.append({"t": p["t"], "count": p["duplicates"], "kind": "duplicates"})
        rows.append({"t": p["t"], "count": p["gaps"], "kind": "ids skipped (gaps)"})
    resume = report["resume"]
    note = f"{resume['duplicates']:,} duplicates, {resume['gaps']:,} gaps after reconnects"
    return chart("Resume audit", rows, [lines("count", "events", "kind")], note)


def curve_chart(report: Report, names: dict[str, str], title: str) -> Spec:
    """HdrHistogram's percentile plot: x is 1 / (1 - percentile), on a log scale."""
    rows: list[Row] = []
    for key, name in names.items():
        for percentile, ms in report["curves"].get(key, []):
            x = 1 / (1 - percentile / 100) if percentile < 100 else 1e6
            rows.append({"x": x, "ms": ms, "percentile": percentile, "time": name})
    line = {
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {
                "field": "x",
                "type": "quantitative",
                "scale": {"type": "log"},
                "title": "percentile",
                "axis": {
                    "values": [1, 2, 10, 100, 1000, 10000, 100000],
                    "labelExpr": "format(100 - 100 / datum.value, '.3~f') + '%'",
                },
            },
            "y": {"field": "ms", "type": "quantitative", "title": "ms"},
            "color": {"field": "time", "type": "nominal", "title": None},
            "tooltip": [
                {"field": "time", "type": "nominal"},
                {"field": "percentile", "type": "quantitative", "format": ".5~f"},
                {"field": "ms", "type": "quantitative", "format": ",.3~f"},
            ],
        },
    }
    note = "the whole run, as HdrHistogram plots percentiles" if rows else "nothing measured"
    return chart(title, rows, [line], note)


def slowest_chart(report: Report) -> Spec:
    rows = [{"rank": i + 1, "per_s": rate} for i, rate in enumerate(report["slowest_streams"])]
    rates = report["per_stream_events_per_s"]
    note = "" if rates is None else f"median stream {rates['median']:,.2f} events/s"
    bars = {
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": {"field": "rank", "type": "ordinal", "title": "slowest streams, slowest first"},
            "y": {"field": "per_s", "type": "quantitative", "title": "events/s"},
        },
    }
    return chart("Per-stream event rates", rows, [bars], note)


def all_charts(report: Report) -> list[Spec]:
    """Every chart of the report, in the order the page shows them."""
    latency_empty = report["latency_note"] or "no latency measured"
    return [
        streams_chart(report),
        rate_chart(report),
        times_chart(report, lambda p: p["latency_ms"], "Latency (send to receipt)", latency_empty),
        times_chart(report, lambda p: p["ttfe_ms"], "Time to first event", "no event arrived"),
        times_chart(report, lambda p: p["gap_ms"], "Gaps between events", "no second event"),
        errors_chart(report),
        resume_chart(report),
        curve_chart(report, {"latency": "latency", "gap": "gap"}, "Latency and gap distribution"),
        curve_chart(
            report,
            {"ttfe": "first event", "head": "response head"},
            "Time to first event distribution",
        ),
        slowest_chart(report),
    ]
