"""The renderers, fed values: the JSON contract, text mode, warnings, -v masking, strict."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sse_cli.actions import Connected
from sse_cli.errors import ProtocolError
from sse_cli.jsonline import json_line
from sse_cli.parser import Comment, Diagnostic, Event, Item
from sse_cli.render import (
    DataRenderer,
    JsonRenderer,
    Messages,
    RawRenderer,
    Renderer,
    RenderOptions,
    StatusLine,
    TextRenderer,
    mask_header,
)
from sse_cli.stats import Stats


def make(kind: type[Renderer], **options: object) -> tuple[Renderer, io.BytesIO, io.StringIO]:
    out, err = io.BytesIO(), io.StringIO()
    renderer = kind(RenderOptions(**options), Messages(err), out, Stats())  # type: ignore[arg-type]
    return renderer, out, err


def test_json_line_is_the_documented_shape() -> None:
    line = json_line(Event("message", 'a "quote"\nand 七', "41", 15000))
    assert line.endswith(b"}\n")
    assert json.loads(line) == {
        "event": "message",
        "data": 'a "quote"\nand 七',
        "id": "41",
        "retry": 15000,
    }
    assert "七".encode() in line  # non-ASCII stays readable
    assert list(json.loads(json_line(Event("x", "", None)))) == ["event", "data", "id"]


def test_json_line_matches_json_dumps_for_control_characters() -> None:
    data = "".join(chr(c) for c in range(32)) + '\u2028\\"'
    assert json.loads(json_line(Event("m", data, None)))["data"] == data


def test_json_renderer_writes_a_chunks_events_in_one_write_and_flush() -> None:
    class Counting(io.BytesIO):
        writes = 0
        flushes = 0

        def write(self, b: object) -> int:
            self.writes += 1
            return super().write(b)  # type: ignore[arg-type]

        def flush(self) -> None:
            self.flushes += 1

    out = Counting()
    renderer = JsonRenderer(RenderOptions(), Messages(io.StringIO()), out, Stats())
    renderer.received(b"", [Event("a", "1", None), Comment("c"), Event("b", "2", "9")])
    assert (out.writes, out.flushes) == (1, 1)
    lines = out.getvalue().decode().splitlines()
    assert [json.loads(line)["data"] for line in lines] == ["1", "2"]


def test_timestamps_add_rfc3339_utc_microseconds() -> None:
    renderer, out, _ = make(JsonRenderer, timestamps=True)
    renderer.received(b"", [Event("a", "1", None)])
    ts = json.loads(out.getvalue())["ts"]
    assert len(ts) == len("2026-11-24T09:30:01.123456Z") and ts.endswith("Z") and ts[10] == "T"


def test_data_and_raw_renderers() -> None:
    data, out, _ = make(DataRenderer)
    data.received(b"", [Event("a", "one\ntwo", None), Event("a", "", None)])
    assert out.getvalue() == b"one\ntwo\n\n"
    raw, out, _ = make(RawRenderer)
    raw.received(b"data: \xe4\xb8", [])
    raw.received(b"\x83\n\n", [Event("message", "七", None)])
    assert out.getvalue() == "data: 七\n\n".encode()


def test_text_renderer_concatenates_and_ends_with_a_newline() -> None:
    renderer, out, _ = make(TextRenderer)
    renderer.received(b"", [Event("message", "Hel", None), Event("message", "lo", None)])
    renderer.received(b"", [Event("message", "[DONE]", None)])
    assert out.getvalue() == b"Hello"
    renderer.close()
    assert out.getvalue() == b"Hello\n"


def test_diagnostics_warn_once_each_on_stderr() -> None:
    renderer, out, err = make(JsonRenderer)
    items: list[Item] = [Diagnostic("invalid-retry", "retry: 'x' was ignored")] * 3
    renderer.received(b"", items)
    renderer.received(b"", items)
    assert err.getvalue() == "sse-cli: warning: retry: 'x' was ignored\n"
    assert out.getvalue() == b""


def test_strict_turns_a_warning_into_a_protocol_error() -> None:
    renderer, _, _ = make(JsonRenderer, strict=True)
    with pytest.raises(ProtocolError) as raised:
        renderer.received(b"", [Diagnostic("unknown-field", "field 'x' was ignored")])
    assert raised.value.exit_code == 7


def connected(**headers: str) -> Connected:
    return Connected(
        url="http://h/",
        status=200,
        reason="OK",
        headers={"Content-Type": "text/event-stream", **headers},
        method="GET",
        request_headers={"Authorization": "Bearer sekrit", "Cookie": "a=b", "Accept": "x"},
    )


def test_verbose_masks_secrets_unless_given_twice() -> None:
    renderer, _, err = make(JsonRenderer, verbose=1)
    renderer.action(connected(**{"Set-Cookie": "session=abc"}))
    text = err.getvalue()
    assert "> Authorization: Bearer ***" in text
    assert "> Cookie: ***" in text and "< Set-Cookie: ***" in text
    assert "sekrit" not in text and "abc" not in text and "a=b" not in text
    renderer, _, err = make(JsonRenderer, verbose=2)
    renderer.action(connected())
    assert "> Authorization: Bearer sekrit" in err.getvalue()


def test_mask_header_keeps_other_headers() -> None:
    assert mask_header("Accept", "text/event-stream", False) == "text/event-stream"
    assert mask_header("proxy-authorization", "Basic abc", False) == "Basic ***"


def test_compressed_response_is_a_warning() -> None:
    renderer, _, err = make(JsonRenderer)
    renderer.action(connected(**{"Content-Encoding": "gzip"}))
    assert "compressed (gzip)" in err.getvalue()


def test_status_line_shows_state_counts_and_clears() -> None:
    stream = io.StringIO()
    stats = Stats()
    status = StatusLine(stream, stats, color=False)
    status.url = "http://h/"
    status.state = "connected, HTTP 200"
    stats.chunk(2048, [Event("m", "x", None)] * 3)
    status.draw()
    assert "connected, HTTP 200 · http://h/ · 3 events · 2.0 KiB" in stream.getvalue()
    status.clear()
    assert stream.getvalue().endswith("\r\x1b[2K")
    assert not status.shown


@given(
    event=st.text(),
    data=st.text(),
    id_=st.none() | st.text(),
    retry=st.none() | st.integers(0, 10**18 - 1),
)
def test_json_line_is_what_json_dumps_gives_for_any_strings(
    event: str, data: str, id_: str | None, retry: int | None
) -> None:
    fields: dict[str, object] = {"event": event, "data": data, "id": id_}
    if retry is not None:
        fields["retry"] = retry
    line = json_line(Event(event, data, id_, retry))
    if any("\ud800" <= c <= "\udfff" for c in event + data + (id_ or "")):
        # A lone surrogate cannot be UTF-8: it is escaped, and reads back the same.
        assert json.loads(line) == fields
    else:
        assert line == (json.dumps(fields, ensure_ascii=False) + "\n").encode()


def test_json_renderer_escapes_a_lone_surrogate_and_keeps_the_chunk() -> None:
    renderer, out, _ = make(JsonRenderer, timestamps=True)
    renderer.received(b"", [Event("a", "ok", "1"), Event("a", "\ud800x", None, 5)])
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert (first["data"], first["id"], second["data"], second["retry"]) == (
        "ok",
        "1",
        "\ud800x",
        5,
    )
    assert first["ts"] == second["ts"]
