"""The checks on time: `compression`, `buffering` and `heartbeat`.

What the proxies in front of a stream really do (tested with Debian's nginx 1.22 and
haproxy 2.6): nginx's default `proxy_buffering on` passes an uncompressed stream through
event by event; with `gzip on` for text/event-stream under that buffering, a client that
accepts gzip gets nothing, not even the response head, until the buffer fills, while a
client asking for identity streams. `X-Accel-Buffering: no` from the server (or
`proxy_buffering off`) lets the compressed stream through on time. nginx's
`proxy_read_timeout` and haproxy's `timeout server` both cut a silent stream exactly that
long after its last byte, mid-body (no closing chunk). Stdlib only.
"""

from __future__ import annotations

import statistics
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from sse_cli.doctor.probe import Probe
from sse_cli.doctor.verdicts import Check, longest_silence, ms, seconds
from sse_cli.doctor.watch import Watch

__all__ = ["buffering", "compression", "heartbeat", "held_back"]

#: Idle timeouts commonly met (nginx proxy_read_timeout, an AWS ALB): 60 s.
COMMON_IDLE = 60.0
#: A silence this long says no heartbeat comes every 15 s, as is usual: worth a warning.
QUIET = 16.0
#: A delay past this counts as held back, not jitter.
LATE = 1.0
#: The least silence before a cut that blames an idle timeout rather than chance.
CUT_SILENCE = 0.5
BUFFERING_FIX = (
    "nginx: 'proxy_buffering off;' in the location, or send 'X-Accel-Buffering: no' from the "
    "server; Apache mod_proxy: 'flushpackets=on'; flush after each event in the server"
)
COMPRESSION_FIX = (
    "do not compress text/event-stream: nginx 'gzip off;' in the location (or drop "
    "text/event-stream from gzip_types); send 'Cache-Control: no-transform' so "
    "intermediaries leave it alone"
)
HEARTBEAT_FIX = (
    "send a comment line (': ping') more often than the shortest idle timeout, say every 15 "
    "s, or raise the timeouts: nginx 'proxy_read_timeout', haproxy 'timeout server' (and "
    "'timeout client'), an AWS ALB's idle timeout"
)


def held_back(watch: Watch) -> str | None:
    """Why the browser-like probe fell behind the curl-like one, or None when it did not."""
    curl, browser = watch.probes.get("curl"), watch.probes.get("browser")
    if curl is None or browser is None or not curl.opened() or len(curl.arrivals) < 2:
        return None
    if browser.response is None and browser.error is None:
        return (
            f"the browser-like probe got not even a response head in {seconds(watch.elapsed)} "
            f"while the curl-like one got {len(curl.arrivals)} events"
        )
    if browser.opened() and not browser.decodable:
        # Brotli is not decoded here: the body's bytes arriving is what can be timed.
        if browser.body_bytes:
            return None
        return (
            f"the browser-like probe got no byte of its {browser.encoding} body in "
            f"{seconds(watch.elapsed)} while the curl-like one got {len(curl.arrivals)} events"
        )
    if browser.opened() and not browser.arrivals:
        return (
            f"the browser-like probe got no event in {seconds(watch.elapsed)} while the "
            f"curl-like one got {len(curl.arrivals)}"
        )
    lags = _lags(curl, browser)
    if lags and statistics.median(lags) > LATE:
        return f"events reached the browser-like probe {seconds(statistics.median(lags))} later"
    return None


def _lags(curl: Probe, browser: Probe) -> list[float]:
    """How much later each event reached the browser-like probe: the same event (type, id
    and data) on both, so that a broadcast one probe joined late is not counted as a lag;
    by position when no event matches (a stream made per connection)."""
    seen: dict[tuple[str, str | None, str], deque[float]] = defaultdict(deque)
    for arrival in curl.arrivals:
        event = arrival.event
        seen[event.event, event.id, event.data].append(arrival.at)
    lags = []
    for arrival in browser.arrivals:
        event = arrival.event
        times = seen.get((event.event, event.id, event.data))
        if times:
            lags.append(arrival.at - times.popleft())
    if lags:
        return lags
    return [b.at - c.at for c, b in zip(curl.arrivals, browser.arrivals, strict=False)]


def compression(watch: Watch) -> Check:
    browser = watch.probes.get("browser")
    held = held_back(watch)
    if browser is None or (browser.response is None and held is None):
        return Check("compression", "skip", "the browser-like probe got no response")
    coding = browser.encoding
    figures: dict[str, Any] = {"content_encoding": coding or None}
    if browser.response is None and held is not None:
        # The head itself is held: only Accept-Encoding tells the two probes apart.
        return Check(
            "compression",
            "fail",
            f"{held}; the probes differ only in Accept-Encoding, so a compressing proxy or "
            "server holds the stream in its buffer",
            COMPRESSION_FIX,
            figures,
        )
    if not coding or coding == "identity":
        return Check("compression", "pass", "not compressed for a browser", None, figures)
    ratio = browser.body_bytes / browser.decoded_bytes if browser.decoded_bytes else None
    figures["ratio"] = round(ratio, 3) if ratio else None
    if held is not None:
        return Check("compression", "fail", f"{coding} for a browser, and {held}", COMPRESSION_FIX)
    on_time = "each event arrived on time"
    if not browser.decodable:
        figures["decoded"] = False
        on_time = "its bytes (not decoded here) arrived as the events did"
    return Check(
        "compression",
        "warn",
        f"{coding} for a browser, yet {on_time}; a buffer on the way "
        "(proxy_buffering, a CDN) would hold it back",
        COMPRESSION_FIX,
        figures,
    )


def buffering(watch: Watch, send_time: Callable[[str], int | None]) -> Check:
    held = held_back(watch)
    probes = [p for p in watch.probes.values() if p.opened() and p.spec.name != "resume"]
    figures = {p.spec.name: _pattern(p, send_time) for p in probes}
    if held is not None:
        return Check("buffering", "fail", held, BUFFERING_FIX, {"probes": figures})
    if not any(p.arrivals for p in probes):
        return Check("buffering", "skip", "no event arrived to time", None, {"probes": figures})
    delays = [f["delay_ms"]["p90"] for f in figures.values() if f.get("delay_ms")]
    if delays and max(delays) > LATE * 1000:
        summary = f"events arrive {max(delays):.0f} ms after they were sent (p90)"
        return Check("buffering", "fail", summary, BUFFERING_FIX, {"probes": figures})
    bursts = {name: f["bursts"] for name, f in figures.items() if f["bursts"] >= 2}
    if bursts and not delays:
        name, count = max(bursts.items(), key=lambda item: item[1])
        summary = f"{name}: events arrive in {count} bursts after silences (many in one read)"
        return Check("buffering", "warn", summary, BUFFERING_FIX, {"probes": figures})
    if delays:
        summary = f"each event arrived on time ({max(delays):.0f} ms after it was sent, p90)"
    else:
        summary = "events arrived one by one, on both probes alike"
    return Check("buffering", "pass", summary, None, {"probes": figures})


def _pattern(probe: Probe, send_time: Callable[[str], int | None]) -> dict[str, Any]:
    """How one probe's events arrived: reads, bursts after silences, send-time delays."""
    reads = [r for r in probe.reads if r.events]
    bursts, last = 0, probe.head_at or 0.0
    for read in probe.reads:
        if read.events >= 3 and read.at - last >= LATE:
            bursts += 1
        last = read.at
    sizes = sorted({r.size for r in probe.reads if r.size in (4096, 8192, 16384, 32768)})
    delays = []
    for arrival in probe.arrivals:
        sent = send_time(arrival.event.data)
        if sent is not None:
            delays.append((arrival.wall_ns - sent) / 1e6)
    pattern: dict[str, Any] = {
        "events": len(probe.arrivals),
        "reads_with_events": len(reads),
        "max_events_per_read": max((r.events for r in reads), default=0),
        "bursts": bursts,
        "buffer_sized_reads": sizes,
    }
    if delays:
        delays.sort()
        pattern["delay_ms"] = {
            "p50": round(delays[len(delays) // 2], 1),
            "p90": round(delays[int(len(delays) * 0.9)], 1),
            "max": round(delays[-1], 1),
        }
    return pattern


def heartbeat(watch: Watch) -> Check:
    end = watch.elapsed
    probes = [p for p in watch.probes.values() if p.head_at is not None]
    if not probes:
        return Check("heartbeat", "skip", "no stream opened")
    for probe in probes:
        if probe.ended_at is None or probe.error is None or not probe.reads:
            continue
        quiet = probe.ended_at - probe.reads[-1].at
        if quiet >= CUT_SILENCE:
            return Check(
                "heartbeat",
                "fail",
                f"the {probe.spec.name}-like probe's connection was cut after {seconds(quiet)} "
                f"of silence: an idle timeout of about {seconds(quiet)} is in the way",
                HEARTBEAT_FIX,
                {"cut_after_silence_s": round(quiet, 2), "probe": probe.spec.name},
            )
    silence = max(longest_silence(p, end)[0] for p in probes)
    comments = sum(len(p.comments) for p in probes)
    figures = {"longest_silence_s": round(silence, 2), "comments": comments}
    if silence >= COMMON_IDLE / 2:
        summary = (
            f"silences of up to {seconds(silence)}: common idle timeouts (60 s: nginx "
            "proxy_read_timeout, an AWS ALB) cut a stream that quiet"
        )
        return Check("heartbeat", "warn", summary, HEARTBEAT_FIX, figures)
    if silence >= QUIET:
        summary = (
            f"no byte for {seconds(silence)}: unless a heartbeat comes more often, a stream "
            "that stays quiet meets the idle timeouts in the way (60 s is common)"
        )
        return Check("heartbeat", "warn", summary, HEARTBEAT_FIX, figures)
    beat = f", {comments} heartbeat comments" if comments else ""
    summary = f"longest silence {ms(silence) if silence < 1 else seconds(silence)}{beat}"
    return Check("heartbeat", "pass", summary, None, figures)
