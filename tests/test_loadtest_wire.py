"""bench's HTTP/1.1 response parser, fed bytes split everywhere: the chunked framing gives the
same body whether a read holds whole chunks (its fast path) or pieces of one."""

from __future__ import annotations

import pytest

from sse_cli.loadtest.wire import HeadError, Response, StreamProtocol

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
CHUNKS = [b"data: one\n\n", b'id: 2\ndata: {"t_ns": 1}\n\n', b":\n", b"x" * 40]
BODY = b"".join(CHUNKS)
WIRE = (
    b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in CHUNKS[:2])
    + b"%X;name=value\r\n%s\r\n" % (len(CHUNKS[2]), CHUNKS[2])
    + b"%x\r\n%s\r\n" % (len(CHUNKS[3]), CHUNKS[3])
    + b"0\r\nTrailer: yes\r\n\r\n"
)


class Sink:
    def __init__(self) -> None:
        self.head: Response | None = None
        self.body: list[bytes] = []
        self.ends: list[BaseException | None] = []

    def on_head(self, response: Response) -> None:
        self.head = response

    def on_body(self, data: bytes) -> None:
        self.body.append(data)

    def on_end(self, error: BaseException | None) -> None:
        self.ends.append(error)


def fed(*reads: bytes) -> Sink:
    sink = Sink()
    protocol = StreamProtocol(b"", sink)
    for data in reads:
        protocol.data_received(data)
    return sink


def test_whole_chunks_in_one_read_give_the_body_chunk_by_chunk() -> None:
    sink = fed(HEAD, WIRE)
    assert sink.body == CHUNKS
    assert sink.ends == [None]


@pytest.mark.parametrize("cut", range(1, len(HEAD + WIRE)))
def test_a_read_cut_anywhere_gives_the_same_body(cut: int) -> None:
    wire = HEAD + WIRE
    sink = fed(wire[:cut], wire[cut:])
    assert sink.head is not None and sink.head.status == 200
    assert b"".join(sink.body) == BODY
    assert sink.ends == [None]


def test_one_byte_a_read_gives_the_same_body() -> None:
    wire = HEAD + WIRE
    sink = fed(*(wire[i : i + 1] for i in range(len(wire))))
    assert b"".join(sink.body) == BODY
    assert sink.ends == [None]


@pytest.mark.parametrize(
    "bad", [b"5\r\nhello!!\r\n", b"zz\r\nhello\r\n", b"-5\r\nhello\r\n", b"0x5\r\nhello\r\n"]
)
def test_a_chunk_without_its_crlf_or_with_a_bad_size_is_malformed(bad: bytes) -> None:
    sink = fed(HEAD, bad)
    assert len(sink.ends) == 1 and isinstance(sink.ends[0], HeadError)
