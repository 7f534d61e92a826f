"""What `serve --exec`, `--stdin`, `--exec-per-client` and their options ask for, checked
before `serve` binds (a bad one is exit status 2 naming the flag). Stdlib only.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass

from sse_cli.errors import UsageError

TOPIC = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # as /subscribe's ?topic= allows
LINE_FORMATS = ("text", "json")


@dataclass(frozen=True)
class RelaySettings:
    command: tuple[str, ...] = ()  # --exec, split with shell rules
    stdin: bool = False
    topic: str | None = None  # --exec-topic; None: exec, or stdin
    restart: bool = False
    lines: str = "text"  # or "json": each line an event in listen -f json's form
    flush_after: float = 0.2  # seconds a partial line waits before it is sent
    per_client: tuple[str, ...] = ()  # --exec-per-client, split with shell rules

    @property
    def shared(self) -> bool:
        """A relay shared by every client runs: --exec or --stdin."""
        return bool(self.command) or self.stdin

    @property
    def topic_name(self) -> str:
        return self.topic or ("exec" if self.command else "stdin")


def command_of(flag: str, line: str | None) -> tuple[str, ...]:
    """`line` split with shell rules (no shell runs it); UsageError if it names no program
    this machine can run."""
    if line is None:
        return ()
    try:
        argv = tuple(shlex.split(line))
    except ValueError as exc:
        raise UsageError(f"{flag} {line!r}: {exc}", "quote as a shell would") from None
    if not argv:
        raise UsageError(f"{flag} needs a command", f"e.g. {flag} 'tail -F app.log'")
    if shutil.which(argv[0]) is None:
        raise UsageError(
            f"{flag}: {argv[0]!r} is not a program this machine can run",
            "give a program on PATH or a path to one; for a pipeline, use sh -c '...'",
        )
    return argv


def relay_settings(
    command: str | None,
    stdin: bool,
    topic: str | None,
    restart: bool,
    lines: str | None,
    flush_after: float | None,
    per_client: str | None,
    workers: int = 1,
) -> RelaySettings | None:
    """The relay options checked; None when no relay is asked for. A relay option given
    without the relay it shapes is refused, not ignored."""
    if command is not None and stdin:
        raise UsageError("--exec and --stdin both publish: give one", "run two serves")
    if (command is not None or stdin) and workers > 1:
        raise UsageError(
            f"--{'exec' if command is not None else 'stdin'} runs in one process, not in "
            f"each of --workers {workers}",
            "use --workers 1; with --broker, other serve processes reach its subscribers",
        )
    if restart and command is None:
        raise UsageError("--exec-restart needs --exec", "add --exec 'CMD'")
    shared = command is not None or stdin
    for flag, given in (("--exec-topic", topic is not None), ("--lines", lines is not None)):
        if given and not shared:
            raise UsageError(f"{flag} needs --exec or --stdin", "add --exec 'CMD' or --stdin")
    if flush_after is not None and not (shared or per_client is not None):
        raise UsageError(
            "--flush-after needs --exec, --stdin or --exec-per-client", "add one of them"
        )
    if topic is not None and not TOPIC.fullmatch(topic):
        raise UsageError(f"--exec-topic {topic!r}: a topic is 1 to 64 letters, digits or . _ : -")
    if lines is not None and lines not in LINE_FORMATS:
        raise UsageError(f"--lines {lines!r}: use text or json")
    settings = RelaySettings(
        command=command_of("--exec", command),
        stdin=stdin,
        topic=topic,
        restart=restart,
        lines=lines or RelaySettings.lines,
        flush_after=RelaySettings.flush_after if flush_after is None else flush_after,
        per_client=command_of("--exec-per-client", per_client),
    )
    return settings if settings.shared or settings.per_client else None


def public_warnings(settings: RelaySettings | None, host: str) -> list[str]:
    """Banner lines for a relay on every interface: anyone who can connect reads it."""
    if settings is None or host not in ("0.0.0.0", "::", ""):
        return []
    lines = []
    if settings.shared:
        what = "standard input" if settings.stdin else "the --exec command's output"
        lines.append(f"sse-cli: warning: {what} is public: anyone who can connect reads it")
    if settings.per_client:
        lines.append("sse-cli: warning: anyone who can connect starts a --exec-per-client process")
    return lines
