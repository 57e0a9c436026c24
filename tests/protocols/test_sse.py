"""The SSE codec, fed whole and byte by byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warden.protocols.sse import (
    NEED_DATA,
    SSE_CLOSED,
    RemoteProtocolError,
    SSEDecoder,
    SSEEvent,
    encode_event,
)


def decode(chunks: list[bytes], **kwargs: int) -> list[SSEEvent]:
    decoder = SSEDecoder(**kwargs)
    events: list[SSEEvent] = []
    for chunk in [*chunks, b""]:
        decoder.receive_data(chunk)
        while True:
            event = decoder.next_event()
            if event is NEED_DATA or event is SSE_CLOSED:
                break
            assert isinstance(event, SSEEvent)
            events.append(event)
    return events


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


ANTHROPIC = (
    b"event: message_start\n"
    b'data: {"type":"message_start"}\n\n'
    b"event: ping\n"
    b'data: {"type": "ping"}\n\n'
)


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (ANTHROPIC, [("message_start", '{"type":"message_start"}'), ("ping", '{"type": "ping"}')]),
        (b"data: a\r\ndata: b\r\n\r\n", [(None, "a\nb")]),
        (b"data: a\rdata: b\r\r", [(None, "a\nb")]),
        (b"data:no-space\n\n", [(None, "no-space")]),
        (b"data:  two spaces\n\n", [(None, " two spaces")]),
        (b"data: [DONE]\n\n", [(None, "[DONE]")]),
        (b"\xef\xbb\xbfdata: bom\n\n", [(None, "bom")]),
        (b"data: x\n\ndata: unterminated", [(None, "x")]),
        (b"id: 7\nretry: 15\ndata: y\n\n", [(None, "y")]),
        (b"data: x\n\n\ndata: y\n\n\n\n", [(None, "x"), (None, "y")]),
        (b": only a comment\n\ndata: z\n\n", [(None, ""), (None, "z")]),
    ],
)
def test_decodes_whole_and_byte_by_byte(
    wire: bytes, expected: list[tuple[str | None, str]]
) -> None:
    for chunks in ([wire], bytewise(wire)):
        events = decode(chunks)
        assert [(e.event, e.data) for e in events] == expected


def test_raw_bytes_round_trip_exactly() -> None:
    wire = ANTHROPIC + b": keep-alive\n\n" + b"event: x-unknown\ndata: {}\nfoo: bar\n\n"
    events = decode(bytewise(wire))
    assert b"".join(e.raw for e in events) == wire
    assert events[2].is_comment
    assert events[3].event == "x-unknown"


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    events = decode([b"data: a\r", b"\n\r", b"\n"])
    assert [e.data for e in events] == ["a"]
    assert events[0].raw == b"data: a\r\n\r\n"


def test_id_and_retry() -> None:
    wire = b"id: 7\nretry: 15\ndata: y\n\nid: 8\x00\nretry: soon\ndata: z\n\n"
    for chunks in ([wire], bytewise(wire)):
        first, second = decode(chunks)
        assert (first.id, first.retry) == ("7", 15)
        assert (second.id, second.retry) == (None, None)


def test_an_event_past_the_limit_is_a_protocol_error() -> None:
    decoder = SSEDecoder(max_event_bytes=64)
    decoder.receive_data(b"data: " + b"x" * 100)
    with pytest.raises(RemoteProtocolError):
        decoder.next_event()


def test_invalid_utf8_is_a_protocol_error() -> None:
    decoder = SSEDecoder()
    decoder.receive_data(b"data: \xff\n\n")
    with pytest.raises(RemoteProtocolError):
        decoder.next_event()


def test_receive_after_close_is_a_local_error() -> None:
    decoder = SSEDecoder()
    decoder.receive_data(b"")
    with pytest.raises(RuntimeError):
        decoder.receive_data(b"data: x\n\n")


@given(
    st.lists(
        st.tuples(st.sampled_from([None, "a", "content_block_delta"]), st.text(max_size=40)),
        max_size=8,
    ),
    st.data(),
)
def test_encode_then_decode_any_chunking(
    events: list[tuple[str | None, str]], data: st.DataObject
) -> None:
    events = [(name, text.replace("\r", "")) for name, text in events]
    wire = b"".join(encode_event(text, event=name) for name, text in events)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(wire)), max_size=10)))
    chunks = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    chunks = [c for c in chunks if c]
    decoded = decode(chunks)
    assert [(e.event, e.data) for e in decoded] == events


@given(
    st.lists(st.sampled_from([b"\n", b"\r\n", b"\r"]), min_size=1, max_size=6),
    st.integers(1, 5000),
)
def test_long_reads_with_any_line_endings_keep_every_byte(endings: list[bytes], size: int) -> None:
    """Consumed bytes are compacted away lazily: past 64 KB of events in one
    read and across reads, every event and its raw bytes come out as sent."""
    wire = b""
    expected = []
    for n in range(900):  # about 100 KB: past the compaction threshold
        nl = endings[n % len(endings)]
        text = f"{n}:" + "x" * (n % 97)
        wire += b"event: e" + nl + b"data: " + text.encode() + nl + nl
        expected.append(("e", text))
    for chunks in ([wire], [wire[i : i + size] for i in range(0, len(wire), size)]):
        events = decode(chunks)
        assert [(e.event, e.data) for e in events] == expected
        assert b"".join(e.raw for e in events) == wire


_LINES = st.one_of(
    st.just(b""),  # a blank line: the end of an event, or a stray one
    st.sampled_from(
        [
            b"",
            b":",
            b": keep-alive",
            b"data",
            b"data:",
            b"data: x",
            b"data:y",
            b"event: ping",
            b"event:",
            b"id: 7",
            b"id: a\x00b",
            b"retry: 15",
            b"retry: x",
            b"foo: bar",
            b": \xff comment",
            b"data: caf\xc3\xa9",
            b"data:  two spaces",
            b"data: ",
            b"event:  two spaces",
            b"event: ",
            b"event: content_block_delta",
        ]
    ),
    st.binary(max_size=12).filter(lambda b: b"\n" not in b and b"\r" not in b),
)


def _fields(decoder_input: list[bytes]) -> list[tuple[object, ...]] | str:
    try:
        events = decode(decoder_input)
    except RemoteProtocolError:
        return "protocol error"
    return [(e.event, e.data, e.raw, e.id, e.retry, e.has_data) for e in events]


@settings(max_examples=300)
@given(st.lists(st.tuples(_LINES, st.sampled_from([b"\n"] * 8 + [b"\r\n", b"\r"])), max_size=14))
def test_a_whole_read_decodes_as_the_same_bytes_one_at_a_time(
    lines: list[tuple[bytes, bytes]],
) -> None:
    """Whole events in one read take a one-step path; byte by byte they are
    parsed line by line. Both give the same events, raw bytes and errors."""
    wire = b"data: first\n\n" + b"".join(line + end for line, end in lines) + b"\n\n"
    assert _fields([wire]) == _fields(bytewise(wire))
