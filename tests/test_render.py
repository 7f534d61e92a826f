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
from sse_cli.protocol.decoder import Comment, Diagnostic, Event, Item
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


# The status line (issue 18)


def status_line(events: int, url: str = "http://127.0.0.1:8000/counter") -> StatusLine:
    now = [0.0]
    stats = Stats(clock=lambda: now[0])
    status = StatusLine(io.StringIO(), stats, color=False)
    status.url, status.state = url, "connected, HTTP 200"
    now[0] = 0.5
    if events:
        stats.chunk(100 * events, [Event("m", "x", None)] * events)
    return status


def test_status_line_says_1_event_and_a_rate_in_the_first_second() -> None:
    assert "· 1 event · " in status_line(1).text()
    line = status_line(5).text()  # 5 events in half a second
    assert "5 events" in line and line.endswith("· 10.0/s")
    assert status_line(0).text().endswith("· 0.0/s")


@pytest.mark.parametrize(("width", "url"), [(120, "whole"), (80, "shortened"), (50, "dropped")])
def test_a_narrow_status_line_keeps_state_and_counts_and_shortens_the_url(
    width: int, url: str
) -> None:
    address = "http://127.0.0.1:8000/counter?interval=0.1&limit=1000"
    line = status_line(3, url=address).text(width)
    assert len(line) < width
    assert line.startswith("connected, HTTP 200 · ")
    assert line.endswith(" · 3 events · 300 B · 6.0/s")
    shown = {
        "whole": address in line,
        "shortened": "· http://127.0.0.1:8000/cou" in line and "… · 3 events" in line,
        "dropped": line == "connected, HTTP 200 · 3 events · 300 B · 6.0/s",
    }
    assert shown[url], line


def test_a_status_line_with_no_room_shows_nothing() -> None:
    status = status_line(3)
    assert status.text(0) == ""
    assert status.text(2) == ""
    assert status.text(20).endswith("…") and len(status.text(20)) < 20


def test_status_line_draws_nothing_on_a_terminal_of_0_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status = status_line(3)
    monkeypatch.setattr("sse_cli.render._terminal_width", lambda stream: 0)
    status.draw()
    assert status.stream.getvalue() == ""  # type: ignore[attr-defined]
    assert not status.shown


# Text mode that finds no text (issue 18)


def test_text_mode_says_once_why_events_without_text_show_nothing() -> None:
    renderer, out, err = make(TextRenderer)
    tick = Event("tick", '{"seq": 1, "time": "12:00"}', "1")
    for _ in range(10):
        renderer.received(b"", [tick])
    renderer.close()
    assert out.getvalue() == b""
    (line,) = err.getvalue().splitlines()
    assert line.startswith("sse-cli: warning: -f text shows nothing: 4 events so far")
    assert "-x PATH" in line


def test_text_mode_stays_quiet_while_a_chat_stream_opens_without_text() -> None:
    renderer, out, err = make(TextRenderer)
    opening = [Event(t, json.dumps({"type": t}), None) for t in ("message_start", "ping", "x")]
    delta = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi"}}
    renderer.received(b"", opening)
    renderer.received(b"", [Event("content_block_delta", json.dumps(delta), None)])
    renderer.close()
    assert out.getvalue() == b"Hi\n"
    assert err.getvalue() == ""


def test_text_mode_with_one_textless_event_says_so_at_the_end() -> None:
    renderer, out, err = make(TextRenderer, extractor=lambda event: None)
    renderer.received(b"", [Event("m", "{}", None)])
    assert err.getvalue() == ""
    renderer.close()
    assert "-x found no text in 1 event so far" in err.getvalue()


# The pretty view (issue 18)


def pretty_output(capsys: pytest.CaptureFixture[str], data: str, **options: object) -> str:
    from sse_cli.pretty import PrettyRenderer

    renderer = PrettyRenderer(
        RenderOptions(format="pretty", color=False, status=False, **options),  # type: ignore[arg-type]
        Messages(io.StringIO()),
        io.BytesIO(),
        Stats(),
    )
    renderer.received(b"", [Event("update", data, "7")])
    return capsys.readouterr().out


def test_pretty_indents_data_of_many_lines_under_its_header(
    capsys: pytest.CaptureFixture[str],
) -> None:
    header, *body = pretty_output(capsys, "first\n\nthird").splitlines()
    assert header.endswith(" update #7")
    assert body == ["  first", "  ", "  third"]
    json_body = pretty_output(capsys, json.dumps({"k": "v" * 100}), full=True).splitlines()[1:]
    assert json_body and all(line.startswith("  ") for line in json_body)


def test_pretty_json_that_fits_stays_on_one_line_and_longer_json_is_folded_to_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    short = pretty_output(capsys, '{"a": [1, 2], "b": "x"}').splitlines()
    assert len(short) == 1 and short[0].endswith('update #7  {"a": [1, 2], "b": "x"}')
    data = json.dumps({"k": "v" * 300})
    (folded,) = pretty_output(capsys, data).splitlines()
    assert folded.endswith(f"… ({len(data):,} chars, --full shows all)")
    assert len(folded) <= 80  # capsys: rich's default width
    assert len(pretty_output(capsys, data, full=True).splitlines()) == 4


def test_pretty_folds_lines_and_characters_in_one_style(
    capsys: pytest.CaptureFixture[str],
) -> None:
    many_lines = pretty_output(capsys, "\n".join(map(str, range(30)))).splitlines()
    assert many_lines[-1] == "  … 6 more lines (--full shows all)"
    long_line = pretty_output(capsys, "x" * 2500).splitlines()
    assert long_line[-1] == "  … 500 more characters (--full shows all)"
