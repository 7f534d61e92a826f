"""`sse-cli token`: mint an access token for a Mercure hub or `serve --jwt-key`, or check one
and say what it lacks."""

from typing import TYPE_CHECKING, Annotated

import typer

from sse_cli.cli.app import app, environment, fail
from sse_cli.env import Environment
from sse_cli.errors import ExitCode, SseCliError, UsageError

if TYPE_CHECKING:
    from sse_cli.tokens import TokenRequest

TOKEN_EPILOG = """\
\b
Examples:
  sse-cli token --key SECRET --publish '*' --subscribe 'https://example.com/books/{id}'
  sse-cli token --key SECRET --subscribe '*' --legacy --ttl 7d
  sse-cli token --key SECRET --check "$TOKEN" --publish https://example.com/books/1
"""


@app.command(epilog=TOKEN_EPILOG)
def token(
    ctx: typer.Context,
    key: Annotated[
        str,
        typer.Option(
            "--key",
            metavar="KEY",
            help="Sign or check with KEY, an HS256 secret or @FILE with a PEM key (required).",
            show_default=False,
        ),
    ],
    publish: Annotated[
        list[str] | None,
        typer.Option(
            "--publish",
            metavar="TOPIC",
            help="Grant publishing on TOPIC (repeatable; * for any).",
            show_default=False,
        ),
    ] = None,
    subscribe: Annotated[
        list[str] | None,
        typer.Option(
            "--subscribe",
            metavar="SELECTOR",
            help="Grant subscribing to SELECTOR (repeatable; * for any).",
            show_default=False,
        ),
    ] = None,
    issuer: Annotated[
        str | None,
        typer.Option(
            "--issuer", metavar="ISS", help="Set the iss claim (default: none).", show_default=False
        ),
    ] = None,
    audience: Annotated[
        str | None,
        typer.Option(
            "--audience",
            metavar="AUD",
            help="Set the aud claim (default: none).",
            show_default=False,
        ),
    ] = None,
    ttl: Annotated[
        str,
        typer.Option(
            "--ttl",
            metavar="DURATION",
            help="Expire after this long, as 90s, 30m, 1h or 7d (default: 1h).",
            show_default=False,
        ),
    ] = "1h",
    legacy: Annotated[
        bool,
        typer.Option(
            "--legacy", help="Write the legacy mercure claim, not draft-08's authorization_details."
        ),
    ] = False,
    algorithm: Annotated[
        str,
        typer.Option(
            "--alg",
            metavar="ALG",
            help="Sign with ALG (default: HS256; RS256, ES256 or EdDSA with a PEM private key).",
            show_default=False,
        ),
    ] = "HS256",
    check: Annotated[
        str | None,
        typer.Option(
            "--check",
            metavar="TOKEN",
            help="Check TOKEN instead: print its grant, or what it lacks and exit 4.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Mint an access token for a Mercure hub, or check one.

    The token goes to stdout; with --check, its grant or what it lacks.
    """
    from sse_cli.tokens import TokenRequest

    request = TokenRequest(
        key=key,
        publish=publish or [],
        subscribe=subscribe or [],
        issuer=issuer,
        audience=audience,
        ttl=ttl,
        legacy=legacy,
        algorithm=algorithm,
        check=check,
    )
    start(request, environment(ctx))


def start(request: "TokenRequest", env: Environment) -> None:
    """Mint or check on `env`'s streams; an expected failure is one line and its status."""
    from sse_cli.render import Messages

    try:
        mint_or_check(request, env)
    except SseCliError as exc:
        fail(exc, Messages(env.stderr))


def mint_or_check(request: "TokenRequest", env: Environment) -> None:
    secret = read_key(request.key)
    if request.check is not None:
        shown = check_token(request.check, secret, request.issuer, request.audience,
                            request.publish, request.subscribe)  # fmt: skip
        _line(env, shown)
        return
    from sse_cli.tokens import claims_for, mint, parse_ttl

    claims = claims_for(request.publish, request.subscribe, request.issuer, request.audience,
                        parse_ttl(request.ttl), request.legacy)  # fmt: skip
    _line(env, mint(secret, claims, request.legacy, request.algorithm))


def _line(env: Environment, text: str) -> None:
    """One line of data on the run's stdout."""
    env.text_stdout.write(text + "\n")
    env.text_stdout.flush()


def read_key(key: str) -> str:
    if not key.startswith("@"):
        return key
    try:
        with open(key[1:], encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--key: cannot read {key[1:]}: {exc}") from None


class TokenRefusedError(SseCliError):
    """A token the hub would refuse (401 or 403): exit 4, as its answer would be."""

    exit_code = ExitCode.HTTP_4XX


def check_token(
    token: str, key: str, issuer: str | None, audience: str | None,
    publish: list[str], subscribe: list[str],
) -> str:  # fmt: skip
    """The grant of a token that grants what is asked, as a JSON line; else TokenRefusedError."""
    import json

    from sse_cli.serve.auth import AuthError, JwtSettings, verify
    from sse_cli.serve.mercure.matching import Matcher

    try:
        grant = verify(token, JwtSettings(key, issuer, audience))
    except AuthError as exc:
        raise TokenRefusedError(f"401: {exc.description}") from None
    matcher = Matcher()
    lacks = [f"publish on {t}" for t in publish if not grant.may(matcher, "publish", (t,))]
    lacks += [f"subscribe on {t}" for t in subscribe if not grant.may(matcher, "subscribe", (t,))]
    if lacks:
        raise TokenRefusedError("403: the token does not grant " + ", ".join(lacks))
    shown = {
        "publish": [s.text for s in grant.publish],
        "subscribe": [s.text for s in grant.subscribe],
        "exp": grant.expires,
    }
    return json.dumps(shown)
