"""sse-cli: listen to and serve Server-Sent Events. Importing the package imports nothing heavy."""

__version__ = "0.1.0"
