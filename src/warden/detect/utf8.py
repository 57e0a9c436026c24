"""Text to the UTF-8 the engine scans, and its byte offsets back to characters.

The engine matches bytes (hyperscan and re2 both work on UTF-8) while a
:class:`~warden.detect.engine.Finding` carries character offsets into the
``str`` that was scanned, so every scan encodes once and converts its
findings' offsets back. Lone surrogates (which JSON can carry) are encoded
as U+FFFD: one character in both units, so offsets stay aligned.

A large text that is not ASCII is encoded in pieces of :data:`PIECE`
characters and joined (a ``str`` slice never splits a character, so the
bytes are the same): the encoder sizes its buffer for three bytes a
character, which for a whole 10 MB text is fresh memory the kernel faults
in page by page (6.5 ms whole, 3.1 ms in pieces). The pieces also say
where the text is not ASCII, which is what converting offsets needs: in
an ASCII stretch a byte is a character, so only offsets inside a piece
that is not ASCII are counted by decoding.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PIECE = 1 << 16
"""Characters per piece when a large text that is not ASCII is encoded."""

Wide = tuple[int, int, int, int]
"""A piece that is not ASCII: its byte start and end, its character start and end."""

_SURROGATE = re.compile(rb"\xed[\xa0-\xbf][\x80-\xbf]")


def encode(text: str) -> bytes:
    """UTF-8 for scanning; lone surrogates become U+FFFD."""
    if text.isascii() or len(text) <= PIECE:
        return _encode(text)
    return encode_mapped(text)[0]


def encode_mapped(text: str) -> tuple[bytes, tuple[Wide, ...]]:
    """:func:`encode`, and the pieces of the text that are not ASCII, in order
    (none for ASCII text; one, the whole, for a text of up to a piece)."""
    if text.isascii():
        return text.encode(), ()
    if len(text) <= PIECE:
        data = _encode(text)
        return data, ((0, len(data), 0, len(text)),)
    parts: list[bytes] = []
    wide: list[Wide] = []
    byte = 0
    for char in range(0, len(text), PIECE):
        piece = text[char : char + PIECE]
        raw = _encode(piece)
        if not piece.isascii():  # a flag of the new str: no second pass
            wide.append((byte, byte + len(raw), char, char + len(piece)))
        parts.append(raw)
        byte += len(raw)
    return b"".join(parts), tuple(wide)


def _encode(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub(b"\xef\xbf\xbd", text.encode("utf-8", "surrogatepass"))


def char_offsets(
    data: bytes, offsets: Sequence[int], wide: Sequence[Wide] | None = None
) -> dict[int, int]:
    """Map byte offsets (at character boundaries) of UTF-8 ``data`` to character offsets.

    With ``wide`` (from :func:`encode_mapped`), an offset outside every
    piece that is not ASCII is plain arithmetic; without it, or inside such
    a piece, the bytes since the previous offset are counted.
    """
    out: dict[int, int] = {}
    if wide is None:
        byte = char = 0
        for offset in sorted(set(offsets)):
            chunk = data[byte:offset]
            # an ASCII stretch (most of them) has as many characters as bytes;
            # checking that is far cheaper than decoding it to count
            char += len(chunk) if chunk.isascii() else len(chunk.decode())
            byte = offset
            out[offset] = char
        return out
    extra = 0  # bytes beyond one a character in the wide pieces passed
    k = 0
    inside = -1  # the wide piece the cursor below is in
    byte = char = 0
    for offset in sorted(set(offsets)):
        while k < len(wide) and wide[k][1] <= offset:
            start, end, first, last = wide[k]
            extra += (end - start) - (last - first)
            k += 1
        if k < len(wide) and wide[k][0] < offset:
            if inside != k:
                inside, byte, char = k, wide[k][0], wide[k][2]
            chunk = data[byte:offset]
            char += len(chunk) if chunk.isascii() else len(chunk.decode())
            byte = offset
            out[offset] = char
        else:
            out[offset] = offset - extra
    return out
