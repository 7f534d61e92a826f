"""The command line's help and entry (issue 18): every `--help` in one style, bare `sse-cli`
prints the help, and `--traceback` works before or after the command."""

from __future__ import annotations

import io
import os
import re

import pytest
import typer
from support.cli import environment, invoke
from typer.core import TyperOption

from sse_cli import cli
from sse_cli.cli import app

COMMANDS = [(), ("listen",), ("serve",), ("demo",), ("bench",)]
METAVAR = re.compile(r"[A-Z][A-Z_]*|'NAME: VALUE'")


def help_text(*command: str, columns: int = 80) -> str:
    result = invoke(*command, "--help", COLUMNS=str(columns))
    assert result.status == 0, result.stderr
    return result.stdout.decode()


def option_entries(text: str) -> list[str]:
    """Each option of the Options section as one line: its names, metavar and help."""
    section = text.split("\nOptions:\n", 1)[1].split("\n\n", 1)[0]
    entries: list[str] = []
    for line in section.splitlines():
        if re.match(r"  -", line):
            entries.append(line.strip())
        else:
            entries[-1] += " " + line.strip()
    return entries


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "sse-cli")
def test_every_help_states_metavars_and_defaults_in_one_style(command: tuple[str, ...]) -> None:
    text = help_text(*command)
    flat = " ".join(text.split())
    assert not re.search(r"<[a-z][a-z ]*>", text), "a <type> metavar"
    assert not re.search(r"\{[A-Z_]+\}", text), "a {ARG} in the usage line"
    # A default is stated once, in the help's own words: "(default: X)".
    assert "[default:" not in text
    assert not re.search(r"x ?[<>]=", text), "a range note"
    assert not re.search(r"\(default [^:]", flat), "'(default X)' where '(default: X)' is used"
    for entry in option_entries(text):
        assert entry.count("default") <= 1, entry


def test_every_option_that_takes_a_value_has_an_upper_case_metavar() -> None:
    root = typer.main.get_command(app)
    commands = {"sse-cli": root, **root.commands}  # type: ignore[attr-defined]
    for name, command in commands.items():
        for param in command.params:
            if isinstance(param, TyperOption) and not (param.is_flag or param.count):
                assert param.metavar and METAVAR.fullmatch(param.metavar), (name, param.opts)


def test_no_command_summary_is_cut_off() -> None:
    text = help_text(columns=80)
    summaries = text.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    expected = {"listen", "serve", "demo", "bench", "doctor", "token"}
    assert {line.split()[0] for line in summaries} == expected
    for line in summaries:
        assert not line.endswith("..."), line


def test_listen_help_lists_every_exit_status_including_strict() -> None:
    flat = " ".join(help_text("listen").split())
    statuses = flat.split("Exit statuses: ", 1)[1]
    for status in ("0 ok", "2 usage", "3 connection", "4 HTTP 4xx", "5 HTTP 5xx", "6 not an"):
        assert status in statuses
    assert re.search(r"7 over --max-event-size or, under --strict, a wire-format warning", flat)
    assert "130 interrupted" in statuses


def test_cors_origin_help_says_that_star_is_refused() -> None:
    entry = next(e for e in option_entries(help_text("serve")) if e.startswith("--cors-origin"))
    assert "'*' is refused" in entry


def test_verbose_states_no_default() -> None:
    entry = next(e for e in option_entries(help_text("listen")) if e.startswith("-v, --verbose"))
    assert "default" not in entry


# Entry: bare sse-cli, --traceback


def test_bare_sse_cli_prints_the_formatted_help() -> None:
    bare = invoke(COLUMNS="80")
    assert bare.status == 0
    assert bare.stderr == ""
    assert bare.stdout == invoke("--help", COLUMNS="80").stdout
    assert bare.stdout.startswith(b"Usage: sse-cli [OPTIONS] COMMAND [ARGS]...\n")


def test_traceback_is_accepted_after_the_command() -> None:
    # A refused port: the ordinary failure, not "No such option: --traceback".
    result = invoke("listen", "http://127.0.0.1:9/", "--traceback", "--no-reconnect")
    assert result.status == 3, result.stderr
    assert "could not connect" in result.stderr


def test_traceback_after_the_command_shows_the_stack_of_a_bug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def bug(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("sse_cli.cli.listen.start", bug)
    env = environment(environ={})
    assert cli.run_cli(["listen", "http://127.0.0.1:9/"], env) == 1
    assert isinstance(env.stderr, io.StringIO)
    assert "this is a bug: rerun with --traceback" in env.stderr.getvalue()
    with pytest.raises(RuntimeError, match="a bug"):
        cli.run_cli(["listen", "http://127.0.0.1:9/", "--traceback"], env)
    traceback_on = environment(environ={"SSE_CLI_TRACEBACK": "1"})
    with pytest.raises(RuntimeError, match="a bug"):
        cli.run_cli(["listen", "http://127.0.0.1:9/"], traceback_on)
    assert "SSE_CLI_TRACEBACK" not in os.environ  # --traceback is the run's, not the process's
