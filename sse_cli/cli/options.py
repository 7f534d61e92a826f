"""Option declarations that more than one command shares: the output format, and the request
flags of `listen` (and of any command that sends the same request, with the same errors).

Declarations only: each check is a `sse_cli.request` function, wrapped by `checked`.
"""

from pathlib import Path
from typing import Annotated

import typer

from sse_cli.checks import check_choice, check_count, check_seconds
from sse_cli.cli.app import checked


def _format(value: str | None) -> str | None:
    from sse_cli.render import FORMATS

    return check_choice(value, FORMATS)


Seconds = checked(check_seconds)
Count = checked(check_count)

FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        help="Write events as pretty, json, data, raw or text (default: pretty on a "
        "terminal, json otherwise).",
        callback=checked(_format),
    ),
]
UrlArgument = Annotated[
    str,
    typer.Argument(
        help="The event stream's http:// or https:// URL; short forms as in HTTPie: "
        ":8000/x is http://localhost:8000/x, localhost:8000/x is http://localhost:8000/x.",
        metavar="URL",
    ),
]
MethodOption = Annotated[
    str | None,
    typer.Option(
        "--method",
        "-X",
        metavar="METHOD",
        help="Send this HTTP method (default: GET, or POST with a body).",
    ),
]
DataOption = Annotated[
    str | None,
    typer.Option(
        "--data",
        "-d",
        metavar="BODY",
        help="Send this body (@file reads a file, @- standard input); implies POST. "
        "Content-Type defaults to application/x-www-form-urlencoded, as in curl.",
    ),
]
JsonOption = Annotated[
    str | None,
    typer.Option(
        "--json",
        metavar="JSON",
        help="Send this JSON body (@file, @-) with Content-Type: application/json; "
        "implies POST. Checked before connecting.",
    ),
]
HeaderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--header",
        "-H",
        metavar="'NAME: VALUE'",
        help="Add a header 'Name: value' (repeatable; 'Name:' removes a default one).",
    ),
]
LastEventIdOption = Annotated[
    str | None,
    typer.Option(
        "--last-event-id", metavar="ID", help="Send this Last-Event-ID on the first request."
    ),
]
ReconnectOption = Annotated[
    bool | None,
    typer.Option(
        "--reconnect/--no-reconnect",
        help="Force reconnecting on or off (default: on for GET; for POST and other "
        "methods only once the server has sent an event id).",
        show_default=False,
    ),
]
MaxRetriesOption = Annotated[
    int | None,
    typer.Option(
        "--max-retries",
        metavar="N",
        help="Retry at most N times after a failed attempt, as curl's --retry N; a stream "
        "that runs starts the count again (default: no limit). Also retries a refused "
        "connection.",
        callback=Count,
    ),
]
ConnectTimeoutOption = Annotated[
    float,
    typer.Option(
        "--connect-timeout",
        metavar="SECONDS",
        help="Fail a connection attempt after this many seconds (default: 30).",
        callback=Seconds,
        show_default=False,
    ),
]
IdleTimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--idle-timeout",
        metavar="SECONDS",
        help="Count the connection as dropped after this many seconds without any byte "
        "(default: never).",
        callback=Seconds,
    ),
]
InsecureOption = Annotated[
    bool,
    typer.Option("--insecure", "-k", help="Skip TLS certificate verification (unsafe)."),
]
CacertOption = Annotated[
    Path | None,
    typer.Option(
        "--cacert", metavar="FILE", help="Verify TLS with the CA certificates in this PEM file."
    ),
]
MaxEventSizeOption = Annotated[
    str,
    typer.Option(
        "--max-event-size",
        metavar="SIZE",
        help="Fail when one line or event grows past this size (e.g. 512K, 64M; default: 16M).",
        show_default=False,
    ),
]


# serve's access tokens (the Mercure hub, /publish, /subscribe, /exec)
JwtKeyOption = Annotated[
    str | None,
    typer.Option(
        "--jwt-key",
        metavar="KEY",
        help="Check access tokens against KEY, an HS256 secret or @FILE with a PEM public "
        "key (default: open on loopback, a random key for the run elsewhere).",
        show_default=False,
    ),
]
JwtIssuerOption = Annotated[
    str | None,
    typer.Option(
        "--jwt-issuer",
        metavar="ISS",
        help="Require this iss claim (default: any).",
        show_default=False,
    ),
]
JwtAudienceOption = Annotated[
    str | None,
    typer.Option(
        "--jwt-audience",
        metavar="AUD",
        help="Require this aud claim (default: any).",
        show_default=False,
    ),
]
