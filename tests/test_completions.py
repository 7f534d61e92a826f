"""The committed completion scripts are what the CLI generates, and they complete flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import invoke

ROOT = Path(__file__).resolve().parents[1]


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


def complete(words: str, cword: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What a TAB press offers in bash: Typer reads the words from the process's environment
    (test_startup runs a TAB press in a fresh process, for what it imports)."""
    monkeypatch.setenv("_SSE_CLI_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(cword))
    result = invoke()
    assert result.status == 0, result.stderr
    return result.text.split()


def test_bash_completion_lists_listen_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    assert complete("sse-cli listen --form", 2, monkeypatch) == ["--format"]


def test_bash_completion_lists_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"listen", "bench", "serve", "demo"} <= set(complete("sse-cli ", 1, monkeypatch))
