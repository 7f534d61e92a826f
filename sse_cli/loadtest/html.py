"""`bench --report FILE.html`: the report as one self-contained page, for people to look at.

The charts are Vega-Lite specifications (`charts`), drawn by Vega's own libraries, which the
`vl-convert-python` package ships and bundles into one script: the page embeds it, so it
opens from disk with no network, and its Content-Security-Policy lets no request leave it.
Everything the server sent (URL, error notes) is escaped. vl_convert is imported only here,
and this module only when --report is given (`pip install 'sse-cli[report]'`).
"""

from __future__ import annotations

import datetime
import html
import importlib.metadata
import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path

from sse_cli.errors import UsageError
from sse_cli.loadtest.charts import all_charts
from sse_cli.loadtest.schema import COLUMNS, Report, Times, column_values

#: What the bundle exposes to the page's own script.
SNIPPET = "window.vegaEmbed = vegaEmbed;"
#: No request may leave the page: scripts and styles are inline; Vega compiles expressions.
POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data:; font-src data:"
)
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1280px;
       padding: 0 16px; color: #222; }
h1 { font-size: 20px; margin-bottom: 4px; } h2 { font-size: 16px; margin-top: 28px; }
.muted { color: #666; } .ok { color: #1e7e34; } .fail { color: #c0392b; font-weight: 600; }
table { border-collapse: collapse; margin: 8px 0; }
td, th { padding: 3px 10px; border-bottom: 1px solid #e4e4e4; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.panels { display: flex; flex-wrap: wrap; gap: 24px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 18px; }
.chart { min-height: 270px; border: 1px solid #eee; border-radius: 6px; padding: 8px; }
.hint { color: #8a6d00; }
"""
DRAW = """
const specs = JSON.parse(document.getElementById("specs").textContent);
Promise.all(specs.map((spec, i) =>
  vegaEmbed("#chart-" + i, spec, {actions: false, renderer: "svg"})
)).then(() => { document.body.dataset.charts = String(specs.length); },
        (error) => { console.error("a chart failed: " + error); });
"""
TIMES: tuple[tuple[str, Callable[[Report], Times | None], str], ...] = (
    ("connect", lambda r: r["connect_ms"], "TCP connect (and TLS)"),
    ("response head", lambda r: r["head_ms"], "to the response head"),
    ("first event", lambda r: r["ttfe_ms"], "to the first event"),
    ("gap", lambda r: r["gap_ms"], "between two events"),
    ("latency", lambda r: r["latency_ms"], "send time to receipt"),
)


def charts_missing() -> str | None:
    """What --report needs that is not installed, or None."""
    if importlib.util.find_spec("vl_convert") is None:
        return "vl-convert-python, the charts' libraries"
    return None


def write_html(report: Report, path: Path) -> int:
    """Write the page to `path` (whole, or not at all); its size in bytes."""
    page = render(report, bundle()).encode()
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(page)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(f"--report {str(path)!r}: {exc.strerror or exc}") from None
    return len(page)


def bundle() -> str:
    """Vega's libraries as one script. Bundling takes seconds, so the bundle is kept in the
    user's cache folder, one file per vl-convert version; without a cache, it is made anew."""
    import vl_convert

    version = importlib.metadata.version("vl-convert-python")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sse-cli"
    kept = cache / f"vega-{version}.js"
    try:
        return kept.read_text(encoding="utf-8")
    except OSError:
        pass
    script = vl_convert.javascript_bundle(SNIPPET)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(f".{kept.name}.{os.getpid()}")
        partial.write_text(script, encoding="utf-8")
        os.replace(partial, kept)
    except OSError:
        pass  # a read-only home: the next report bundles again
    return script


def render(report: Report, script: str) -> str:
    specs = all_charts(report)
    data = json.dumps(specs, separators=(",", ":")).replace("</", "<\\/")
    charts = "".join(f'<div class="chart" id="chart-{i}"></div>' for i in range(len(specs)))
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sse-cli bench {_e(report["url"])}</title><style>{STYLE}</style></head>
<body><h1>sse-cli bench <code>{_e(report["url"])}</code></h1>
<div class="muted">written {when}; {report["duration_s"]:.1f} s run</div>
{_verdict(report)}
<div class="panels">{_settings(report)}{_machine(report)}</div>
<h2>Summary</h2>{_times(report)}{_figures(report)}{_hints(report)}
<h2>Over time and in distribution</h2><div class="grid">{charts}</div>
<script>{script}</script>
<script type="application/json" id="specs">{data}</script>
<script>{DRAW}</script></body></html>
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(rows: list[tuple[str, str]], title: str) -> str:
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<div><h2>{_e(title)}</h2><table>{body}</table></div>"


def _settings(report: Report) -> str:
    s = report["settings"]
    publish = report["publish"]
    rows = [
        ("URL", report["url"]),
        ("method", s["method"]),
        ("streams", f"{report['connections']:,}"),
        ("ramp", "all at once" if s["ramp"] is None else f"{s['ramp']:g} streams/s"),
        ("duration", "none" if s["duration"] is None else f"{s['duration']:g} s"),
        (
            "events per stream",
            "no limit" if s["events_per_stream"] is None else str(s["events_per_stream"]),
        ),
        ("publish", "no" if publish is None else f"{publish['url']} at {publish['rate']:g}/s"),
        ("workers", str(report["workers"])),
        ("local addresses", ", ".join(s["local_ips"] or ["the kernel's choice"])),
    ]
    return _table(rows, "Settings")


def _machine(report: Report) -> str:
    m = report["machine"]
    rows = [
        ("cores", str(m["cores"])),
        ("load average at start", " ".join(f"{x:.2f}" for x in m["load_start"]) or "-"),
        ("load average at end", " ".join(f"{x:.2f}" for x in m["load_end"]) or "-"),
    ]
    return _table(rows, "Machine")


def _verdict(report: Report) -> str:
    checks = report["thresholds"]
    if not checks:
        return '<p class="muted">no --threshold was given</p>'
    items = []
    for check in checks:
        cls, mark = ("ok", "ok") if check["ok"] else ("fail", "FAIL")
        value = check["value"]
        was = "not measured" if value is None else f"{value:g} {check['unit']}"
        items.append(
            f'<li class="{cls}">{mark} <code>{_e(check["threshold"])}</code> (was {_e(was)})</li>'
        )
    failed = sum(not c["ok"] for c in checks)
    head = "every threshold holds" if not failed else f"{failed} of {len(checks)} thresholds failed"
    return f'<h2 class="{"fail" if failed else "ok"}">{head}</h2><ul>{"".join(items)}</ul>'


def _row(label: str, times: Times | None, what: str) -> str:
    if times is None:
        cells = "".join("<td>-</td>" for _ in COLUMNS) + "<td>0</td>"
    else:
        figures = "".join(f"<td>{v:,.2f}</td>" for v in column_values(times))
        cells = figures + f"<td>{times['count']:,}</td>"
    return f'<tr><td title="{_e(what)}">{_e(label)}</td>{cells}</tr>'


def _times(report: Report) -> str:
    head = "".join(f"<th>{c}</th>" for c in ("ms", *COLUMNS, "count"))
    rows = [_row(label, pick(report), what) for label, pick, what in TIMES]
    publish = report["publish"]
    if publish is not None:
        rows.append(
            _row("publish", publish["latency_ms"], "each POST's answer, from when it was due")
        )
    note = report["latency_note"]
    after = "" if note is None else f'<p class="muted">latency: {_e(note)}</p>'
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>{after}"


def _figures(report: Report) -> str:
    events, data, errors = report["events"], report["bytes"], report["errors"]
    rate = report["per_stream_events_per_s"]
    rows = [
        ("streams", _streams(report)),
        ("events", f"{events['total']:,} ({events['per_s']:,.1f}/s)"),
        (
            "per stream",
            "-" if rate is None else f"min {rate['min']:,.2f}/s, median {rate['median']:,.2f}/s",
        ),
        ("bytes", f"{data['total']:,} ({data['per_s'] / 1e6:,.2f} MB/s)"),
        ("reconnects", f"{report['reconnects']:,}"),
        (
            "resume",
            f"{report['resume']['duplicates']:,} duplicates, {report['resume']['gaps']:,} gaps",
        ),
        ("errors", f"{errors['total']:,}"),
        *((f"  {kind}", f"{count:,}") for kind, count in errors["by_kind"].items()),
    ]
    publish = report["publish"]
    if publish is not None:
        failed = sum(publish["errors"].values())
        rows.append(
            ("published", f"{publish['sent']:,} at {publish['rate']:g}/s, {failed:,} failed")
        )
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _streams(report: Report) -> str:
    streams = report["streams"]
    return (
        f"{streams['max_open']:,} open at most of {report['connections']:,}"
        f" ({streams['opened']:,} connections)"
    )


def _hints(report: Report) -> str:
    return "".join(f'<p class="hint">hint: {_e(hint)}</p>' for hint in report["hints"])
