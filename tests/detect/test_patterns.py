"""Pattern analysis: bounds, refusals, prefix closures and candidate patterns."""

from __future__ import annotations

import re

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from warden.detect.backends import HyperscanPass
from warden.detect.patterns import (
    PatternError,
    analyse,
    candidate_patterns,
    exact_closure,
    literal_pattern,
    prefix_closure,
    starts_like_newline,
)

PATTERNS = {
    r"\b((?:AKIA|ASIA)[A-Z2-7]{16})\b": "AKIAIOSFODNN7EXAMPLF",
    r"(?i)(?:api[_-]?key|token)\s{0,3}[:=]\s{0,3}\"([^\"]{8,64})\"": 'API-KEY = "abcdefgh123"',
    r"ghp_[A-Za-z0-9]{36}": "ghp_" + "a" * 36,
    r"\s{0,3}x?y": "  y",
    r"(?:^|[^0-9])([0-9]{3}-[0-9]{2}-[0-9]{4})(?:[^0-9]|$)": " 123-45-6789 ",
    r"-----BEGIN [A-Z ]{0,20}KEY-----(?:[A-Za-z0-9+/=]{1,64}\n){1,10}-----END": (
        "-----BEGIN RSA KEY-----abc\ndef\n-----END"
    ),
}


@pytest.mark.parametrize(
    ("pattern", "lo", "hi", "hi_bytes"),
    [
        ("abc", 3, 3, 3),
        ("a{2,5}", 2, 5, 5),
        ("(?:ab|c){1,3}", 1, 6, 6),
        ("[^a]{1,4}", 1, 4, 16),
        ("(?i)k{2}", 2, 2, 6),  # k folds onto U+212A (3 bytes) in re2 and hyperscan
        ("é", 1, 1, 4),
    ],
)
def test_widths(pattern: str, lo: int, hi: int, hi_bytes: int) -> None:
    info = analyse(pattern)
    assert (info.min_chars, info.max_chars, info.max_bytes) == (lo, hi, hi_bytes)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("a+", "unbounded"),
        ("a{2,}", "unbounded"),
        ("(?:x|y)*z", "unbounded"),
        ("a?", "empty"),
        (r"(a)\1", "unsupported"),
        ("a(?=b)", "unsupported"),
        ("(", "does not parse"),
    ],
)
def test_refusals_name_the_problem(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match=message):
        analyse(pattern)


@pytest.mark.parametrize(("pattern", "example"), PATTERNS.items())
def test_every_prefix_of_a_match_is_in_the_closure(pattern: str, example: str) -> None:
    assert re.fullmatch(pattern, example)
    for closure in (prefix_closure(pattern), exact_closure(pattern) or ""):
        compiled = re2.compile(closure)
        assert not compiled.fullmatch("")
        for i in range(1, len(example) + 1):
            assert compiled.fullmatch(example[:i]), (closure, example[:i])


@pytest.mark.parametrize(
    ("pattern", "dead"),
    [
        (r"\bghp_[A-Za-z0-9]{4}", "ghq"),
        (r"\bghp_[A-Za-z0-9]{4}", "ghp_!"),
        (r"(?i)token\s{0,3}[:=]\s{0,3}\"x", "token: y"),
    ],
)
def test_closure_rejects_what_cannot_become_a_match(pattern: str, dead: str) -> None:
    assert not re2.compile(prefix_closure(pattern)).fullmatch(dead)


def test_exact_closure_keeps_counts() -> None:
    closure = re2.compile(exact_closure(r"ab{2}c") or "")
    assert closure.fullmatch("abb")
    assert not closure.fullmatch("abbb")


def test_hyperscan_closure_leaves_out_start_of_text_alternatives() -> None:
    closure = re2.compile(prefix_closure(r"(?:^|,)abc", hyperscan=True))
    assert closure.fullmatch(",ab")
    assert not closure.fullmatch("ab")


@pytest.mark.parametrize(
    ("pattern", "like"),
    [
        (r"foo\b[0-9]{2}", True),  # no start anchor: \b sees a newline as the start
        (r"(?:^|\n)[ \t]{0,8}KEY=", True),
        (r"(?i)(?:^|[^\w+])(\+[0-9]{7,15})", True),
        (r"(?:^|[^a])foo", True),
        (r"(?:\A|\n|\s)x", True),
        (r"(?s)(?:^|.)foo", True),
        (r"^foo", False),  # nothing a newline could stand in for
        (r"(?:^|x)foo", False),
        (r"(?:^|.)foo", False),  # "." is not a newline without (?s)
        (r"(?:^|[^\n])foo", False),
        (r"a(?:^|\n)b", False),  # not where the pattern opens
        (r"(?:^|\n)(?:^|a)x", False),  # a second one, deeper in
        (r"(?m)(?:^|\n)x", False),
    ],
)
def test_starts_like_newline(pattern: str, like: bool) -> None:
    assert starts_like_newline(pattern) is like


# Shapes the candidate forms treat specially: a leading run cut at a literal,
# boundaries consumed at the end (``$`` kept as ``\\z``), ``^`` alternatives.
CANDIDATE_PATTERNS = [
    *PATTERNS,
    r"\b([A-Za-z0-9]{6}AZDO[A-Za-z0-9]{4})\b",
    r"(?i)(?:^|[^A-Za-z0-9_.])[A-Za-z0-9_.\-]{0,20}?(?:api_?key|token)\s{0,3}=\s{0,3}([a-z0-9]{8,16})(?:[^a-z0-9]|$)",
    r"(?:^|[^A-Za-z0-9._%+\-])([A-Za-z0-9][A-Za-z0-9._%+\-]{0,20}@[a-z]{2,8}\.[a-z]{2,4})\b",
    r"(?:^|\n)[ \t]{0,4}[A-Z_]{0,10}TOKEN=([^\s]{4,20})[ \t]{0,4}(?:\r?\n|$)",
    r"(?i)\bcf[\w.]{0,8}?key\s{0,2}=\s{0,2}([a-f0-9]{8})\b",
]
CANDIDATE_TEXT = st.text(alphabet="ab1 _-.:=\"'AKIAghDZO@Tkenyf\n", max_size=60)


@given(st.lists(st.one_of(CANDIDATE_TEXT, st.sampled_from(list(PATTERNS.values()))), max_size=4))
@settings(max_examples=300, deadline=None)
def test_candidate_patterns_report_the_end_of_every_match(parts: list[str]) -> None:
    """What the engine relies on: hyperscan reports an end offset at the end of
    every match of the original (re2 ``finditer``, which the engine confirms)."""
    text = "".join(parts)
    data = text.encode()
    for pattern in CANDIDATE_PATTERNS:
        wider = candidate_patterns(pattern, 8, 4)
        ends = HyperscanPass(wider, [0] * len(wider)).ends(data).get(0, [])
        for found in re2.compile(pattern).finditer(data):
            assert found.end() in ends, (pattern, wider, text, found.span())


def test_candidate_patterns_cut_leading_runs_at_a_literal() -> None:
    # the run before AZDO is gone, and so is the \b that stood before the run
    assert candidate_patterns(r"\b([A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4})\b", 8, 16) == [
        r"(?:AZDO(?:[A-Za-z0-9]){4,4})\b"
    ]
    # a literal of one or two characters does not cut: the boundary before it is what keeps
    # candidates few; here the leading ^ alternative becomes a pattern of its own
    assert len(candidate_patterns(r"(?:^|[^0-9])(4[0-9]{3})(?:[^0-9]|$)", 8, 16)) == 2


def test_candidate_patterns_keep_the_end_of_text() -> None:
    [wider] = candidate_patterns(r"ghp_[A-Za-z0-9]{36}(?:[^A-Za-z0-9]|$)", 8, 16)
    assert wider.endswith(r"(?:[^A-Za-z0-9]|\z)")
    [loose] = candidate_patterns(r"ghp_[A-Za-z0-9]{36}(?:[^A-Za-z0-9]|$)", 8, 16, keep_end=False)
    assert loose.endswith(r"(?:[^A-Za-z0-9]|)")
    # in multi-line mode $ is the end of a line: dropped
    [multi] = candidate_patterns(r"(?m)ghp_[A-Za-z0-9]{36}$", 8, 16)
    assert r"\z" not in multi


@pytest.mark.parametrize("text", ["a.b", "x y", "C:\\path", "é+ü", "(?i)"])
def test_literal_pattern_is_literal_everywhere(text: str) -> None:
    pattern = literal_pattern(text)
    assert re.fullmatch(pattern, text)
    assert re2.compile(pattern).fullmatch(text)
