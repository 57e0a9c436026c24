"""UTF-8 for the engine: encoding in pieces, and byte offsets back to characters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warden.detect import utf8
from warden.detect.utf8 import char_offsets, encode, encode_mapped

SAMPLES = ["a", "bc ", "é", "漢字", "🙂", "\n", "xyz" * 20, "\ud83d", "\udc00"]
texts = st.text(alphabet=st.characters(exclude_categories=()), max_size=40) | st.lists(
    st.sampled_from(SAMPLES), max_size=30
).map("".join)


def _plain(text: str) -> bytes:
    """What the engine scans: UTF-8 with each lone surrogate as U+FFFD."""
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text).encode()


@given(texts, st.integers(1, 5))
def test_encoding_in_pieces_gives_the_bytes_of_the_whole(text: str, piece: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utf8, "PIECE", piece)
        data, wide = encode_mapped(text)
        assert data == encode(text) == _plain(text)
    # the pieces named as not ASCII are exactly those that are not
    for start, end, first, last in wide:
        assert data[start:end].decode() == _plain(text[first:last]).decode()
        assert not text[first:last].isascii()
    covered = sum(last - first for _, _, first, last in wide)
    assert covered >= sum(1 for c in text if not c.isascii())


@given(texts, st.lists(st.integers(0, 100), max_size=12), st.integers(1, 5))
def test_char_offsets_agree_with_decoding_each_prefix(
    text: str, picks: list[int], piece: int
) -> None:
    """ASCII stretches are counted by length or by arithmetic, the rest by
    decoding: the same offsets either way, with the piece map or without."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utf8, "PIECE", piece)
        data, wide = encode_mapped(text)
    boundaries = [len(_plain(text[:i])) for i in range(len(text) + 1)]
    offsets = [boundaries[p * len(text) // 100] for p in picks]
    expected = {o: len(data[:o].decode()) for o in offsets}
    assert char_offsets(data, offsets) == expected
    assert char_offsets(data, offsets, wide) == expected


def test_a_large_text_is_mapped_piece_by_piece() -> None:
    text = "a" * utf8.PIECE + "é" + "b" * (2 * utf8.PIECE)
    data, wide = encode_mapped(text)
    assert data == text.encode()
    assert wide == ((utf8.PIECE, 2 * utf8.PIECE + 1, utf8.PIECE, 2 * utf8.PIECE),)
    end = len(data)
    assert char_offsets(data, [3, utf8.PIECE + 2, end], wide) == {
        3: 3,
        utf8.PIECE + 2: utf8.PIECE + 1,
        end: len(text),
    }
