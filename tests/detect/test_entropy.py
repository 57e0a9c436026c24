"""Entropy: the bounded fast decision agrees with the exact value, at every floor."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warden.detect.entropy import below, shannon

FLOORS = [0.0, 1.0, 2.5, 3.0, 3.2, 3.5, 4.0, 4.5, 5.0, 6.0]


@pytest.mark.parametrize(
    "text",
    [
        "a",
        "aaaaaaaaaaaaaaaa",
        "abcdefgh",  # exactly 3.0: the floor itself is not below it
        "aabbccddeeffgghh",  # exactly 3.0 again, from even counts
        "abcdefghijklmnop",  # exactly 4.0, every character distinct
        "aaaaabcd",  # the most lopsided counts for its length and distinct characters
        "your-api-key-here",
        "h7Gk2pQz9Lm4Xw8v",
        "AKIAIOSFODNN7EXAMPLF",
        "0123456789abcdef0123456789abcdef",
        "x" * 2000 + "y",  # past the table of small counts
        "",
    ],
)
def test_below_matches_shannon_on_edges(text: str) -> None:
    for floor in FLOORS:
        assert below(text, floor) == (shannon(text) < floor), (text, floor)


@given(
    st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=80),
    st.sampled_from(FLOORS),
)
def test_below_matches_shannon(text: str, floor: float) -> None:
    assert below(text, floor) == (shannon(text) < floor)


@given(st.integers(1, 12), st.integers(1, 6), st.sampled_from(FLOORS))
def test_below_matches_shannon_on_even_counts(distinct: int, each: int, floor: float) -> None:
    # even counts put the entropy exactly on log2(distinct): the upper bound
    text = "".join(chr(ord("a") + i) * each for i in range(distinct))
    assert below(text, floor) == (shannon(text) < floor)
