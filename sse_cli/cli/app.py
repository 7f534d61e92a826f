"""The Typer app of `sse-cli`, and every expected ending mapped to its exit status.

Checks on values live in `sse_cli.request` and raise `UsageError`; an option's callback only
converts that into Typer's `BadParameter` (`checked`). Expected failures (`SseCliError`, a
closed pipe, Ctrl-C) become one line on stderr and a documented exit status, here and
nowhere else. aiohttp, fastapi and uvicorn are imported only inside the command that needs
them, so `--help`, `--version` and shell completion start fast.
"""

# No `from __future__ import annotations` in this package: Typer reads every parameter's
# annotation at each start, and evaluating the annotation strings costs more than building
# them once.
import os
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from sse_cli import __version__
from sse_cli.errors import ExitCode, SseCliError, UsageError

if TYPE_CHECKING:
    from sse_cli.render import Messages

__all__ = ["Command", "app", "checked", "fail", "main", "run_async", "run_cli"]

ROOT_EPILOG = """\
\b
Examples:
  sse-cli demo
  sse-cli serve
  sse-cli listen http://127.0.0.1:8000/ -n 10
  sse-cli listen http://127.0.0.1:8000/counter | jq -c .
  sse-cli listen http://127.0.0.1:8000/sse --json '{"message": "hello"}' -f text
  sse-cli listen URL -H "Authorization: Bearer $TOKEN" -f text
"""


class Command(typer.core.TyperCommand):
    """A command whose usage line names its arguments plainly (`URL`, not Typer's `{URL}`)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p[:1] == "{" and p[-1:] == "}" else p for p in pieces]


app = typer.Typer(
    name="sse-cli",
    help="Listen to and serve Server-Sent Events (text/event-stream).",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=ROOT_EPILOG,
)

T = TypeVar("T")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sse-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
    traceback: Annotated[
        bool,
        typer.Option(
            "--traceback",
            help="Show the Python stack on an unexpected error (also SSE_CLI_TRACEBACK=1).",
        ),
    ] = False,
) -> None:
    """Listen to and serve Server-Sent Events (text/event-stream)."""
    if traceback:
        os.environ["SSE_CLI_TRACEBACK"] = "1"


def checked(check: Callable[[T], T]) -> Callable[[T], T]:
    """An option callback from a `sse_cli.request` check: its `UsageError` becomes Typer's
    `BadParameter`, so the message names the option."""

    def callback(value: T) -> T:
        try:
            return check(value)
        except UsageError as exc:
            raise typer.BadParameter(exc.message) from None

    return callback


def fail(exc: SseCliError, messages: "Messages | None" = None) -> NoReturn:
    """An expected failure: one line on stderr, then its exit status."""
    if messages is None:
        from sse_cli.render import Messages

        messages = Messages()
    messages.error(str(exc))
    raise typer.Exit(exc.exit_code)


def run_async(main: Coroutine[Any, Any, None], messages: "Messages") -> None:
    """Run `main` on a new event loop; map every expected ending to its exit status.

    Ctrl-C cancels the main task (on 3.10 as on 3.11+), so output ends on a whole line.
    """
    import asyncio
    import signal

    loop = asyncio.new_event_loop()
    task = loop.create_task(main)
    interrupted = False

    def on_interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
        pass
    code = ExitCode.OK
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        code = ExitCode.INTERRUPTED if interrupted else ExitCode.ERROR
        if interrupted:
            messages.note("interrupted")
    except SseCliError as exc:
        messages.error(str(exc))
        code = exc.exit_code
    except BrokenPipeError:
        _silence_stdout()
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
    if code:
        raise typer.Exit(code)


def _silence_stdout() -> None:
    """The reader of stdout went away: point stdout at devnull so shutdown does not fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: list[str] | None = None) -> NoReturn:
    """The console script: run the CLI and exit with its status."""
    sys.exit(run_cli(argv))


def run_cli(argv: list[str] | None = None) -> int:
    """Run the CLI with `argv`; return its exit status (the one place that maps endings)."""
    from typer._click.exceptions import ClickException, NoArgsIsHelpError

    command = typer.main.get_command(app)
    try:
        args = _take_traceback(sys.argv[1:] if argv is None else argv)
        result = command.main(args=args, prog_name="sse-cli", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        # Bare `sse-cli`: the formatted help, as --help prints it, not a usage error.
        typer.echo(exc.ctx.get_help())
        return ExitCode.OK
    except ClickException as exc:
        _stderr_line(f"sse-cli: error: {_usage_message(exc, args)}")
        return ExitCode.USAGE
    except typer.Abort:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return ExitCode.OK
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception as exc:
        if os.environ.get("SSE_CLI_TRACEBACK"):
            raise
        _stderr_line(
            f"sse-cli: error: unexpected {type(exc).__name__}: {exc} "
            "(this is a bug: rerun with --traceback and report it)"
        )
        return ExitCode.ERROR
    return result if isinstance(result, int) else ExitCode.OK


def _take_traceback(argv: list[str]) -> list[str]:
    """`--traceback` anywhere before `--` (after the command too, where the bug message's
    advice leads): set it for the run, and pass the rest on."""
    end = argv.index("--") if "--" in argv else len(argv)
    if "--traceback" not in argv[:end]:
        return argv
    os.environ["SSE_CLI_TRACEBACK"] = "1"
    return [a for a in argv[:end] if a != "--traceback"] + argv[end:]


def _stderr_line(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _usage_message(exc: Any, args: list[str]) -> str:
    """Click's usage error as one line, with where to look for help: the command's own help
    when the error names no context (an option missing its value) but a command was given."""
    message = " ".join(str(exc.format_message()).split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        where = ctx.command_path
    else:
        given = next((a for a in args if not a.startswith("-")), None)
        commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
        where = f"sse-cli {given}" if given in commands else "sse-cli"
    return f"{message} (see '{where} --help')"
