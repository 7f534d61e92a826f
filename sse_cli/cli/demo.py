"""`sse-cli demo`: start the demo server on a free loopback port and listen to it."""

import typer

from sse_cli.cli.app import Command, app, environment, fail, run_async
from sse_cli.cli.options import FormatOption
from sse_cli.env import Environment
from sse_cli.errors import SseCliError

DEMO_EPILOG = """\
\b
Examples:
  sse-cli demo
  sse-cli demo -f json | jq -r .data
"""


@app.command(cls=Command, epilog=DEMO_EPILOG)
def demo(
    ctx: typer.Context,
    output_format: FormatOption = None,
) -> None:
    """Start the demo server on a free loopback port and listen to it.

    See sse-cli at work; the stream ends by itself.
    """
    start(output_format=output_format, env=environment(ctx))


def start(output_format: str | None, env: Environment) -> None:
    """Run `sse-cli serve --port 0` as a child process and listen to its front page."""
    from sse_cli.cli.listen import session
    from sse_cli.launcher import running_server
    from sse_cli.render import Messages, RenderOptions
    from sse_cli.request import ListenOptions
    from sse_cli.session import Limits

    messages = Messages(env.stderr)
    render_options = RenderOptions(
        format=output_format or ("pretty" if env.stdout_isatty else "json"),
        status=env.stderr_isatty,
    )
    try:
        with running_server(name="the demo server", environ=env.environ) as base:
            url = f"{base}/"
            messages.note(f"demo server up; running: sse-cli listen {url} --no-reconnect")
            options = ListenOptions(url=url, reconnect=False)
            run_async(
                session(options, Limits(), render_options, messages, False, env=env), messages, env
            )
            messages.note(
                "next: run 'sse-cli serve' and, in another terminal, "
                "'sse-cli listen http://127.0.0.1:8000/counter'"
            )
    except SseCliError as exc:
        fail(exc, messages)
