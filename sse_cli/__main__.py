"""The `sse-cli` console script, and `python -m sse_cli`: tune the process, then run the CLI."""

from typing import NoReturn


def main() -> NoReturn:
    from sse_cli import process

    process.start()
    from sse_cli.cli import main as run

    run()


if __name__ == "__main__":
    main()
