"""`sse-cli doctor` through real nginx and haproxy, started here on free loopback ports with
configs written into each test's directory, and stopped by PID.

What they were seen to do (nginx 1.22, haproxy 2.6), which the doctor's rules follow:
- nginx's default `proxy_buffering on` passes an uncompressed stream event by event;
- `gzip on` for text/event-stream under that buffering gives a client that accepts gzip
  nothing, not even the response head, while a client asking for identity streams;
- the same with `proxy_buffering off` (or the server's `X-Accel-Buffering: no`, which `serve`
  sends and these tests make nginx ignore) is compressed, yet on time;
- nginx's `proxy_read_timeout` and haproxy's `timeout server` cut a silent stream that long
  after its last byte, mid-body.

Each case runs `doctor -f json` in-process and renders the same report as the checklist.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.proxies import Proxy, haproxy, nginx, require
from support.serve import serve_flags, serving

from sse_cli.cli import run_cli
from sse_cli.doctor.report import write_pretty

GZIP = "gzip on; gzip_types text/event-stream; proxy_ignore_headers X-Accel-Buffering;"


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """`sse-cli serve`, pacing its demo streams at 0.2 s an event, in this process (the
    proxies are real processes); host:port for a proxy."""
    require("nginx", "haproxy")
    settings, _ = serve_flags("--delay", "0.2")
    with serving(**settings) as server:
        yield f"127.0.0.1:{server.port}"


def doctor(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, Any]:
    code = run_cli(["doctor", url, "-f", "json", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    report = json.loads(out)
    failed = [c["id"] for c in report["checks"] if c["verdict"] == "fail"]
    assert (code == 9) == bool(failed), (code, failed, err)
    if failed:
        assert err.splitlines() == [
            f"sse-cli: error: {len(failed)} of {len(report['checks'])} checks failed: "
            + ", ".join(failed)
        ]
    _same_in_pretty(report)
    return code, report


def _same_in_pretty(report: dict[str, Any]) -> None:
    """The checklist shows every check with its verdict's mark, and the fix of each failure."""
    out = io.BytesIO()
    write_pretty(out, report, color=False)
    text = out.getvalue().decode()
    marks = {"pass": "✔", "warn": "!", "fail": "✘", "skip": "-"}
    for check in report["checks"]:
        assert f" {marks[check['verdict']]} {check['id']}" in text
        if check["verdict"] == "fail" and check["fix"]:
            assert check["fix"] in text


def verdict_of(report: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["id"] == check_id)


def test_a_clean_stream_behind_nginx_with_buffering_off_passes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, upstream: str
) -> None:
    with nginx(tmp_path, upstream, "proxy_buffering off;") as proxy:
        code, report = doctor(capsys, proxy.url + "/counter", "--duration", "2")
    assert (code, report["verdict"]) == (0, "pass"), report["checks"]
    assert verdict_of(report, "resume")["verdict"] == "pass"


def test_nginx_gzip_under_buffering_holds_the_browser_back_and_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, upstream: str
) -> None:
    with nginx(tmp_path, upstream, GZIP) as proxy:
        code, report = doctor(capsys, proxy.url + "/counter", "--duration", "2")
    assert code == 9
    compression, buffering = verdict_of(report, "compression"), verdict_of(report, "buffering")
    assert (compression["verdict"], buffering["verdict"]) == ("fail", "fail")
    assert "Accept-Encoding" in compression["summary"]
    assert "gzip off" in compression["fix"] and "proxy_buffering off" in buffering["fix"]
    probes = {p["name"]: p for p in report["probes"]}
    assert probes["curl"]["events"] >= 3
    assert (probes["browser"]["status"], probes["browser"]["events"]) == (None, 0)


def test_nginx_gzip_with_buffering_off_is_compressed_yet_on_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, upstream: str
) -> None:
    with nginx(tmp_path, upstream, GZIP + " proxy_buffering off;") as proxy:
        code, report = doctor(capsys, proxy.url + "/counter", "--duration", "2")
    assert code == 0
    compression = verdict_of(report, "compression")
    assert (compression["verdict"], compression["content_encoding"]) == ("warn", "gzip")
    assert verdict_of(report, "buffering")["verdict"] == "pass"
    browser = next(p for p in report["probes"] if p["name"] == "browser")
    # Decoded from gzip: each event flushed on its own is no smaller for being compressed.
    assert browser["events"] >= 5 and browser["body_bytes"] != browser["decoded_bytes"]


def _cut(proxy: Proxy, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    with proxy:
        # A tick every 3 s: the proxy's 1 s idle timeout cuts the stream after the first.
        code, report = doctor(capsys, proxy.url + "/clock?interval=3", "--duration", "2.5")
    assert code == 9
    heartbeat = verdict_of(report, "heartbeat")
    assert heartbeat["verdict"] == "fail"
    # About 1 s: haproxy, seen here, holds a response's first bytes about 0.2 s, yet counts
    # its timeout from when the server wrote them.
    assert 0.6 <= heartbeat["cut_after_silence_s"] < 1.6, heartbeat
    assert "connection was cut after" in heartbeat["summary"]
    return heartbeat


def test_nginx_proxy_read_timeout_shorter_than_a_silence_fails_heartbeat(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, upstream: str
) -> None:
    heartbeat = _cut(nginx(tmp_path, upstream, "proxy_read_timeout 1s;"), capsys)
    assert "proxy_read_timeout" in heartbeat["fix"]


def test_haproxy_timeout_server_shorter_than_a_silence_fails_heartbeat(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, upstream: str
) -> None:
    proxy = haproxy(tmp_path, upstream, "timeout client 30s\n    timeout server 1s")
    heartbeat = _cut(proxy, capsys)
    assert "timeout server" in heartbeat["fix"]


def test_haproxy_with_long_timeouts_passes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, upstream: str
) -> None:
    with haproxy(tmp_path, upstream, "timeout client 30s\n    timeout server 30s") as proxy:
        code, report = doctor(capsys, proxy.url + "/counter", "--duration", "2")
    assert (code, report["verdict"]) == (0, "pass"), report["checks"]


@pytest.mark.parametrize(("http2", "verdict"), [(True, "pass"), (False, "warn")])
def test_tls_behind_nginx_reads_the_certificate_and_http2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, upstream: str, http2: bool, verdict: str
) -> None:
    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    issued.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    issued.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    listen = (
        f"ssl{' http2' if http2 else ''}; ssl_certificate {tmp_path / 'cert.pem'}; "
        f"ssl_certificate_key {tmp_path / 'key.pem'}"
    )
    with nginx(tmp_path, upstream, "proxy_buffering off;", listen) as proxy:
        url = proxy.url.replace("http:", "https:") + "/counter"
        code, report = doctor(
            capsys, url, "--cacert", str(tmp_path / "ca.pem"), "--duration", "1.5"
        )
        # Without the CA, the certificate is not trusted: no stream, status 3 at once.
        assert run_cli(["doctor", url, "--duration", "1.5"]) == 3
        assert "certificate" in capsys.readouterr().err
    assert code == 0
    tls = verdict_of(report, "tls")
    assert (tls["verdict"], tls["alpn"]) == (verdict, "h2" if http2 else "http/1.1"), tls
    assert tls["days_to_expiry"] > 14
    assert verdict_of(report, "resume")["verdict"] == "pass"
