"""The same access tokens guard /publish, /subscribe and /exec; with no key, loopback stays
open and any other address gets a key for the run, with a token in the banner."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import jwt
import pytest
from support.cli import WAIT
from test_mercure_hub import KEY, Served, token

from sse_cli.errors import UsageError
from sse_cli.serve import ServeSettings
from sse_cli.serve.auth import JwtSettings, load_settings, verify
from sse_cli.serve.relay_settings import RelaySettings
from sse_cli.serve.runner import banner


@pytest.fixture
def guarded() -> Iterator[Served]:
    relay = RelaySettings(per_client=("true",))
    served = Served(
        ServeSettings(rate_limit=0, access_log=False, jwt=JwtSettings(KEY), relay=relay)
    )
    yield served
    served.stop()


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_publish_needs_a_token_granting_its_topic(guarded: Served) -> None:
    url = guarded.url + "/publish?topic=news"
    assert httpx.post(url, content="x", timeout=WAIT).status_code == 401
    other = httpx.post(url, content="x", headers=bearer(token(publish=["sport"])), timeout=WAIT)
    assert other.status_code == 403
    assert 'error="insufficient_scope"' in other.headers["www-authenticate"]
    granted = httpx.post(url, content="x", headers=bearer(token(publish=["news"])), timeout=WAIT)
    assert granted.status_code in (200, 404)  # 404: nobody subscribes, as without tokens


def test_subscribe_needs_a_token_when_a_key_is_given(guarded: Served) -> None:
    url = guarded.url + "/subscribe?topic=news"
    assert httpx.get(url, timeout=WAIT).status_code == 401
    wrong = httpx.get(url, headers=bearer(token(subscribe=["sport"])), timeout=WAIT)
    assert wrong.status_code == 403
    with httpx.stream("GET", url, headers=bearer(token(subscribe=["news"])), timeout=WAIT) as r:
        assert r.status_code == 200


def test_exec_needs_a_token(guarded: Served) -> None:
    assert httpx.get(guarded.url + "/exec", timeout=WAIT).status_code == 401


def test_no_key_is_open_on_loopback_and_a_run_key_elsewhere() -> None:
    assert load_settings(None, None, None, "127.0.0.1") is None
    made = load_settings(None, None, None, "0.0.0.0")
    assert made is not None and made.generated
    lines = banner(ServeSettings(host="0.0.0.0", port=0, jwt=made), 8000)
    printed = next(line for line in lines if "Bearer " in line).split("Bearer ")[1]
    grant = verify(printed, made)
    assert grant.publish and not grant.anonymous


def test_a_key_from_the_token_or_alg_none_is_never_used() -> None:
    settings = JwtSettings(KEY)
    forged = jwt.encode({"mercure": {"publish": ["*"]}}, "", algorithm="none")
    with pytest.raises(Exception, match="not valid"):
        verify(forged, settings)


def test_issuer_without_a_key_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        load_settings(None, "https://localhost", None, "127.0.0.1")


def test_a_legacy_token_without_iss_or_aud_passes_a_draft_one_does_not() -> None:
    settings = JwtSettings(KEY, "https://localhost", "https://localhost/.well-known/mercure")
    legacy = jwt.encode({"mercure": {"publish": ["*"]}}, KEY, algorithm="HS256")
    assert verify(legacy, settings).publish
    wrong = jwt.encode({"mercure": {"publish": ["*"]}, "iss": "https://evil"}, KEY)
    with pytest.raises(Exception, match="not valid"):
        verify(wrong, settings)
    draft = jwt.encode({"authorization_details": []}, KEY, algorithm="HS256")
    with pytest.raises(Exception, match="not valid"):
        verify(draft, settings)
