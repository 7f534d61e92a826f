"""What being an SSE client means, without any I/O: the one core every client transport uses.

`lines` turns bytes into lines, `decoder` lines into events, comments and diagnostics (WHATWG
HTML Standard, "Server-sent events"), `response` says what a response head means for a client,
and `reconnect` keeps the reconnection state ("Reconnecting"). `listen`'s aiohttp client,
`bench`'s streams, the recorder and `doctor` are transports around it: they move bytes and
time, and ask this package what the bytes and outcomes mean.

Standard library only (and the C twin of the decoder's loop, `sse_cli._speedups`): no I/O, no
asyncio, nothing of the package but `sse_cli.errors` and `sse_cli.speedups`.
"""
