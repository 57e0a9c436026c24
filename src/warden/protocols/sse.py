"""A sans-IO Server-Sent Events codec.

Why hand-written: the SSE parsers on PyPI are client-side iterators bound to
an HTTP library, and none keeps each event's *raw bytes*, which the gateway
needs to forward events it does not change byte for byte. This one follows
the WHATWG "event stream" rules (``\\r\\n``, ``\\n`` or ``\\r`` line ends,
``field: value`` with one optional space, ``:`` comments, a blank line
dispatches) and caps what a peer can make it buffer. A whole event with
plain ``\\n`` line ends, what providers send, is decoded in one step; the
rest goes line by line, to the same result.

Usage, in the h11 style::

    decoder = SSEDecoder(max_event_bytes=1 << 20)
    decoder.receive_data(chunk)            # b"" means the peer closed
    while (event := decoder.next_event()) is not NEED_DATA:
        ...                                # an SSEEvent, or SSE_CLOSED
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class RemoteProtocolError(Exception):
    """The peer sent something this codec will not accept."""


class _Sentinel(enum.Enum):
    NEED_DATA = "NEED_DATA"
    CLOSED = "CLOSED"


NEED_DATA = _Sentinel.NEED_DATA
SSE_CLOSED = _Sentinel.CLOSED


class SSEEvent(NamedTuple):
    """One dispatched event. ``raw`` holds its exact bytes on the wire,
    including the blank line that ended it. A named tuple: immutable, and
    made in half the time of a frozen dataclass (one per upstream event)."""

    event: str | None
    data: str
    raw: bytes
    id: str | None = None
    retry: int | None = None
    has_data: bool = True
    """False for an event made only of comments / ``event:`` lines."""

    @property
    def is_comment(self) -> bool:
        return not self.has_data and self.event is None and self.id is None


def encode_event(data: str, *, event: str | None = None, id: str | None = None) -> bytes:
    """Serialise one event: ``event:``, ``id:``, one ``data:`` line per line."""
    parts: list[str] = []
    if event is not None:
        parts.append(f"event: {event}\n")
    if id is not None:
        parts.append(f"id: {id}\n")
    for line in data.split("\n"):
        parts.append(f"data: {line}\n")
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def encode_comment(text: str = "") -> bytes:
    return f": {text}\n\n".encode() if text else b":\n\n"


_COMPACT_AT = 64 * 1024


class SSEDecoder:
    """Incremental decoder. Feed bytes, pull :class:`SSEEvent` values."""

    def __init__(self, *, max_event_bytes: int = 16 * 1024 * 1024) -> None:
        self._max = max_event_bytes
        self._buf = bytearray()
        self._scan = 0
        self._event_start = 0
        self._closed = False
        self._done = False
        self._first = True
        self._reset_fields()

    def _reset_fields(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None
        self._has_data = False
        self._saw_field = False

    def receive_data(self, data: bytes) -> None:
        if self._closed:
            raise RuntimeError("receive_data after the stream closed")
        if data:
            self._buf += data
        else:
            self._closed = True

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._event_start

    def next_event(self) -> SSEEvent | _Sentinel:
        if self._scan == self._event_start and not self._first:
            event = self._whole_event()
            if event is not None:
                return event
        while True:
            line_end = self._find_line_end()
            if line_end is None:
                if self._done:
                    return SSE_CLOSED
                if self._closed:
                    self._done = True
                    # An event without its final blank line is incomplete and
                    # is discarded, as the spec says.
                    return SSE_CLOSED
                if len(self._buf) - self._event_start > self._max:
                    raise RemoteProtocolError(
                        f"an SSE event exceeded {self._max} bytes without ending"
                    )
                return NEED_DATA
            start, end, after = line_end
            line = bytes(self._buf[start:end])
            self._scan = after
            if self._first:
                self._first = False
                if line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]
            if line:
                self._field(line)
                continue
            raw = bytes(self._buf[self._event_start : after])
            event = SSEEvent(
                event=self._event,
                data="\n".join(self._data),
                raw=raw,
                id=self._id,
                retry=self._retry,
                has_data=self._has_data,
            )
            # Consumed bytes stay until the buffer is drained (or a good
            # part of it is consumed): one memmove per read, not per event.
            if after == len(self._buf):
                self._buf.clear()
                after = 0
            elif after > _COMPACT_AT:
                del self._buf[:after]
                after = 0
            self._scan = self._event_start = after
            saw = self._saw_field
            self._reset_fields()
            if not saw and not raw.strip(b"\r\n"):
                continue  # a stray blank line between events
            return event

    def _whole_event(self) -> SSEEvent | None:
        """The next event in one step, when the buffer holds all of it and its
        lines end in a plain ``\\n`` (what providers send); ``None`` leaves
        it to the line-by-line path, which handles everything else (``\\r``,
        a blank line first, bytes that are not UTF-8) with the same result.

        Between ``start`` and the first ``\\n\\n`` no line is empty: the
        block neither starts with ``\\n`` (checked) nor holds ``\\n\\n``."""
        buf = self._buf
        start = self._event_start
        end = buf.find(b"\n\n", start)
        if end <= start or buf[start] == 0x0A or buf.find(b"\r", start, end) >= 0:
            return None
        after = end + 2
        raw = bytes(buf[start:after])
        try:
            text = raw[:-2].decode("utf-8")
        except UnicodeDecodeError:
            return None
        if after == len(buf):
            buf.clear()
            after = 0
        elif after > _COMPACT_AT:
            del buf[:after]
            after = 0
        self._scan = self._event_start = after
        # What providers send: one data line (OpenAI), or an event line and
        # one data line (Anthropic). Anything else goes field by field.
        if text.startswith("data: ") and "\n" not in text:
            return SSEEvent(None, text[6:], raw)
        if text.startswith("event: "):
            line = text.find("\n")
            if line > 0 and text.startswith("data: ", line + 1) and text.find("\n", line + 1) < 0:
                return SSEEvent(text[7:line], text[line + 7 :], raw)
        name: str | None = None
        id_: str | None = None
        retry: int | None = None
        data: list[str] = []
        for line_text in text.split("\n"):
            if line_text[0] == ":":
                continue
            field, sep, value = line_text.partition(":")
            if sep and value[:1] == " ":
                value = value[1:]
            if field == "data":
                data.append(value)
            elif field == "event":
                name = value
            elif field == "id":
                if "\0" not in value:
                    id_ = value
            elif field == "retry" and value.isdigit():
                retry = int(value)
        return SSEEvent(name, "\n".join(data), raw, id_, retry, bool(data))

    def _find_line_end(self) -> tuple[int, int, int] | None:
        buf = self._buf
        start = self._scan
        n = len(buf)
        i = start
        lf = buf.find(b"\n", start)
        # Only a CR before the next LF can end this line: never scan past it.
        cr = buf.find(b"\r", start) if lf < 0 else buf.find(b"\r", start, lf)
        if lf < 0 and cr < 0:
            return None
        if cr < 0 or (0 <= lf < cr):
            return start, lf, lf + 1
        i = cr
        if i + 1 < n:
            return (start, i, i + 2) if buf[i + 1] == 0x0A else (start, i, i + 1)
        # A "\r" at the very end may be the first half of "\r\n".
        if self._closed:
            return start, i, i + 1
        return None

    def _field(self, line: bytes) -> None:
        self._saw_field = True
        if line.startswith(b":"):
            return
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError("an SSE line is not valid UTF-8") from exc
        name, sep, value = text.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        # Unknown field names are ignored, as the spec says; the raw bytes
        # still carry them to the client.
