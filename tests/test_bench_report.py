"""`bench`'s time series and `--report FILE.html`, against `sse-cli serve` on loopback.

The series must add up to the totals (one process, and --workers merged by interval), the
HTML report must open from disk in Debian's Chromium with no error and no request leaving
the file, draw its charts and show the run's own figures, and send times older than the run
(a replay of /clock) must not be reported as latency.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from support.cli import invoke
from support.serve import serving_args
from support.sockets import Handler, Request, SocketServer, head

from sse_cli.loadtest import html
from sse_cli.loadtest.options import BenchSettings
from sse_cli.loadtest.runner import run_bench
from sse_cli.loadtest.schema import Report
from sse_cli.request import RequestFlags

Serve = Callable[[Handler], SocketServer]
CHROMIUM = os.environ.get("SSE_CLI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def serve() -> Iterator[str]:
    with serving_args("-q", "--rate-limit", "0", "--delay", "0.02") as server:
        yield server.url


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def assert_series_add_up(report: dict[str, Any]) -> None:
    series = report["series"]
    assert series, "no interval in the series"
    assert sum(p["events"] for p in series) == report["events"]["total"]
    assert sum(p["bytes"] for p in series) == report["bytes"]["total"]
    # events/s is rounded to 3 decimals: summed over the intervals, within that rounding
    rounding = 0.0005 * sum(p["dt"] for p in series) + 1e-6
    summed = sum(p["events_per_s"] * p["dt"] for p in series)
    assert abs(summed - report["events"]["total"]) <= rounding
    assert sum(p["connections"] for p in series) == report["streams"]["opened"]
    assert sum(p["errors"] for p in series) == report["errors"]["total"]
    for key in ("ttfe_ms", "gap_ms", "latency_ms", "head_ms"):
        counted = sum(p[key]["count"] for p in series if p[key] is not None)
        assert counted == (report[key]["count"] if report[key] else 0), key
    starts = [p["t"] for p in series]
    assert starts == sorted(set(starts))


@pytest.mark.parametrize("workers", [1, 2])
def test_the_series_adds_up_to_the_totals(serve: str, workers: int) -> None:
    settings = BenchSettings(
        RequestFlags(url=f"{serve}/counter?limit=40"),
        connections=4,
        workers=workers,
        duration=3.0,
        output_format="json",
        quiet=True,
    )
    report: dict[str, Any] = dict(run_bench(settings.options()))
    assert report["events"]["total"] > 0
    assert len(report["series"]) >= 4  # 0.25 s intervals over a 3 s run
    assert_series_add_up(report)


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def distinct_rows(png: bytes) -> int:
    """How many different scanlines the picture has (8-bit RGB(A) PNG, filters kept): a
    blank page has a handful, a page of charts and tables hundreds."""
    width, _ = png_size(png)
    data, at = b"", 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        if kind == b"IDAT":
            data += png[at + 8 : at + 8 + length]
        at += 12 + length
    raw = zlib.decompress(data)
    channels = 4 if png[25] == 6 else 3
    stride = 1 + width * channels
    return len({raw[i + 1 : i + stride] for i in range(0, len(raw), stride)})


def test_the_html_report_opens_offline_in_chromium(serve: str, tmp_path: Path) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        if in_ci():
            pytest.fail(f"playwright is missing ({exc}): CI must run this test", pytrace=False)
        pytest.skip(f"playwright is not installed ({exc})")
    if not os.access(CHROMIUM, os.X_OK):
        if in_ci():
            pytest.fail(f"no chromium at {CHROMIUM}: CI must run this test", pytrace=False)
        pytest.skip(f"no chromium at {CHROMIUM}")
    page_file = tmp_path / "run.html"
    done = invoke(
        "bench",
        f"{serve}/subscribe?topic=report",
        "-c",
        "5",
        "--duration",
        "3",
        "--publish",
        f"{serve}/publish?topic=report",
        "--publish-rate",
        "20",
        "--threshold",
        "latency.p99 < 5s",
        "--report",
        str(page_file),
        timeout=90,
    )
    assert done.status == 0, done.stderr
    report = json.loads(done.stdout)
    assert f"report written to {page_file}" in done.stderr
    size = page_file.stat().st_size
    assert 100_000 < size < 1_048_576, size  # the charts' libraries inside, under 1 MiB

    # The same run as if its events carried no send time: the latency charts are empty.
    empty_file = tmp_path / "no-latency.html"
    empty_file.write_text(html.render(without_latency(report), html.bundle()), encoding="utf-8")

    requests: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=WAIT_MS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(page_file.as_uri())
            page.wait_for_selector("body[data-charts]", timeout=WAIT_MS)
            charts = page.locator(".chart svg.marks").count()
            text = page.inner_text("body")
            shot = page.screenshot(full_page=True)
            chart_shot = page.locator("#chart-1").screenshot()
            page.goto(empty_file.as_uri())
            page.wait_for_selector("body[data-charts]", timeout=WAIT_MS)
            empty_text = page.inner_text("#chart-2")
        finally:
            browser.close()

    assert problems == []
    assert requests == [page_file.as_uri(), empty_file.as_uri()], "a request left the file"
    assert "carry no send time" in empty_text
    assert charts >= 4
    assert f"{report['events']['total']:,}" in text
    assert f"{report['publish']['sent']:,} at 20/s" in text
    assert "latency.p99 < 5s" in text and "every threshold holds" in text
    assert report["url"] in text
    width, height = png_size(shot)
    assert width == 1280 and height > 1500  # the tables, then a grid of charts
    assert distinct_rows(shot) > 300
    assert distinct_rows(chart_shot) > 50  # the events/s chart has lines, not a blank box


def without_latency(report: dict[str, Any]) -> Report:
    report = {**report, "latency_ms": None, "latency_note": "the events carry no send time"}
    report["series"] = [{**point, "latency_ms": None} for point in report["series"]]
    report["curves"] = {k: v for k, v in report["curves"].items() if k != "latency"}
    return cast(Report, report)


def test_send_times_older_than_the_run_are_not_latency(serve_socket: Serve, tmp_path: Path) -> None:
    """A replay of /clock sends the recording's send times: an hour old here."""
    then = time.time_ns() - 3600 * 1_000_000_000

    def replayed_clock(conn: socket.socket, request: Request) -> None:
        conn.sendall(head())
        for n in range(5):
            conn.sendall(b'id: %d\ndata: {"t_ns": %d}\n\n' % (n, then + n * 1_000_000_000))

    url = serve_socket(replayed_clock).url
    done = invoke("bench", url, "-c", "2", "--no-reconnect", "-f", "json")
    assert done.status == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["events"]["total"] == 10
    assert report["latency_ms"] is None
    assert "older than the run's start" in report["latency_note"]
    table = invoke("bench", url, "-c", "1", "--no-reconnect", "-f", "table").stdout.decode()
    assert "older than the run's start" in table
