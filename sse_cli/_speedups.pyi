from sse_cli.protocol.decoder import Comment, Event, Item, Scanned

def bind(event_cls: type[Event], comment_cls: type[Comment], /) -> None: ...
def scan(*args: object) -> Scanned: ...
def ascending(items: list[Item], event_cls: type[Event], at: int, /) -> tuple[int, int] | None: ...
def record_values(
    counts: object,
    itemsize: int,
    values: list[int],
    counts_len: int,
    unit_magnitude: int,
    sub_bucket_half_count_magnitude: int,
    sub_bucket_mask: int,
    highest: int,
    /,
) -> tuple[int, int, int]: ...
