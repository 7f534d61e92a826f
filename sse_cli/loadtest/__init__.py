"""`sse-cli bench`: many real SSE clients against one endpoint, and what they measured.

- `options`: the checked options of one run (request flags through `sse_cli.request`);
- `wire`: a lean HTTP/1.1 client protocol, one per stream;
- `target`: the URL, address and headers every stream shares;
- `stream`: one stream's client loop, with reconnection and the resume audit;
- `latency`: send times in event data; `publish`: the fixed-rate publisher;
- `metrics`: the counters (one dataclass) and histograms (hdrhistogram), per interval too;
- `schema`: the typed report; `timeline`: its time series; `thresholds`: pass/fail conditions;
- `engine`: the load in one process; `runner`: workers, limits, report, exit status;
- `report`, `dashboard`, `html` and `charts`: what people and pipes see.

Not the project's benchmark suite, which is `bench/` at the top of the repository. Nothing
here is imported by `sse-cli --help`; hdrhistogram and rich load when a run starts.
"""
