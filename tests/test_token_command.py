"""`sse-cli token`: minted tokens pass the hub's own check; a failing one is told what it
lacks, with exit status 4 (what the hub would answer)."""

from __future__ import annotations

import json

import pytest
from support.cli import invoke

from sse_cli.serve.auth import JwtSettings, verify
from sse_cli.serve.mercure.matching import Matcher

KEY = "!ChangeThisMercureHubJWTSecretKey!"
BOOKS = "https://example.com/books/{id}"
BOOK_1 = "https://example.com/books/1"


@pytest.mark.parametrize(
    ("dialect", "selector"),
    [([], "https://example.com/books/:id"), (["--legacy"], BOOKS)],
    ids=["draft-08", "legacy"],
)
def test_a_minted_token_grants_what_it_was_asked(dialect: list[str], selector: str) -> None:
    minted = invoke(
        "token", "--key", KEY, "--publish", "*", "--subscribe", selector,
        "--issuer", "https://localhost", "--ttl", "10m", *dialect,
    )  # fmt: skip
    assert minted.status == 0, minted.stderr
    token = minted.text.strip()
    grant = verify(token, JwtSettings(KEY, "https://localhost"))
    matcher = Matcher()
    assert grant.may(matcher, "publish", ("https://anything.example/x",))
    assert grant.may(matcher, "subscribe", ("https://example.com/books/1",))
    assert not grant.may(matcher, "subscribe", ("https://example.com/authors/1",))
    checked = invoke("token", "--key", KEY, "--check", token, "--subscribe", BOOK_1)
    assert checked.status == 0, checked.stderr
    assert json.loads(checked.stdout)["publish"] == ["*"]


def test_check_says_what_a_token_lacks_and_exits_4() -> None:
    token = invoke("token", "--key", KEY, "--subscribe", "a").text.strip()
    lacking = invoke("token", "--key", KEY, "--check", token, "--publish", "a")
    assert lacking.status == 4
    assert "does not grant publish on a" in lacking.stderr
    forged = invoke("token", "--key", "another secret", "--check", token)
    assert forged.status == 4 and "Signature verification failed" in forged.stderr
    assert forged.stderr.count("\n") == 1  # one line, no traceback


def test_a_bad_ttl_is_a_usage_error() -> None:
    result = invoke("token", "--key", KEY, "--ttl", "soon")
    assert result.status == 2 and "--ttl" in result.stderr
