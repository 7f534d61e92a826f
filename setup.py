"""The one thing pyproject.toml cannot say without a warning: the optional C extension.

The C twins of the hot loops (sse_cli/_speedups.c): the decoder's per-line loop, about 4x
faster than its Python twin on small events (bench/RESULTS.md, "The decoder alone"), the
load tester's id check and its histogram recording. Optional: without a C compiler and
Python's headers the install goes on, and everything runs on the Python twins.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("sse_cli._speedups", sources=["sse_cli/_speedups.c"], optional=True),
    ],
)
