"""The README documents every flag the CLI has, and no flag it does not have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from sse_cli.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def cli_flags(command: str) -> set[str]:
    group = typer.main.get_command(app)
    params = group.commands[command].params  # type: ignore[attr-defined]
    flags: set[str] = set()
    for param in params:
        flags.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
    return flags - {"--help"}


def section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n#", start + 1)
    return README[start : end if end != -1 else len(README)]


@pytest.mark.parametrize(
    ("command", "title"),
    [
        ("listen", "### Every `listen` flag"),
        ("bench", "### Every `bench` flag"),
        ("serve", "### Every `serve` flag"),
        ("doctor", "### Every `doctor` flag"),
    ],
)
def test_every_flag_is_documented_and_every_documented_flag_exists(
    command: str, title: str
) -> None:
    documented = set(re.findall(r"`(?:-\w, )?(--[a-z][a-z-]*)", section(title)))
    documented |= set(re.findall(r" / (--[a-z][a-z-]*)", section(title)))
    assert cli_flags(command) - documented == set(), "flags missing from README"
    assert documented - cli_flags(command) == set(), "README documents flags that do not exist"


def test_readme_starts_with_the_two_setup_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    assert "sse-cli demo" in blocks[0]
    assert "pytest" in blocks[1]
