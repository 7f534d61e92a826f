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
from sse_cli.env import Environment
from sse_cli.errors import ExitCode, SseCliError, UsageError

if TYPE_CHECKING:
    from sse_cli.render import Messages

__all__ = [
    "Command",
    "Group",
    "app",
    "checked",
    "environment",
    "fail",
    "main",
    "run_async",
    "run_cli",
]

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


def environment(ctx: typer.Context) -> Environment:
    """The environment `run_cli` was given (the process's own when the app runs otherwise)."""
    env = ctx.obj
    return env if isinstance(env, Environment) else Environment.from_sys()


def _print_help(ctx: Any, param: Any, value: bool) -> None:
    """`--help`: the help on the run's stdout, as Click prints it on the process's."""
    if value and not ctx.resilient_parsing:
        out = environment(ctx).text_stdout
        out.write(ctx.get_help() + "\n")
        out.flush()
        raise typer.Exit()


class Command(typer.core.TyperCommand):
    """A command whose usage line names its arguments plainly (`URL`, not Typer's `{URL}`),
    and whose help goes to the run's stdout."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p[:1] == "{" and p[-1:] == "}" else p for p in pieces]

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.callback = _print_help
        return option


class Group(typer.core.TyperGroup):
    """The root command: its help goes to the run's stdout."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.callback = _print_help
        return option


app = typer.Typer(
    name="sse-cli",
    cls=Group,
    help="Listen to and serve Server-Sent Events (text/event-stream).",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=ROOT_EPILOG,
)

T = TypeVar("T")

#: The environment variable that asks for shell completion instead of a run (Typer's name).
COMPLETE_VAR = "_SSE_CLI_COMPLETE"


def _version(ctx: typer.Context, value: bool) -> None:
    """`--version`: the version, and which decoder runs (C, or Python without a compiler or
    with SSE_CLI_PURE_PYTHON=1), so a user can tell which one a report is about."""
    if value:
        from sse_cli.speedups import chosen

        env = environment(ctx)
        decoder = "Python" if chosen(env.environ) is None else "C"
        env.text_stdout.write(f"sse-cli {__version__} (decoder: {decoder})\n")
        env.text_stdout.flush()
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the version and the decoder in use (C or Python), and exit.",
            callback=_version,
            is_eager=True,
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
    # `--traceback` is declared here for --help; `run_cli` takes it out of argv wherever it
    # stands, so it never reaches this callback.


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
    """An expected failure: one line on stderr (`messages`', or the process's), then its
    exit status."""
    if messages is None:
        from sse_cli.render import Messages

        messages = Messages()
    messages.error(str(exc))
    raise typer.Exit(exc.exit_code)


def run_async(
    main: Coroutine[Any, Any, None], messages: "Messages", env: Environment | None = None
) -> None:
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
        _silence_stdout(env or Environment.from_sys())
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
    if code:
        raise typer.Exit(code)


def _silence_stdout(env: Environment) -> None:
    """The reader of stdout went away: point stdout at devnull so shutdown does not fail."""
    try:
        fd = env.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return  # not a file: nothing flushes to it at shutdown
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: list[str] | None = None) -> NoReturn:
    """The console script: run the CLI on this process's streams and exit with its status."""
    sys.exit(run_cli(sys.argv[1:] if argv is None else argv, Environment.from_sys()))


def run_cli(argv: list[str] | None = None, env: Environment | None = None) -> int:
    """Run the CLI with `argv` on `env`'s streams (the process's by default); return its exit
    status (the one place that maps endings)."""
    from typer._click.exceptions import ClickException, NoArgsIsHelpError

    if env is None:
        env = Environment.from_sys()
    args, show_stack = _take_traceback(sys.argv[1:] if argv is None else argv)
    show_stack = show_stack or bool(env.environ.get("SSE_CLI_TRACEBACK"))
    command = _command()
    if os.environ.get(COMPLETE_VAR):
        return _complete(command, args, env)
    try:
        result = command.main(
            args=args,
            prog_name="sse-cli",
            standalone_mode=False,
            obj=env,
            terminal_width=env.help_width(),
        )
    except NoArgsIsHelpError as exc:
        # Bare `sse-cli`: the formatted help, as --help prints it, not a usage error.
        env.text_stdout.write(exc.ctx.get_help() + "\n")
        env.text_stdout.flush()
        return ExitCode.OK
    except ClickException as exc:
        _stderr_line(env, f"sse-cli: error: {_usage_message(exc, args)}")
        return ExitCode.USAGE
    except typer.Abort:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout(env)
        return ExitCode.OK
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception as exc:
        if show_stack:
            raise
        _stderr_line(
            env,
            f"sse-cli: error: unexpected {type(exc).__name__}: {exc} "
            "(this is a bug: rerun with --traceback and report it)",
        )
        return ExitCode.ERROR
    return result if isinstance(result, int) else ExitCode.OK


def _complete(command: Any, args: list[str], env: Environment) -> int:
    """A TAB press: Typer's completion, which reads the instruction and the words from the
    process's environment, prints the candidates on the run's stdout and ends in a status
    (its `sys.exit`, caught)."""
    import contextlib

    with contextlib.redirect_stdout(env.text_stdout), contextlib.redirect_stderr(env.stderr):
        try:
            command.main(args=args, prog_name="sse-cli", standalone_mode=False, obj=env)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else ExitCode.ERROR
    return ExitCode.OK


def _command() -> Any:
    """The Click command of `app`, its completion options writing to the run's streams."""
    command = typer.main.get_command(app)
    for param in command.params:
        if param.name in ("install_completion", "show_completion") and param.callback:
            param.callback = _on_run_streams(param.callback)
    return command


def _on_run_streams(callback: Callable[..., Any]) -> Callable[..., Any]:
    """A callback of Typer's that prints with Click's `echo` and ends with `sys.exit`: its
    output on the run's streams, its ending an exit status."""
    import contextlib

    def run(ctx: typer.Context, param: Any, value: Any) -> Any:
        env = environment(ctx)
        with contextlib.redirect_stdout(env.text_stdout), contextlib.redirect_stderr(env.stderr):
            try:
                return callback(ctx, param, value)
            except SystemExit as exc:
                raise typer.Exit(
                    exc.code if isinstance(exc.code, int) else ExitCode.ERROR
                ) from None

    return run


def _take_traceback(argv: list[str]) -> tuple[list[str], bool]:
    """`--traceback` anywhere before `--` (after the command too, where the bug message's
    advice leads): whether it was given, and the rest to pass on."""
    end = argv.index("--") if "--" in argv else len(argv)
    if "--traceback" not in argv[:end]:
        return argv, False
    return [a for a in argv[:end] if a != "--traceback"] + argv[end:], True


def _stderr_line(env: Environment, text: str) -> None:
    try:
        env.stderr.write(text + "\n")
        env.stderr.flush()
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
