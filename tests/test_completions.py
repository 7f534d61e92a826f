"""The committed completion scripts are what the CLI generates, and they complete flags.

Completing runs the program at each TAB press: those tests run it as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import invoke

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "sse_cli", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=environment,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_committed_completion_script_is_current(
    shell: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Typer reads this from the process's environment: without it, it detects the shell
    # that runs the tests and ignores the one asked for.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = invoke("--show-completion", shell)
    assert result.status == 0, result.stderr
    committed = (ROOT / "completions" / f"sse-cli.{shell}").read_text()
    assert result.text == committed, f"completions/sse-cli.{shell} is stale: see completions/"


def test_bash_completion_lists_listen_flags() -> None:
    result = _cli(
        _SSE_CLI_COMPLETE="complete_bash", COMP_WORDS="sse-cli listen --form", COMP_CWORD="2"
    )
    assert result.stdout.split() == ["--format"]


def test_bash_completion_lists_commands() -> None:
    result = _cli(_SSE_CLI_COMPLETE="complete_bash", COMP_WORDS="sse-cli ", COMP_CWORD="1")
    assert {"listen", "bench", "serve", "demo"} <= set(result.stdout.split())
