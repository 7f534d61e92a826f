"""The Mercure hub at /.well-known/mercure: both dialects, tokens, private updates,
selectors, resume and expiry, against a fresh app on uvicorn on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
from support.cli import WAIT
from support.sse_reader import StreamReader, close_all

from sse_cli.serve import ServeSettings, create_app
from sse_cli.serve.auth import DETAIL_TYPE, JwtSettings

KEY = "!ChangeThisMercureHubJWTSecretKey!"
HUB = "/.well-known/mercure"
BOOK = "https://example.com/books/1"


@pytest.fixture(autouse=True)
def _close_readers() -> Iterator[None]:
    yield
    close_all()


class Served:
    """A fresh app on uvicorn, on a thread with its own loop, on 127.0.0.1 port 0."""

    def __init__(self, settings: ServeSettings) -> None:
        import uvicorn

        self.app = create_app(settings)
        self.sock = socket.create_server(("127.0.0.1", 0))
        config = uvicorn.Config(self.app, lifespan="off", log_level="critical", access_log=False)
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + WAIT
        while not self.server.started:  # a condition with a deadline, not a count
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def run(self) -> None:
        try:
            self.loop.run_until_complete(self.server.serve(sockets=[self.sock]))
        finally:
            self.loop.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.app.state.shared.hub.close)
        self.server.should_exit = True
        self.thread.join(WAIT)
        self.sock.close()


@pytest.fixture
def hub() -> Iterator[Served]:
    served = Served(
        ServeSettings(rate_limit=0, access_log=False, jwt=JwtSettings(KEY, "https://localhost"))
    )
    yield served
    close_all()
    served.stop()


@pytest.fixture
def open_hub() -> Iterator[Served]:
    served = Served(ServeSettings(rate_limit=0, access_log=False))
    yield served
    close_all()
    served.stop()


def token(
    publish: list[str] | None = None,
    subscribe: list[str] | None = None,
    ttl: float = 3600,
    key: str = KEY,
    draft: bool = False,
    **header: Any,
) -> str:
    claims: dict[str, Any] = {"iss": "https://localhost", "exp": int(time.time() + ttl)}
    if draft:
        header.setdefault("typ", "at+jwt")
        details = []
        for action, topics in (("publish", publish), ("subscribe", subscribe)):
            if topics is not None:
                matchers = [{"match": t, "match_type": "urlpattern"} for t in topics]
                details.append({"type": DETAIL_TYPE, "actions": [action], "topics": matchers})
        claims["authorization_details"] = details
    else:
        claims["mercure"] = {"publish": publish or [], "subscribe": subscribe or []}
    return jwt.encode(claims, key, algorithm="HS256", headers=header or None)


PUBLISHER = token(publish=["*"])


def publish(url: str, auth: str | None = PUBLISHER, **form: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {auth}"} if auth else {}
    return httpx.post(url + HUB, data=form, headers=headers, timeout=WAIT)


def subscribe(url: str, query: str, **headers: str) -> StreamReader:
    reader = StreamReader(f"{url}{HUB}?{query}", headers=headers)
    reader.wait(lambda r: r.status != 0)
    return reader


def test_a_public_update_reaches_an_anonymous_legacy_subscriber(hub: Served) -> None:
    reader = subscribe(hub.url, f"topic={quote(BOOK)}")
    assert reader.status == 200
    assert reader.response_headers["last-event-id"] == "earliest"
    sent = publish(hub.url, topic=BOOK, data="hello", id="b1", type="book", retry="500")
    assert sent.status_code == 200 and sent.text == "b1"
    reader.wait(lambda r: len(r.events) == 1)
    event = reader.events[0]
    assert (event.data, event.id, event.event, event.retry) == ("hello", "b1", "book", 500)


def test_publishing_without_a_token_is_401(hub: Served) -> None:
    answer = publish(hub.url, auth=None, topic=BOOK, data="x")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer error=")


@pytest.mark.parametrize(
    "bad",
    [
        token(publish=["*"], key="another key that is long enough to be a key"),
        token(publish=["*"], ttl=-10),
        jwt.encode({"mercure": {"publish": ["*"]}}, "", algorithm="none"),
        "not.a.token",
        token(publish=["*"], draft=True, typ="JWT"),
    ],
    ids=["bad-signature", "expired", "alg-none", "garbage", "draft-08-without-typ-at+jwt"],
)
def test_a_bad_token_is_401_invalid_token(hub: Served, bad: str) -> None:
    answer = publish(hub.url, auth=bad, topic=BOOK, data="x")
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


def test_a_topic_not_granted_is_403_insufficient_scope(hub: Served) -> None:
    narrow = token(publish=["https://example.com/books/{id}"])
    answer = publish(hub.url, auth=narrow, topic=[BOOK, "https://example.com/authors/1"])
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
    assert publish(hub.url, auth=narrow, topic=BOOK).status_code == 200


@pytest.mark.parametrize("bad_id", ["#x", "earliest", "a\nb"])
def test_reserved_or_control_ids_are_refused(hub: Served, bad_id: str) -> None:
    assert publish(hub.url, topic=BOOK, id=bad_id).status_code == 400


def test_a_private_update_reaches_only_granted_subscribers(hub: Served) -> None:
    allowed = token(subscribe=["https://example.com/books/{id}"])
    anonymous = subscribe(hub.url, "topic=*")
    granted = subscribe(hub.url, "topic=*", Authorization=f"Bearer {allowed}")
    publish(hub.url, topic=BOOK, data="secret", private="on")
    publish(hub.url, topic=BOOK, data="public")
    granted.wait(lambda r: [e.data for e in r.events] == ["secret", "public"])
    anonymous.wait(lambda r: len(r.events) >= 1)
    assert [e.data for e in anonymous.events] == ["public"]


@pytest.mark.parametrize(
    "cookie", ["mercureAuthorization", "__Secure-mercure_access_token"], ids=["legacy", "draft"]
)
def test_both_dialects_cookies_carry_the_subscriber_token(hub: Served, cookie: str) -> None:
    allowed = token(subscribe=["*"], draft=cookie.startswith("__"))
    reader = subscribe(hub.url, f"topic={quote(BOOK)}", Cookie=f"{cookie}={allowed}")
    publish(hub.url, topic=BOOK, data="secret", private="on")
    reader.wait(lambda r: [e.data for e in r.events] == ["secret"])


def test_uri_templates_and_url_patterns_select_topics(hub: Served) -> None:
    legacy = subscribe(hub.url, "topic=" + quote("https://example.com/books/{id}"))
    draft = subscribe(hub.url, "match_urlpattern=" + quote("https://example.com/:kind/1"))
    publish(hub.url, topic="https://example.com/books/2", data="book 2")
    publish(hub.url, topic="https://example.com/authors/1", data="author 1")
    publish(hub.url, topic="https://example.com/books/2/reviews", data="reviews")
    legacy.wait(lambda r: len(r.events) >= 1)
    draft.wait(lambda r: len(r.events) >= 1)
    publish(hub.url, topic=BOOK, data="end")
    legacy.wait(lambda r: r.events[-1].data == "end")
    draft.wait(lambda r: r.events[-1].data == "end")
    assert [e.data for e in legacy.events] == ["book 2", "end"]
    assert [e.data for e in draft.events] == ["author 1", "end"]
    assert draft.response_headers["mercure-last-event-id"]


def test_resume_after_an_id_and_from_earliest(hub: Served) -> None:
    for n in range(1, 4):
        publish(hub.url, topic=BOOK, data=f"u{n}", id=f"id{n}")
    after = subscribe(hub.url, f"topic={quote(BOOK)}", **{"Last-Event-ID": "id1"})
    after.wait(lambda r: len(r.events) == 2)
    assert after.response_headers["last-event-id"] == "id3"
    draft = subscribe(hub.url, f"match={quote(BOOK)}&last_event_id=id2")
    earliest = subscribe(hub.url, f"topic={quote(BOOK)}&lastEventID=earliest")
    publish(hub.url, topic=BOOK, data="u4", id="id4")
    draft.wait(lambda r: [e.data for e in r.events] == ["u3", "u4"])
    earliest.wait(lambda r: [e.data for e in r.events] == ["u1", "u2", "u3", "u4"])
    after.wait(lambda r: [e.data for e in r.events] == ["u2", "u3", "u4"])


def test_a_subscriber_token_expiry_ends_its_stream(hub: Served) -> None:
    short = token(subscribe=["*"], ttl=1.5)
    reader = subscribe(hub.url, "topic=*", Authorization=f"Bearer {short}")
    assert reader.status == 200
    reader.wait(lambda r: r.ended, timeout=WAIT + 2)


def test_a_subscriber_with_a_bad_token_is_401(hub: Served) -> None:
    reader = subscribe(hub.url, "topic=*", Authorization="Bearer not.a.token")
    assert reader.status == 401


def test_without_a_key_on_loopback_publishing_stays_open(open_hub: Served) -> None:
    reader = subscribe(open_hub.url, "topic=*")
    assert publish(open_hub.url, auth=None, topic=BOOK, data="open").status_code == 200
    reader.wait(lambda r: [e.data for e in r.events] == ["open"])


def test_a_subscription_without_a_selector_is_400(hub: Served) -> None:
    assert httpx.get(hub.url + HUB, timeout=WAIT).status_code == 400


def test_a_browser_navigating_to_the_root_gets_the_ui_page(open_hub: Served) -> None:
    page = httpx.get(open_hub.url + "/", headers={"Accept": "text/html,*/*"}, timeout=WAIT)
    assert page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text.lower()


def test_bench_publishes_to_a_hub_as_a_form_on_the_url_topic() -> None:
    from sse_cli.loadtest.publish import mercure_topic

    assert mercure_topic("/.well-known/mercure?topic=urn:x&authorization=T") == "urn:x"
    assert mercure_topic("/.well-known/mercure?authorization=T") == "urn:sse-cli:bench"
    assert mercure_topic("/publish?topic=news") is None


def test_a_reused_id_does_not_reuse_another_updates_match(hub: Served) -> None:
    reader = subscribe(hub.url, "topic=urn:b")
    publish(hub.url, topic="urn:a", data="for a", id="same")
    publish(hub.url, topic="urn:b", data="for b", id="same")
    reader.wait(lambda r: len(r.events) >= 1)
    assert [e.data for e in reader.events] == ["for b"]
