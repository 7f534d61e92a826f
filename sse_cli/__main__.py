"""`python -m sse_cli`."""

from sse_cli.cli import main

if __name__ == "__main__":
    main()
