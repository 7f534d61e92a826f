"""sse-cli's benchmark suite: `bench/run` (see bench/README.md). Not part of the package."""
