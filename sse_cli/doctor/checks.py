"""The checks on what the probes were told: connect, tls, status, content-type, headers,
cors, retry, wire and resume; `run_checks` lists every check in the report's order.

Each reads a finished `Watch` and returns a `Check`; none does I/O. Stdlib only.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from sse_cli.doctor.probe import Probe
from sse_cli.doctor.timing import buffering, compression, heartbeat
from sse_cli.doctor.verdicts import Check, ms
from sse_cli.doctor.watch import Watch
from sse_cli.protocol.response import Outcome

__all__ = ["run_checks"]

MIN_RETRY_MS = 500  # a shorter retry has every client back at once after a restart
SLOW_HEAD = 2.0  # seconds from connected to the response head
EXPIRY_WARN_DAYS = 14
RESUME_FIX = (
    "send 'id:' with every event, and on a request with Last-Event-ID continue after that "
    "id (keep recent events, or a broker's history, to replay what was missed)"
)


def run_checks(watch: Watch, send_time: Callable[[str], int | None]) -> list[Check]:
    """Every check, in the report's order."""
    return [
        connect(watch),
        tls(watch),
        status(watch),
        content_type(watch),
        compression(watch),
        buffering(watch, send_time),
        heartbeat(watch),
        resume(watch),
        retry(watch),
        cors(watch),
        headers(watch),
        wire(watch),
    ]


def _main(watch: Watch) -> list[Probe]:
    return [p for name, p in watch.probes.items() if name != "resume"]


def connect(watch: Watch) -> Check:
    figures: dict[str, object] = {"dns_ms": round((watch.dns_s or 0) * 1000, 1)}
    failed = [p for p in _main(watch) if p.connected_at is None]
    if failed:
        probe = failed[0]
        return Check("connect", "fail", f"the {probe.spec.name}-like probe: {probe.error}")
    heads = {p.spec.name: p for p in _main(watch) if p.head_at is not None}
    for name, probe in heads.items():
        figures[f"{name}_connect_ms"] = round((probe.connected_at or 0) * 1000, 1)
        figures[f"{name}_head_ms"] = round((probe.head_at or 0) * 1000, 1)
    slow = [p for p in heads.values() if (p.head_at or 0) - (p.connected_at or 0) > SLOW_HEAD]
    if slow:
        probe = slow[0]
        wait = (probe.head_at or 0) - (probe.connected_at or 0)
        return Check(
            "connect",
            "warn",
            f"the response head came {ms(wait)} after connecting: a browser shows the stream "
            "as still connecting until then",
            "send the response head (and flush it) before the first event is ready",
            figures,
        )
    curl = watch.probes["curl"]
    summary = f"{watch.address}: connected in {ms(curl.connected_at or 0)}"
    if curl.head_at is not None:
        summary += f", response head in {ms(curl.head_at)}"
    return Check("connect", "pass", summary, None, figures)


def tls(watch: Watch) -> Check:
    info = watch.tls
    six = (
        "browsers open at most 6 HTTP/1.1 connections per origin, so a 7th EventSource tab "
        "hangs; HTTP/2 lifts that"
    )
    if info is None:
        return Check("tls", "skip", "plain http: no TLS, so no HTTP/2 (a browser's 6 streams)")
    if info.error:
        return Check("tls", "fail", f"TLS handshake failed: {info.error}")
    figures: dict[str, object] = {"alpn": info.alpn, "version": info.version}
    days = None
    if info.not_after is not None:
        days = int((info.not_after - time.time()) // 86400)
        figures["days_to_expiry"] = days
    expiry = f"certificate valid {days} more days" if days is not None else "not verified"
    if days is not None and days < EXPIRY_WARN_DAYS:
        return Check("tls", "warn", f"{expiry}", "renew the certificate", figures)
    if info.alpn != "h2":
        return Check(
            "tls",
            "warn",
            f"{info.version}, {expiry}; HTTP/2 not offered: {six}",
            "enable HTTP/2 on the server or proxy in front (nginx 'http2 on;')",
            figures,
        )
    return Check("tls", "pass", f"{info.version}, HTTP/2 offered, {expiry}", None, figures)


def status(watch: Watch) -> Check:
    seen = {p.spec.name: p.response.status for p in _main(watch) if p.response is not None}
    wrong = {name: code for name, code in seen.items() if code != 200}
    if wrong:
        parts = ", ".join(f"{code} to the {name}-like probe" for name, code in wrong.items())
        return Check("status", "fail", f"{parts}: only 200 opens a stream", None, {"status": seen})
    if not seen:
        return Check("status", "skip", "no response head arrived")
    return Check("status", "pass", "200 OK", None, {"status": seen})


def content_type(watch: Watch) -> Check:
    probes = [p for p in _main(watch) if p.response is not None and p.response.status == 200]
    if not probes:
        return Check("content-type", "skip", "no 200 response")
    for probe in probes:
        assert probe.response is not None
        value = probe.response.headers.get("content-type", "")
        if not probe.opened():
            return Check(
                "content-type",
                "fail",
                f"Content-Type {value or '(none)'}, not text/event-stream",
                "answer with 'Content-Type: text/event-stream'",
                {"content_type": value or None},
            )
    assert probes[0].response is not None
    value = probes[0].response.headers.get("content-type", "")
    charset = value.lower().partition("charset=")[2].strip(" \"';")
    if charset and charset != "utf-8":
        return Check(
            "content-type",
            "warn",
            f"{value}: an event stream is always UTF-8, whatever the charset says",
            "drop the charset, or make it utf-8",
            {"content_type": value},
        )
    return Check("content-type", "pass", value, None, {"content_type": value})


def headers(watch: Watch) -> Check:
    probe = next((p for p in _main(watch) if p.opened()), None)
    if probe is None or probe.response is None:
        return Check("headers", "skip", "no stream opened")
    head = probe.response.headers
    cache = head.get("cache-control", "")
    figures = {"cache_control": cache or None, "http_version": probe.version}
    problems, fixes = [], []
    if "content-length" in head:
        problems.append(f"a Content-Length ({head['content-length']}) on a stream")
        fixes.append("send no Content-Length: stream chunked")
    if probe.version == "HTTP/1.0":
        problems.append("an HTTP/1.0 response")
        fixes.append("answer in HTTP/1.1 (nginx: 'proxy_http_version 1.1;')")
    if "no-cache" not in cache.lower() and "no-store" not in cache.lower():
        problems.append(f"Cache-Control {cache or '(none)'}")
        fixes.append("send 'Cache-Control: no-cache' so no cache holds the stream")
    if problems:
        return Check("headers", "warn", "; ".join(problems), "; ".join(fixes), figures)
    return Check("headers", "pass", f"Cache-Control: {cache}", None, figures)


def cors(watch: Watch) -> Check:
    origin = watch.plan.origin
    if not origin:
        return Check("cors", "skip", "no --origin given: a page's view was not checked")
    browser = watch.probes["browser"]
    if browser.response is None:
        return Check("cors", "skip", "the browser-like probe got no response head")
    head = browser.response.headers
    allowed = head.get("access-control-allow-origin")
    credentials = head.get("access-control-allow-credentials", "").lower() == "true"
    figures = {"allow_origin": allowed, "allow_credentials": credentials}
    fix = f"answer a request from {origin} with 'Access-Control-Allow-Origin: {origin}'"
    if allowed is None:
        summary = f"no Access-Control-Allow-Origin: a page at {origin} cannot read the stream"
        return Check("cors", "fail", summary, fix, figures)
    if allowed not in (origin, "*"):
        summary = f"Access-Control-Allow-Origin is {allowed}: a page at {origin} cannot read it"
        return Check("cors", "fail", summary, fix, figures)
    summary = f"Access-Control-Allow-Origin: {allowed}"
    if allowed == "*":
        summary += " (not with credentials: EventSource with withCredentials needs the origin)"
    elif credentials:
        summary += ", with credentials"
    return Check("cors", "pass", summary, None, figures)


def retry(watch: Watch) -> Check:
    values = [p.retry for p in _main(watch) if p.retry is not None]
    if not values:
        return Check(
            "retry",
            "pass",
            "no retry field: browsers wait their own default (about 3 s) to reconnect",
            None,
            {"retry_ms": None},
        )
    value = values[0]
    figures = {"retry_ms": value}
    if value < MIN_RETRY_MS:
        summary = f"retry: {value} ms: every client reconnects at once after a restart"
        return Check("retry", "warn", summary, "send a retry of a few seconds", figures)
    return Check("retry", "pass", f"retry: {value} ms", None, figures)


def wire(watch: Watch) -> Check:
    found: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for probe in _main(watch):
        for diagnostic in probe.diagnostics:
            found[diagnostic.code] += 1
            examples.setdefault(diagnostic.code, diagnostic.message)
    figures = {"diagnostics": dict(found)}
    if not found:
        return Check("wire", "pass", "no malformed line", None, figures)
    summary = "; ".join(f"{examples[code]} ({n}x)" for code, n in found.most_common(3))
    return Check("wire", "warn", summary, "fix the lines the server writes", figures)


def resume(watch: Watch) -> Check:
    curl = watch.probes["curl"]
    if not curl.arrivals:
        return Check("resume", "skip", "no event arrived")
    if not curl.ids_seen:
        return Check(
            "resume",
            "warn",
            "no event carries an id: a reconnect starts the stream over, and what was sent "
            "meanwhile is lost",
            RESUME_FIX,
        )
    seed, again = watch.resume_seed, watch.probes.get("resume")
    if seed is None or again is None:
        return Check("resume", "skip", "ids are sent; no reconnect was tried")
    figures: dict[str, object] = {"last_event_id": seed}
    head = again.head()
    if head is not None and head.outcome is Outcome.STOP and _ended(curl):
        summary = f"the stream ended; a reconnect after its last id ({seed}) got 204: stop"
        return Check("resume", "pass", summary, None, figures)
    if again.response is None and again.error is None:
        return Check("resume", "skip", f"the reconnect with Last-Event-ID {seed} got no answer")
    if not again.opened():
        answer = again.response.status if again.response else again.error
        return Check(
            "resume", "fail", f"a reconnect with Last-Event-ID {seed} got {answer}", RESUME_FIX
        )
    if not again.arrivals:
        return Check("resume", "skip", f"the reconnect with Last-Event-ID {seed} got no event")
    return _continuation(curl, again, seed, figures)


def _ended(probe: Probe) -> bool:
    """The server ended the stream itself, cleanly, before the watch was over."""
    return probe.ended_at is not None and probe.error is None


def _continuation(curl: Probe, again: Probe, seed: str, figures: dict[str, object]) -> Check:
    """Did the reconnect continue right after `seed`, as the curl-like probe saw the ids?"""
    first = again.arrivals[0].event.id
    figures["first_id"] = first
    ids = [a.event.id for a in curl.arrivals]
    at = len(ids) - 1 - ids[::-1].index(seed) if seed in ids else None
    if at is not None and first in ids[: at + 1]:
        summary = f"after Last-Event-ID {seed}, the stream repeated from id {first}"
        return Check("resume", "fail", summary, RESUME_FIX, figures)
    following = (
        next((i for i in ids[(at or 0) + 1 :] if i != seed), None) if at is not None else None
    )
    if following is None and seed.isdigit() and first is not None and first.isdigit():
        following = str(int(seed) + 1)
    if following is not None and first != following:
        summary = f"after Last-Event-ID {seed}, the stream went on at {first}, not {following}"
        return Check("resume", "warn", summary, RESUME_FIX, figures)
    summary = f"a reconnect with Last-Event-ID {seed} continued at {first}"
    return Check("resume", "pass", summary, None, figures)
