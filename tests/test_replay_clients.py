"""Real clients read a replay: the official `openai` SDK and headless Chromium's EventSource."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import invoke
from support.serve import serving, tapes
from support.sockets import Handler, SocketServer, stream
from test_browser import browser  # noqa: F401 - the fixture, shared

SAMPLES = Path(__file__).parent / "samples"
PROMPT = "tell me about replays"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}], "stream": True}


def sdk_text(base: str) -> str:
    from openai import OpenAI

    client = OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=15)
    chunks = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_openai_sdk_reads_a_replayed_chat_completion(tmp_path: Path) -> None:
    pytest.importorskip("openai")
    recording = tmp_path / "chat.jsonl"
    with serving(delay=0.01, access_log=False) as live_app:
        live = live_app.url
        original = invoke(
            "listen", live + "/v1/chat/completions", "--json", json.dumps(CHAT), "-f", "text",
            "--record", str(recording),
        )  # fmt: skip
        assert original.status == 0, original.stderr
        live_text = sdk_text(live)
    with serving(replays=tapes(recording), access_log=False) as replay:
        replayed = sdk_text(replay.url)
    assert replayed == live_text == original.stdout.decode().rstrip("\n")
    assert "replays" in replayed


def test_chromium_eventsource_reads_a_replayed_stream(
    browser: object,  # noqa: F811
    serve_socket: Callable[[Handler], SocketServer],
    tmp_path: Path,
) -> None:
    body = (SAMPLES / "counter-with-ids.sse").read_bytes()
    expected = [
        json.loads(line)
        for line in (SAMPLES / "counter-with-ids.expected.ndjson").read_text().splitlines()
    ]
    server = serve_socket(stream(body))
    recording = tmp_path / "ids.jsonl"
    done = invoke("listen", server.url + "feed", "--no-reconnect", "--record", str(recording))
    assert done.status == 0, done.stderr
    types = sorted({e["event"] for e in expected})
    with serving(replays=tapes(recording), access_log=False) as replay:
        base = replay.url
        page = browser.new_page()  # type: ignore[attr-defined]
        try:
            page.goto(base + "/stats")
            got = page.evaluate(
                """([url, types, count]) => new Promise((resolve, reject) => {
                    const seen = [];
                    const source = new EventSource(url);
                    const take = (e) => {
                        seen.push({event: e.type, data: e.data, id: e.lastEventId || null});
                        if (seen.length === count) { source.close(); resolve(seen); }
                    };
                    for (const t of types) source.addEventListener(t, take);
                    setTimeout(() => reject(new Error("only " + JSON.stringify(seen))), 10000);
                })""",
                [base + "/feed", types, len(expected)],
            )
        finally:
            page.close()
    assert got == [{k: e[k] for k in ("event", "data", "id")} for e in expected]
