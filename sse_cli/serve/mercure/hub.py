"""GET (subscribe) and POST (publish) /.well-known/mercure, as one bare ASGI app.

A subscriber joins the broker's one global log (LOG_TOPIC), is sent the kept updates after
the id it resumes from (all of them for `earliest`) that its selectors match and its grant
may see, then live ones filtered the same way. The id the stream starts after goes out in
the `Last-Event-ID` (legacy) or `Mercure-Last-Event-ID` (draft-08) response header.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from sse_cli.serve.auth import AuthError, Grant, grant_for
from sse_cli.serve.brokers import BrokerUnavailableError
from sse_cli.serve.brokers.fanout import Subscriber
from sse_cli.serve.mercure.matching import Matcher, Selector, SelectorError, legacy
from sse_cli.serve.mercure.updates import LOG_TOPIC, LogReader, Update, UpdateError, from_form
from sse_cli.serve.refusals import ApiError
from sse_cli.serve.state import PING, Shared
from sse_cli.serve.streams import SECURITY_HEADERS, read_body

MAX_SELECTORS = 100
MAX_VERDICTS = 100_000
HEAD = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"private, no-cache, no-store, must-revalidate, max-age=0"),
    (b"connection", b"keep-alive"),
    *SECURITY_HEADERS,
]


@dataclass
class HubState:
    """One app's matcher and log reader, shared by its subscribers."""

    matcher: Matcher = field(default_factory=Matcher)
    log: LogReader = field(default_factory=LogReader)
    verdicts: dict[tuple[Update, tuple[Selector, ...]], bool] = field(default_factory=dict)
    """Whether a public update matches a selector set: one answer for every subscriber
    that shares the set."""


def hub_state(scope: Scope) -> HubState:
    state = scope["app"].state
    found: HubState | None = getattr(state, "mercure", None)
    if found is None:
        found = state.mercure = HubState()
    return found


@dataclass(frozen=True)
class Subscription:
    selectors: tuple[Selector, ...]
    after: str | None
    draft: bool  # draft-08 (match=, last_event_id) rather than legacy (topic=, lastEventID)


def subscription(scope: Scope) -> Subscription:
    """What a subscribe request asks for; SelectorError (400) when it asks for nothing."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    draft = bool(query.get("match") or query.get("match_urlpattern") or "last_event_id" in query)
    selectors = [Selector("all" if m == "*" else "exact", m) for m in query.get("match", ())]
    selectors += [Selector("urlpattern", m) for m in query.get("match_urlpattern", ())]
    selectors += [legacy(t) for t in query.get("topic", ())]
    if not selectors:
        raise SelectorError("missing topic: give match=, match_urlpattern= or topic=")
    if len(selectors) > MAX_SELECTORS:
        raise SelectorError(f"at most {MAX_SELECTORS} selectors per subscription")
    after = None
    for name, value in scope["headers"]:
        if name == b"last-event-id":
            after = value.decode("latin-1")
    for name in ("last_event_id", "lastEventID", "Last-Event-ID"):
        if after is None and query.get(name):
            after = query[name][-1]
    return Subscription(tuple(selectors), after or None, draft)


def visible(state: HubState, grant: Grant, asked: Subscription, update: Update) -> bool:
    """An update reaches a subscriber whose selectors match one of its topics; a private
    one only if the subscriber's grant covers one of its topics too."""
    if not update.private:
        key = (update, asked.selectors)  # the update, not its id: publishers may reuse ids
        found = state.verdicts.get(key)
        if found is None:
            if len(state.verdicts) >= MAX_VERDICTS:
                state.verdicts.clear()
            found = state.verdicts[key] = state.matcher.any(update.topics, asked.selectors)
        return found
    if not state.matcher.any(update.topics, asked.selectors):
        return False
    return any(grant.may(state.matcher, "subscribe", (topic,)) for topic in update.topics)


def replayed(state: HubState, asked: Subscription, history: list[bytes]) -> list[Update]:
    """The kept updates after the id resumed from: all for `earliest`, none for an id not
    kept (the stream then starts live)."""
    updates = [u for u in map(state.log.read, history) if u is not None]
    if asked.after is None:
        return []
    if asked.after == "earliest":
        return updates
    for at, update in enumerate(updates):
        if update.id == asked.after:
            return updates[at + 1 :]
    return []


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, text: str,
                 headers: dict[str, str] | None = None) -> None:  # fmt: skip
    await PlainTextResponse(text + "\n", status, headers)(scope, receive, send)


class MercureHub:
    """The bare ASGI app at /.well-known/mercure."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        shared: Shared = scope["app"].state.shared
        try:
            grant = grant_for(scope, shared.settings.jwt)
            if scope["method"] == "POST":
                await self.publish(scope, receive, send, shared, grant)
            elif scope["method"] in ("GET", "HEAD"):
                await self.subscribe(scope, receive, send, shared, grant)
            else:
                await refuse(scope, receive, send, 405, "use GET to subscribe, POST to publish")
        except AuthError as exc:
            await refuse(scope, receive, send, exc.status, exc.description, exc.headers)
        except (SelectorError, UpdateError) as exc:
            await refuse(scope, receive, send, 400, str(exc))
        except ApiError as exc:
            await refuse(scope, receive, send, exc.status, str(exc), exc.headers)
        except BrokerUnavailableError as exc:
            await refuse(scope, receive, send, 503, str(exc), {"Retry-After": "1"})

    async def publish(
        self, scope: Scope, receive: Receive, send: Send, shared: Shared, grant: Grant
    ) -> None:
        if grant.anonymous:
            raise AuthError(401, "publishing needs a token", code="invalid_request")
        update = from_form(await read_body(Request(scope, receive)))
        if not grant.may(hub_state(scope).matcher, "publish", update.topics):
            raise AuthError(403, "the token does not grant publishing on every topic")
        await shared.hub.broker.publish(LOG_TOPIC, None, update.to_log())
        await PlainTextResponse(update.id)(scope, receive, send)

    async def subscribe(
        self, scope: Scope, receive: Receive, send: Send, shared: Shared, grant: Grant
    ) -> None:
        asked = subscription(scope)
        state = hub_state(scope)
        for selector in asked.selectors:
            state.matcher.check(selector)
        hub = shared.hub
        resuming = asked.after is not None
        recent = shared.settings.history if resuming else 1
        joined = await hub.broker.join(LOG_TOPIC, None, recent)
        subscriber = joined.subscriber
        try:
            kept = [u for u in map(state.log.read, joined.history) if u is not None]
            last = kept[-1].id if kept else "earliest"
            name = b"mercure-last-event-id" if asked.draft else b"last-event-id"
            head = [*HEAD, (name, last.encode("latin-1", "replace"))]
            await send({"type": "http.response.start", "status": 200, "headers": head})
            if scope["method"] == "HEAD":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            hub.start_heartbeat()
            history = replayed(state, asked, joined.history)
            first = b":\n\n" + b"".join(
                u.encoded for u in history if visible(state, grant, asked, u)
            )
            with hub.activity.generator():
                await Stream(shared, state, grant, asked, subscriber).run(first, receive, send)
        finally:
            hub.broker.leave(LOG_TOPIC, subscriber)


class Stream:
    """One subscriber's writer: woken by the fan-out, it filters what its inbox holds."""

    def __init__(
        self,
        shared: Shared,
        state: HubState,
        grant: Grant,
        asked: Subscription,
        subscriber: Subscriber,
    ) -> None:
        self.shared, self.state, self.grant, self.asked = shared, state, grant, asked
        self.subscriber = subscriber
        self.expired = False

    def pending(self) -> bytes:
        parts = []
        for block in self.subscriber.pending:
            if block is PING:
                parts.append(block)
                continue
            update = self.state.log.read(block)
            if update is not None and visible(self.state, self.grant, self.asked, update):
                parts.append(update.encoded)
        self.subscriber.pending.clear()
        return b"".join(parts)

    def expire(self) -> None:
        self.expired = True
        self.subscriber.notify()

    async def run(self, body: bytes, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        timer = None
        if self.grant.expires is not None:
            delay = max(0.0, self.grant.expires - time.time())
            timer = loop.call_later(delay, self.expire)
        gone = asyncio.ensure_future(disconnected(receive))
        gone.add_done_callback(lambda _: self.subscriber.notify())
        hub, subscriber = self.shared.hub, self.subscriber
        try:
            while True:
                if body:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                    hub.activity.events_sent += 1
                while not (subscriber.pending or subscriber.dropped or self.expired):
                    if gone.done() or hub.closing:
                        break
                    subscriber.wake = loop.create_future()
                    await subscriber.wake
                    subscriber.wake = None
                if gone.done():
                    return
                if hub.closing or subscriber.dropped or self.expired:
                    break
                body = self.pending()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()
            if timer is not None:
                timer.cancel()


async def disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


endpoint = MercureHub()
