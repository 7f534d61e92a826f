"""Every JSON body `serve` answers ends with a newline, so `curl -d ... /publish` run by a
person leaves the shell's prompt on a line of its own (issue 27, point 5)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from support.cli import WAIT
from support.serve import serving_args


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serving_args("-q") as server:
        yield server.url


def body_of(url: str, data: bytes | None = None) -> bytes:
    try:
        with urllib.request.urlopen(url, data=data, timeout=WAIT) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as refused:
        with refused:
            return bytes(refused.read())


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/publish?topic=news", b"hello"),
        ("/stats", None),
        ("/no/such/endpoint", None),
        ("/counter?limit=x", None),
        ("/v1/models", None),
        ("/sse", b"not json"),
    ],
)
def test_a_json_body_ends_with_a_newline(url: str, path: str, data: bytes | None) -> None:
    body = body_of(url + path, data)
    assert body.startswith(b"{") and body.endswith(b"}\n"), body
    assert body.count(b"\n") == 1, body
