"""Access tokens for a Mercure hub or `serve --jwt-key`: minted for testing, in either
dialect. jwt is imported only when a token is minted."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from sse_cli.errors import UsageError

DETAIL_TYPE = "https://mercure.rocks/authorization-detail"


@dataclass(frozen=True)
class TokenRequest:
    """What `sse-cli token` was asked: a token to mint, or one to `check`."""

    key: str
    publish: list[str]
    subscribe: list[str]
    issuer: str | None = None
    audience: str | None = None
    ttl: str = "1h"
    legacy: bool = False
    algorithm: str = "HS256"
    check: str | None = None


_TTL = re.compile(r"(\d{1,9})([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> int:
    """`90`, `90s`, `30m`, `1h`, `7d` as seconds; UsageError otherwise."""
    found = _TTL.fullmatch(text.strip())
    if found is None or int(found.group(1)) == 0:
        raise UsageError(f"--ttl: {text!r} is not a duration such as 90s, 30m, 1h or 7d")
    return int(found.group(1)) * _UNITS[found.group(2)]


def draft_topic(selector: str) -> dict[str, str]:
    """A draft-08 topic matcher: `*`, a URL pattern when it has `:name`, `*` or `{`, else
    exact."""
    if selector != "*" and ("/:" in selector or "*" in selector or "{" in selector):
        return {"match": selector, "match_type": "urlpattern"}
    return {"match": selector}


def claims_for(
    publish: list[str],
    subscribe: list[str],
    issuer: str | None,
    audience: str | None,
    ttl: int,
    legacy: bool,
) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"iat": now, "exp": now + ttl}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    if legacy:
        claims["mercure"] = {"publish": publish, "subscribe": subscribe}
        return claims
    details = []
    for action, topics in (("publish", publish), ("subscribe", subscribe)):
        if topics:
            matchers = [draft_topic(t) for t in topics]
            details.append({"type": DETAIL_TYPE, "actions": [action], "topics": matchers})
    claims["authorization_details"] = details
    return claims


def mint(key: str, claims: dict[str, Any], legacy: bool, algorithm: str = "HS256") -> str:
    import warnings

    import jwt

    headers = None if legacy else {"typ": "at+jwt"}
    try:
        with warnings.catch_warnings():  # a short test secret is the caller's choice
            warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
            return jwt.encode(claims, key, algorithm=algorithm, headers=headers)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise UsageError(f"--key: cannot sign with {algorithm}: {exc}") from None
