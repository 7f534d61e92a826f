"""Text mode's extraction: the LLM shapes it recognises, and --extract JMESPath."""

from __future__ import annotations

from pathlib import Path

import pytest

from sse_cli.errors import UsageError
from sse_cli.extract import llm_text, path_extractor
from sse_cli.protocol.decoder import Decoder, Event

SAMPLES = Path(__file__).resolve().parent / "samples"


def sample_events(name: str) -> list[Event]:
    decoder = Decoder()
    items = decoder.feed((SAMPLES / f"{name}.sse").read_bytes())
    return [item for item in items if isinstance(item, Event)]


def reply(events: list[Event]) -> str:
    return "".join(text for e in events if (text := llm_text(e)) is not None)


def test_openai_chunks_give_the_whole_reply() -> None:
    assert reply(sample_events("openai-chat-completions")) == "Hello! How can I help you today?"


def test_anthropic_deltas_give_the_whole_reply_and_skip_other_events() -> None:
    assert reply(sample_events("anthropic-messages")) == "Bonjour，世界! 🌍"


def test_done_adds_nothing() -> None:
    assert llm_text(Event("message", "[DONE]", None)) is None


def test_plain_data_is_text_already() -> None:
    assert llm_text(Event("message", "七", None)) == "七"


def test_json_of_unknown_shape_adds_nothing() -> None:
    assert llm_text(Event("message", '{"type": "ping"}', None)) is None


def test_legacy_completion_text_is_recognised() -> None:
    assert llm_text(Event("message", '{"choices": [{"text": "hi"}]}', None)) == "hi"


def test_path_extractor_picks_a_field() -> None:
    extract = path_extractor("choices[0].delta.content")
    assert extract(Event("message", '{"choices": [{"delta": {"content": "Hi"}}]}', None)) == "Hi"


def test_path_extractor_renders_non_strings_as_json() -> None:
    extract = path_extractor("a")
    assert extract(Event("message", '{"a": {"b": [1, "é"]}}', None)) == '{"b": [1, "é"]}'


@pytest.mark.parametrize("data", ["not json", "[DONE]", '{"b": 1}', "{broken"])
def test_path_extractor_finds_nothing_in_other_data(data: str) -> None:
    assert path_extractor("a")(Event("message", data, None)) is None


def test_invalid_path_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="JMESPath"):
        path_extractor("choices[0")


def test_lone_surrogates_become_replacement_characters() -> None:
    event = Event(
        "message", '{"choices": [{"delta": {"content": "\\udc80!"}}], "x": ["\\ud83d"]}', None
    )
    assert llm_text(event) == "\ufffd!"
    assert path_extractor("x")(event) == '["\ufffd"]'
    paired = Event("message", '{"t": "\\ud83d\\ude00"}', None)
    assert path_extractor("t")(paired) == "😀"
