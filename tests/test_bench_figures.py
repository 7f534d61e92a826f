"""`bench`'s counters, series and what the terminal shows, in-process and without sockets;
and one bench in a fresh process, for what is the process's: its open-files limit, and the
modules it imports.

The counters are one dataclass: every field must survive a worker's snapshot and add up in
the merge; intervals of two workers merge by index; the table has min, mean and p95, says
why latency is empty, and the live view says how much time is left.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import random
import resource
import socket
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest
from rich.console import Console
from support.cli import WAIT, cli_env
from support.sockets import Request, SocketServer, head
from support.twins import using

from sse_cli.errors import UsageError
from sse_cli.loadtest import timeline
from sse_cli.loadtest.dashboard import Dashboard
from sse_cli.loadtest.hdr import HIGHEST_US, record_values, record_values_in_c
from sse_cli.loadtest.metrics import (
    CURVE,
    NUMBERS,
    TALLIES,
    Counts,
    Metrics,
    mean_of,
    new_histogram,
    values_at,
)
from sse_cli.loadtest.options import BenchSettings
from sse_cli.loadtest.schema import Report
from sse_cli.loadtest.thresholds import parse_threshold
from sse_cli.loadtest.timeline import series
from sse_cli.request import RequestFlags


def filled(base: int) -> Metrics:
    """Metrics whose every counter holds a distinct value, and a few samples."""
    metrics = Metrics(step=1.0, origin=0.0)
    for offset, name in enumerate(NUMBERS):
        setattr(metrics, name, base + offset)
    for name in TALLIES:
        getattr(metrics, name)["http-503"] = base
    for us in (1000, 2000, 3000):
        metrics.record("ttfe", us * base)
    return metrics


def test_every_counter_survives_the_snapshot_and_adds_up_in_the_merge() -> None:
    every = {f.name for f in dataclasses.fields(Counts)}
    assert set(NUMBERS) | set(TALLIES) == every  # no field is left out of the merge
    one, two = filled(1), filled(100)
    one.roll(0.5, final=True)
    two.roll(0.5, final=True)
    merged = Metrics()
    merged.merge(one.snapshot())
    merged.merge(two.snapshot())
    for name in NUMBERS:
        assert getattr(merged, name) == getattr(one, name) + getattr(two, name), name
    for name in TALLIES:
        assert getattr(merged, name) == {"http-503": 101}, name
    assert merged.total["ttfe"].get_total_count() == 6
    assert 300_000 <= merged.total["ttfe"].get_max_value() < 300_300  # 3 significant digits


def test_intervals_of_two_workers_merge_by_index() -> None:
    workers = [Metrics(step=1.0, origin=0.0) for _ in range(2)]
    for n, metrics in enumerate(workers):
        metrics.series.begin(0.0)
        metrics.events = 10 * (n + 1)
        metrics.record("gap", 5_000)
        metrics.roll(1.0)  # closes interval 0
        metrics.events += 1
        metrics.roll(1.5, final=True)  # interval 1, half a second long
    parent = Metrics(step=1.0, origin=0.0)
    for metrics in workers:
        parent.merge(metrics.snapshot())
    points = series(parent.series.points, parent.series.step)
    assert [(p["t"], p["events"]) for p in points] == [(0.0, 30), (1.0, 2)]
    assert workers[0].series.points[0].counts.events == 10  # the merge copied, not shared
    assert points[1]["dt"] == 0.5 and points[1]["events_per_s"] == 4.0
    gap = points[0]["gap_ms"]
    assert gap is not None and gap["count"] == 2 and 5.0 <= gap["p95"] < 5.01


def test_the_live_view_says_the_time_left() -> None:
    console = Console(file=io.StringIO(), width=100)
    dashboard = Dashboard(connections=10, duration=30.0)
    counts = Counts(events=500, open=7)
    console.print(dashboard.render(counts, 12.5))
    shown = cast(io.StringIO, console.file).getvalue()
    assert "12.5 s of 30 s, 17.5 s left" in shown
    assert "7 of 10" in shown


def test_p95_min_and_mean_are_thresholds() -> None:
    times = {"count": 3, "min": 1.0, "mean": 2.0, "p50": 2.0, "p90": 3.0}
    report = cast(Report, {"ttfe_ms": {**times, "p95": 4.0, "p99": 5.0, "max": 6.0}})
    assert parse_threshold("ttfe.p95 < 4.5ms").check(report)["ok"] is True
    assert parse_threshold("ttfe.min >= 1ms").check(report)["ok"] is True
    checked = parse_threshold("ttfe.mean < 1ms").check(report)
    assert checked == {"threshold": "ttfe.mean < 1ms", "value": 2.0, "unit": "ms", "ok": False}


def test_a_long_series_is_joined_exactly_into_fewer_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeline, "MAX_POINTS", 60)
    metrics = Metrics(step=1.0, origin=0.0)
    metrics.series.begin(0.0)
    for second in range(1, 131):  # a run of 130 s, one event and one gap a second
        metrics.events += 1
        metrics.record("gap", 1000 * second)
        metrics.roll(float(second))
    points = series(metrics.series.points, metrics.series.step)
    assert len(points) <= 60
    assert sum(p["events"] for p in points) == 130
    assert abs(sum(p["events_per_s"] * p["dt"] for p in points) - 130) < 0.01
    assert sum(p["gap_ms"]["count"] for p in points if p["gap_ms"]) == 130
    assert points[1]["t"] == points[1]["dt"] == 3.0  # three seconds a point
    assert points[-1]["gap_ms"] is not None and points[-1]["gap_ms"]["p99"] >= 129


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_in_one_pass_are_hdrhistograms_own(seed: int) -> None:
    rng = random.Random(seed)
    hist = new_histogram()
    for _ in range(rng.randint(1, 3000)):
        hist.record_value(int(rng.lognormvariate(8, 2)) + 1)
    wanted = (0.0, 0.1, 33.3, *CURVE)
    assert values_at(hist, wanted) == [hist.get_value_at_percentile(p) for p in wanted]


@pytest.mark.parametrize("values", [[], [0], [HIGHEST_US], [0, 1, HIGHEST_US], [3] * 7])
def test_percentiles_and_mean_read_the_first_and_the_last_bucket(values: list[int]) -> None:
    hist = new_histogram()
    for value in values:
        hist.record_value(value)
    wanted = (0.0, 50.0, 100.0)
    expected = [hist.get_value_at_percentile(p) if values else 0 for p in wanted]
    assert values_at(hist, wanted) == expected
    assert mean_of(hist) == pytest.approx(hist.get_mean_value() if values else 0.0)


def test_an_interval_closes_into_an_empty_histogram() -> None:
    metrics = Metrics(step=1.0, origin=0.0)
    metrics.series.begin(0.0)
    metrics.record("gap", 250)
    metrics.roll(1.0)
    assert metrics.hist["gap"].get_total_count() == 0
    metrics.record("gap", 500)
    assert metrics.total["gap"].get_total_count() == 1
    metrics.roll(2.0)
    assert metrics.total["gap"].get_total_count() == 2
    assert [point.index for point in metrics.series.points] == [0, 1]


def test_a_cleared_histogram_is_what_hdrhs_reset_leaves() -> None:
    from sse_cli.loadtest.metrics import clear

    used, fresh = new_histogram(), new_histogram()
    for value in (5, 700, 80_000, HIGHEST_US):
        used.record_value(value)
        fresh.record_value(value)
    clear(used)
    fresh.reset()
    assert bytes(used.counts) == bytes(fresh.counts)
    assert vars(used).keys() == vars(fresh).keys()
    for name in ("total_count", "min_value", "max_value", "start_time_stamp_msec"):
        assert getattr(used, name) == getattr(fresh, name), name
    used.record_value(42)
    fresh.record_value(42)
    assert used.encode() == fresh.encode()


def test_report_flag_problems_are_usage_errors_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = RequestFlags(url="http://127.0.0.1:9/")
    with pytest.raises(UsageError, match="no folder"):
        BenchSettings(request, report=tmp_path / "missing" / "run.html").options()
    with pytest.raises(UsageError, match="not standard output"):
        BenchSettings(request, report=Path("-")).options()
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "vl_convert" else real(name)
    )
    with pytest.raises(UsageError, match="--report needs vl-convert-python") as caught:
        BenchSettings(request, report=tmp_path / "run.html").options()
    assert "pip install 'sse-cli[report]'" in str(caught.value.hint)


#: `sse-cli` as the console script runs it; as it exits, it writes which of the report's
#: modules (the charts' library, the page) it imported, to the file named by argv[1].
REPORT_MODULES = """\
import atexit, json, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(
    m for m in sys.modules if "vl_convert" in m or m == "sse_cli.loadtest.html"))))
sys.argv[0] = "sse-cli"
from sse_cli.__main__ import main
main()
"""


def test_a_short_open_files_limit_is_said_and_the_charts_load_only_for_a_report(
    tmp_path: Path,
) -> None:
    """A fresh process (the open-files limit and the modules imported are the process's):
    300 streams under a 128 limit are warned of before starting, those past it are counted
    as 'open-files' errors with a hint, and a run without --report never imports the charts'
    library or the page's module."""

    def three_events(conn: socket.socket, request: Request) -> None:
        conn.sendall(head() + b"".join(b"id: %d\ndata: %d\n\n" % (n, n) for n in (1, 2, 3)))

    loaded = tmp_path / "loaded.json"
    with SocketServer(three_events) as server:
        done = subprocess.run(
            [sys.executable, "-c", REPORT_MODULES, str(loaded)]
            + ["bench", server.url, "-c", "300", "--no-reconnect"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=cli_env(),
            timeout=WAIT,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128)),
        )
    assert done.returncode == 0, done.stderr
    warning = done.stderr.decode().splitlines()[0]
    assert "the open-files limit is 128 (hard limit), below the 364" in warning
    report = json.loads(done.stdout)
    assert report["errors"]["by_kind"]["open-files"] > 0
    assert report["events"]["total"] + 3 * report["errors"]["by_kind"]["open-files"] == 900
    assert any("ran out of open files" in hint for hint in report["hints"])
    assert json.loads(loaded.read_text()) == []


def test_the_page_escapes_what_the_server_and_the_user_wrote() -> None:
    from sse_cli.loadtest import html

    hostile = "http://127.0.0.1:9/?q=</script><script>alert(1)</script>"
    report = json.loads((Path(__file__).parent / "samples" / "bench-report.json").read_text())
    report["url"] = hostile
    report["hints"] = ["<img src=x onerror=alert(2)>"]
    report["errors"]["by_kind"] = {"</script><b>": 1}
    page = html.render(cast(Report, report), "/* the charts' libraries */")
    assert "<script>alert" not in page and "<img" not in page and "<b>" not in page
    assert page.count("</script>") == 3  # the libraries, the charts' data, the drawing
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page


def test_counts_of_one_are_singular_in_bench_lines() -> None:
    from sse_cli.loadtest.report import _count

    assert (_count(1, "error"), _count(0, "error"), _count(1234, "threshold")) == (
        "1 error",
        "0 errors",
        "1,234 thresholds",
    )


def test_the_mean_is_hdrhistograms_own_mean_at_c_speed() -> None:
    import random

    from sse_cli.loadtest.metrics import mean_of, new_histogram

    hist = new_histogram()
    assert mean_of(hist) == 0.0
    draw = random.Random(7)
    for _ in range(5_000):
        hist.record_value(draw.choice([0, 1, 17, 999, 4_321, 65_000, 2_000_000]))
    hist.record_value(0, 100_000)
    assert mean_of(hist) == pytest.approx(hist.get_mean_value(), rel=1e-12)


@pytest.mark.parametrize("word_size", [2, 4, 8])
def test_values_recorded_in_c_fill_the_buckets_hdrh_fills(word_size: int) -> None:
    from hdrh.histogram import HdrHistogram

    rng = random.Random(7)
    edges = [-5, 0, 1, 2047, 2048, 2049, 4095, 4096, HIGHEST_US - 1, HIGHEST_US, 2**40]
    values = edges + [rng.randrange(0, HIGHEST_US * 2) for _ in range(3000)]
    values += [int(rng.expovariate(1 / 5000)) for _ in range(3000)]
    reference, twin = (HdrHistogram(1, HIGHEST_US, 3, word_size) for _ in range(2))
    record_values(reference, values)
    with using("c"):
        record_values_in_c(twin, values)
        record_values_in_c(twin, [])
    assert bytes(twin.counts) == bytes(reference.counts)
    assert twin.get_total_count() == reference.get_total_count() == len(values)
    assert (twin.min_value, twin.max_value) == (reference.min_value, reference.max_value)
    assert (reference.min_value, reference.max_value) == (0, HIGHEST_US)


def test_samples_wait_in_a_list_until_their_interval_closes() -> None:
    metrics = Metrics(step=1.0, origin=0.0)
    metrics.series.begin(0.0)
    for us in (250, 250, 9_000):
        metrics.record("latency", us)
    assert metrics.hist["latency"].get_total_count() == 0
    metrics.roll(1.0)
    assert metrics.pending["latency"] == []
    assert metrics.total["latency"].get_total_count() == 3
    assert metrics.series.points[0].hist["latency"]  # the interval's own histogram holds them
    assert values_at(metrics.total["latency"], (50.0, 100.0)) == [250, 9_007]
