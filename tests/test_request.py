"""Request parsing in-process: URL, header, body, size and id, and the listen policy.

Every check raises `UsageError` (exit status 2) with a message and a hint; none connects.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sse_cli.checks import check_choice, check_count, check_seconds
from sse_cli.client import check_sendable
from sse_cli.errors import ExitCode, UsageError
from sse_cli.protocol.reconnect import CONTROL
from sse_cli.request import (
    SECRET_HEADERS,
    ListenOptions,
    RequestFlags,
    build_options,
    mask_url,
    parse_header,
    parse_size,
    parse_url,
    pass_through,
    read_argument,
    stop_data,
)

URL = "http://127.0.0.1:8000/events"


def usage_error(call: object, *args: object) -> UsageError:
    with pytest.raises(UsageError) as caught:
        call(*args)  # type: ignore[operator]
    assert caught.value.exit_code == ExitCode.USAGE
    return caught.value


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://u:hunter2@host/", "http://u:***@host/"),
        ("http://:hunter2@host:80/p?q#f", "http://:***@host:80/p?q#f"),
        ("http://u@host/", "http://u@host/"),
        ("http://host/a@b:c", "http://host/a@b:c"),  # an @ in the path is not credentials
        ("u:hunter2@:8000/", "u:***@:8000/"),  # however malformed the rest
        ("http://[::1]:8000/", "http://[::1]:8000/"),
    ],
)
def test_mask_url_hides_only_the_password(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    ("url", "what"),
    [
        ("/events", "has no scheme"),
        ("//127.0.0.1:8000/", "has no scheme"),
        ("ftp://h/", "unsupported URL scheme 'ftp:'"),
        ("http:///x", "has no host"),
        ("http://h:99999/", "invalid port"),
        ("http://[::1/", "is malformed"),
        ("http://h o/", "space or control"),
        ("http://h/a\tb\x7f", "space or control"),
    ],
)
def test_a_bad_url_is_refused(url: str, what: str) -> None:
    assert what in usage_error(parse_url, url).message


def test_a_bad_url_never_echoes_its_password() -> None:
    error = usage_error(parse_url, "http://u:hunter2@:99999/")
    assert "hunter2" not in str(error) and "u:***@" in str(error)


@pytest.mark.parametrize(
    ("short", "full"),
    [
        (":8000/counter", "http://localhost:8000/counter"),
        (":8000", "http://localhost:8000"),
        (":/x", "http://localhost/x"),
        ("localhost:8000/x", "http://localhost:8000/x"),
        ("127.0.0.1:8000/x", "http://127.0.0.1:8000/x"),
        ("[::1]:8000/x?a=1", "http://[::1]:8000/x?a=1"),
        ("example.com/events", "http://example.com/events"),
        ("u:pw@example.com:80/", "http://u:pw@example.com:80/"),
    ],
)
def test_short_urls_are_read_as_httpie_reads_them(short: str, full: str) -> None:
    assert parse_url(short) == full


def test_a_url_without_a_host_suggests_the_short_form() -> None:
    assert "e.g. http://localhost:8000/events, or :8000/events" in str(
        usage_error(parse_url, "/events")
    )


def test_a_good_url_is_kept_as_given() -> None:
    assert parse_url("HTTPS://Example.com:8443/a b?x=1") == "HTTPS://Example.com:8443/a b?x=1"


def test_a_header_is_split_at_its_first_colon_and_trimmed() -> None:
    assert parse_header(" X-A :  b: c ") == ("X-A", "b: c")
    assert parse_header("Accept:") == ("Accept", "")  # an empty value removes a default
    assert parse_header("X-Tab: a\tb") == ("X-Tab", "a\tb")


@pytest.mark.parametrize("raw", ["Accept text/plain", ": v", "X Y: 1", "Bad(name): 1"])
def test_a_malformed_header_is_refused(raw: str) -> None:
    assert "malformed header" in usage_error(parse_header, raw).message


def test_a_secret_header_without_its_colon_is_not_echoed() -> None:
    error = usage_error(parse_header, "Cookie session=hunter2")
    assert "hunter2" not in str(error) and "'Cookie …'" in error.message


@pytest.mark.parametrize(
    ("size", "expected"),
    [("1", 1), ("512K", 512 * 1024), ("16m", 16 << 20), ("1GiB", 1 << 30), (" 2 kb ", 2048)],
)
def test_sizes_take_binary_units(size: str, expected: int) -> None:
    assert parse_size(size, "--max-event-size") == expected


@pytest.mark.parametrize("size", ["0", "-1", "12Q", "1.5M", ""])
def test_a_bad_size_names_its_flag(size: str) -> None:
    error = usage_error(parse_size, size, "--max-body")
    assert error.message.startswith(f"--max-body: {size!r} is not a size")


def test_number_checks() -> None:
    assert check_seconds(None) is None and check_seconds(0.5) == 0.5
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        assert "more than 0" in usage_error(check_seconds, bad).message
    assert check_count(0) == 0
    assert usage_error(check_count, -1).message == "must be 0 or more, not -1"
    assert check_choice("json", ("json", "raw")) == "json"
    assert usage_error(check_choice, "yaml", ("json", "raw")).message == (
        "'yaml' is not one of json, raw"
    )


def test_read_argument_reads_text_files_and_stdin(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_bytes(b'{"a": 1}')
    assert read_argument("plain", "--data") == b"plain"
    assert read_argument(f"@{body}", "--json") == b'{"a": 1}'
    assert read_argument("@-", "--json", io.BytesIO(b"from stdin")) == b"from stdin"
    error = usage_error(read_argument, "@/nonexistent/x", "--data")
    assert "cannot read --data file" in error.message


def test_build_options_defaults_to_a_get_with_no_body() -> None:
    options = build_options(RequestFlags(url=URL))
    assert options == ListenOptions(url=URL)


def test_json_implies_post_and_its_content_type_unless_one_is_given() -> None:
    options = build_options(RequestFlags(url=URL, json_body='{"a": 1}'))
    assert (options.method, options.body) == ("POST", b'{"a": 1}')
    assert options.headers == (("Content-Type", "application/json"),)
    flags = RequestFlags(url=URL, json_body="{}", header=["content-type: text/json"])
    assert build_options(flags).headers == (("content-type", "text/json"),)


def test_data_is_form_encoded_like_curl_and_method_is_upper_cased() -> None:
    options = build_options(RequestFlags(url=URL, data="a=1", method="put"))
    assert options.method == "PUT"
    assert options.headers == (("Content-Type", "application/x-www-form-urlencoded"),)


@pytest.mark.parametrize(
    ("flags", "what"),
    [
        (RequestFlags(url=URL, data="a", json_body="{}"), "both give a body"),
        (RequestFlags(url=URL, json_body="{'a': 1}"), "not valid JSON"),
        (RequestFlags(url=URL, json_body="NaN"), "NaN is not a JSON value"),
        (RequestFlags(url=URL, method="GET /"), "invalid method"),
        (RequestFlags(url=URL, last_event_id="7\n8"), "--last-event-id holds"),
        (RequestFlags(url=URL, max_event_size="0"), "--max-event-size: '0'"),
        (RequestFlags(url=URL, cacert=Path("/nonexistent/ca.pem")), "not found"),
    ],
)
def test_build_options_refuses_bad_flags(flags: RequestFlags, what: str) -> None:
    assert what in usage_error(build_options, flags).message


def test_a_last_event_id_header_becomes_the_seed_id() -> None:
    flags = RequestFlags(url=URL, header=["Last-Event-ID: 41", "X-A: 1"])
    options = build_options(flags)
    assert options.last_event_id == "41"
    assert options.headers == (("X-A", "1"),)  # the client sends the newest id itself


def test_last_event_id_flag_wins_over_the_header() -> None:
    flags = RequestFlags(url=URL, header=["last-event-id: 41"], last_event_id="7")
    options = build_options(flags)
    assert (options.last_event_id, options.headers) == ("7", ())


def test_text_output_stops_at_done_unless_until_is_given() -> None:
    assert stop_data("text", None) == "[DONE]"
    assert stop_data("text", "end") == "end"
    assert stop_data("json", None) is None


def test_raw_output_passes_bytes_through_only_when_nothing_inspects_events() -> None:
    options = ListenOptions(url=URL)
    assert pass_through(options, "raw", False).parse is False
    assert pass_through(options, "raw", True).parse is True
    assert pass_through(options, "json", False).parse is True


def test_set_cookie_is_a_secret_like_the_request_credentials() -> None:
    assert {"authorization", "proxy-authorization", "cookie", "set-cookie"} <= SECRET_HEADERS


# The same hostile values go to the command line's parser and to the client's last check
# before sending: both refuse every one, so options built without the parser are safe too.
HOSTILE = ["a\rb", "a\nb", "a\r\nX-Injected: 1", "a\x00b", "a\x7fb", "a\x1bb", "a\x01b"]


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_a_hostile_header_value_is_refused_by_the_parser_and_the_client(value: str) -> None:
    assert CONTROL.search(value)
    usage_error(parse_header, f"X-A: {value}")
    error = usage_error(check_sendable, URL, [("X-A", value)])
    assert value not in str(error)  # never echoed: it may be a secret


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_a_hostile_url_is_refused_by_the_parser_and_the_client(value: str) -> None:
    url = f"http://127.0.0.1:8000/{value}"
    assert "space or control" in usage_error(parse_url, url).message
    usage_error(check_sendable, url, [])


@pytest.mark.parametrize("name", ["X A", "X\r\nB", "", "X(Y)", "X\x00"], ids=repr)
def test_a_header_name_that_is_no_token_is_refused_by_both(name: str) -> None:
    usage_error(parse_header, f"{name}: 1")
    usage_error(check_sendable, URL, [(name, "1")])


def test_the_client_sends_what_the_parser_accepts() -> None:
    headers = [parse_header("Authorization: Bearer a\tb"), parse_header("Accept:")]
    check_sendable(parse_url("http://u:p@127.0.0.1:8000/a%20b?x=1"), headers)


def test_every_listen_parameter_is_exactly_one_request_or_output_flag() -> None:
    import dataclasses
    import inspect

    from sse_cli.cli.listen import OutputFlags, listen

    parameters = set(inspect.signature(listen).parameters) - {"ctx"}
    request = {field.name for field in dataclasses.fields(RequestFlags)}
    output = {field.name for field in dataclasses.fields(OutputFlags)}
    assert request.isdisjoint(output)
    assert request | output == parameters
