"""JWT access tokens for `serve`: where a request carries one, what it grants, and the
RFC 6750 answer when it grants too little.

Both Mercure dialects' tokens: draft-08's `authorization_details` entries and the legacy
`mercure` claim. Verified with PyJWT against --jwt-key, with an allow-list of algorithms
that never holds `none` and never takes a key from the token. jwt is imported only in
`verify`, so `serve` without --jwt-key never loads it.
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from sse_cli.serve.mercure.matching import Matcher, Selector, legacy

DETAIL_TYPE = "https://mercure.rocks/authorization-detail"
COOKIES = ("__Secure-mercure_access_token", "mercureAuthorization")
SECRET_ALGORITHMS = ("HS256", "HS384", "HS512")
PUBLIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
PUBLIC_ALGORITHMS_MORE = ("ES512", "EdDSA")


@dataclass(frozen=True)
class JwtSettings:
    """--jwt-key, --jwt-issuer, --jwt-audience; `generated`: a key made for this run."""

    key: str  # an HS256 secret, or a PEM public key
    issuer: str | None = None
    audience: str | None = None
    generated: bool = False

    @property
    def public(self) -> bool:
        return self.key.lstrip().startswith("-----BEGIN")

    @property
    def algorithms(self) -> list[str]:
        if self.public:
            return [*PUBLIC_ALGORITHMS, *PUBLIC_ALGORITHMS_MORE]
        return list(SECRET_ALGORITHMS)


def random_settings() -> JwtSettings:
    """A key for this run only: `serve` bound off loopback with no --jwt-key."""
    return JwtSettings(secrets.token_urlsafe(32), generated=True)


class AuthError(Exception):
    """401 invalid_token (or no token), or 403 insufficient_scope, with RFC 6750's header."""

    def __init__(self, status: int, description: str, code: str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.code = code or ("invalid_token" if status == 401 else "insufficient_scope")

    @property
    def headers(self) -> dict[str, str]:
        safe = self.description.replace('"', "'")
        value = f'Bearer error="{self.code}", error_description="{safe}"'
        return {"WWW-Authenticate": value}


@dataclass(frozen=True)
class Grant:
    """What one request may do; `anonymous` when it carried no token."""

    publish: tuple[Selector, ...] = ()
    subscribe: tuple[Selector, ...] = ()
    expires: float | None = None
    anonymous: bool = True
    claims: dict[str, Any] = field(default_factory=dict)

    def may(self, matcher: Matcher, action: str, topics: tuple[str, ...]) -> bool:
        """Whether every topic is granted for `action` (publish or subscribe)."""
        granted = self.publish if action == "publish" else self.subscribe
        return all(any(matcher.matches(t, s) for s in granted) for t in topics)


OPEN = Grant((Selector("all", "*"),), (Selector("all", "*"),), anonymous=False)
"""No --jwt-key on loopback: everything is allowed, as before tokens."""


def token_of(scope: Mapping[str, Any]) -> str | None:
    """The token a request carries: `Authorization: Bearer`, else a Mercure cookie, else
    the legacy `authorization` query parameter."""
    cookie = ""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return str(token.strip())
        elif name == b"cookie":
            cookie = value.decode("latin-1")
    if cookie:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(cookie)
        except CookieError:
            pass
        for name in COOKIES:
            if name in jar and jar[name].value:
                return str(jar[name].value)
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    found = query.get("authorization", [""])[-1]
    return found or None


def verify(token: str, settings: JwtSettings) -> Grant:
    """The grant of a valid token; AuthError(401) for any other.

    A legacy token (a `mercure` claim, no `authorization_details`) that carries no `iss` or
    no `aud` is accepted, as legacy hubs and Symfony's publishers expect; one that carries
    a wrong one is refused. A draft-08 token must carry both when they are configured."""
    import jwt

    try:
        with warnings.catch_warnings():  # a short secret is the operator's choice, told once
            warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
            # Unverified, only to learn the dialect and which claims are present; the
            # signature is checked below before anything is trusted.
            peek = jwt.decode(token, options={"verify_signature": False})
            legacy = "authorization_details" not in peek
            if not legacy:
                check_access_token_type(jwt.get_unverified_header(token))
            issuer = None if legacy and "iss" not in peek else settings.issuer
            audience = None if legacy and "aud" not in peek else settings.audience
            claims = jwt.decode(
                token,
                settings.key,
                algorithms=settings.algorithms,
                issuer=issuer,
                audience=audience,
                options={"verify_aud": audience is not None},
            )
    except jwt.ExpiredSignatureError:
        raise AuthError(401, "the token has expired") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(401, f"the token is not valid: {exc}") from None
    return grant_of(claims)


def check_access_token_type(header: dict[str, Any]) -> None:
    """A draft-08 token is an RFC 9068 access token: its header says `typ: at+jwt` (the
    media type's long form, `application/at+jwt`, is accepted too, as RFC 9068 allows)."""
    typ = str(header.get("typ", "")).lower()
    if typ not in ("at+jwt", "application/at+jwt"):
        shown = f"'{header['typ']}'" if "typ" in header else "none"
        raise AuthError(
            401,
            f"the token is not valid: an access token with authorization_details must have "
            f"the header typ: at+jwt, not {shown} (RFC 9068)",
        )


def grant_of(claims: dict[str, Any]) -> Grant:
    """Read both dialects' claims: `authorization_details` and the legacy `mercure`."""
    publish: list[Selector] = []
    subscribe: list[Selector] = []
    details = claims.get("authorization_details")
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict) or detail.get("type") != DETAIL_TYPE:
            continue
        actions = detail.get("actions") or []
        found = [draft_selector(t) for t in detail.get("topics") or [] if isinstance(t, dict)]
        if "publish" in actions:
            publish += found
        if "subscribe" in actions:
            subscribe += found
    mercure = claims.get("mercure")
    if isinstance(mercure, dict):
        publish += [legacy(t) for t in mercure.get("publish") or [] if isinstance(t, str)]
        subscribe += [legacy(t) for t in mercure.get("subscribe") or [] if isinstance(t, str)]
    expires = claims.get("exp")
    return Grant(
        tuple(publish),
        tuple(subscribe),
        float(expires) if isinstance(expires, (int, float)) else None,
        anonymous=False,
        claims=claims,
    )


def draft_selector(topic: dict[str, Any]) -> Selector:
    match = str(topic.get("match", ""))
    if match == "*":
        return Selector("all", match)
    return Selector("urlpattern" if topic.get("match_type") == "urlpattern" else "exact", match)


def grant_for(scope: Mapping[str, Any], settings: JwtSettings | None) -> Grant:
    """The request's grant: OPEN with no key; anonymous without a token; else verified."""
    if settings is None:
        return OPEN
    token = token_of(scope)
    return Grant() if token is None else verify(token, settings)


def load_settings(key: str | None, issuer: str | None, audience: str | None, host: str) -> (
    JwtSettings | None
):  # fmt: skip
    """--jwt-key (a secret, or @FILE with a PEM public key) and its claims; with no key, a
    random one for the run when bound off loopback, else None (everything open)."""
    from sse_cli.errors import UsageError
    from sse_cli.serve.settings import is_loopback

    if key is None:
        if issuer is not None or audience is not None:
            raise UsageError("--jwt-issuer and --jwt-audience need --jwt-key")
        return None if is_loopback(host) else random_settings()
    if key.startswith("@"):
        try:
            with open(key[1:], encoding="utf-8") as file:
                key = file.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--jwt-key: cannot read {key[1:]}: {exc}") from None
        if "-----BEGIN" not in key:
            raise UsageError(f"--jwt-key: {key[1:]} holds no PEM key")
    if not key:
        raise UsageError("--jwt-key must not be empty")
    return JwtSettings(key, issuer, audience)


def mint(
    settings: JwtSettings, publish: tuple[str, ...], subscribe: tuple[str, ...], ttl: float
) -> str:
    """A legacy-claim HS256 token signed with the run's secret (the banner's token)."""
    import time

    import jwt

    claims: dict[str, Any] = {
        "mercure": {"publish": list(publish), "subscribe": list(subscribe)},
        "exp": int(time.time() + ttl),
    }
    if settings.issuer:
        claims["iss"] = settings.issuer
    if settings.audience:
        claims["aud"] = settings.audience
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, settings.key, algorithm="HS256")


def banner_lines(settings: JwtSettings | None) -> list[str]:
    """With a key made for this run: a publisher token a person can paste."""
    if settings is None or not settings.generated:
        return []
    token = mint(settings, ("*",), ("*",), 24 * 3600)
    return [
        "sse-cli: no --jwt-key and not on loopback: publishing, subscribing to the hub's "
        "private updates and the relay need this token for the next 24 hours:",
        f"  Authorization: Bearer {token}",
    ]


def refusal(
    scope: Mapping[str, Any],
    settings: JwtSettings | None,
    action: str,
    topic: str,
    guarded: bool = True,
) -> AuthError | None:
    """Why a /publish, /subscribe or /exec request may not `action` on `topic`, or None.
    `guarded` False lets it in without a token (a /subscribe to a topic that is not the
    relay's when the key was made for the run); a token given is still checked."""
    if settings is None or (not guarded and token_of(scope) is None):
        return None
    try:
        grant = grant_for(scope, settings)
    except AuthError as exc:
        return exc
    if grant.anonymous:
        return AuthError(401, f"{action} on {topic} needs a token", code="invalid_request")
    from sse_cli.serve.mercure.matching import Matcher

    if not grant.may(Matcher(), action, (topic,)):
        return AuthError(403, f"the token does not grant {action} on {topic}")
    return None
