"""Rendering findings: every action, and decisions that never carry values."""

from __future__ import annotations

import pytest

from warden.detect.engine import Finding
from warden.detect.mask import Masker, MaskStyle, decisions
from warden.detect.vault import MemoryVault, detokenize
from warden.pipeline.types import Flow

SECRET = "sk-abcdefghijklmnopXy9"


def finding(action: str, start: int = 0, end: int = len(SECRET)) -> Finding:
    return Finding("demo-key", start, end, action, "high")


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("redact", "[REDACTED:demo-key]"),
        ("mask", "sk-a…Xy9"),
        ("block", SECRET),
        ("review", SECRET),
    ],
)
def test_render(action: str, expected: str) -> None:
    assert Masker(hash_key=b"k" * 32).render(finding(action), SECRET) == expected


def test_mask_style_and_short_secrets() -> None:
    masker = Masker(hash_key=b"k" * 32, style=MaskStyle(keep_start=2, keep_end=0, min_length=6))
    assert masker.render(finding("mask"), SECRET) == "sk…"
    assert masker.render(finding("mask"), "abc") == "…"


def test_hash_is_stable_keyed_and_short() -> None:
    one, two = Masker(hash_key=b"a" * 32), Masker(hash_key=b"b" * 32)
    first = one.render(finding("hash"), SECRET)
    assert first == one.render(finding("hash"), SECRET)
    assert first != one.render(finding("hash"), SECRET + "x")
    assert first != two.render(finding("hash"), SECRET)
    assert first.startswith("[HASH:demo-key:") and len(first) == len("[HASH:demo-key:]") + 12


def test_tokenize_round_trips_through_the_vault() -> None:
    vault = MemoryVault()
    masker = Masker(hash_key=b"k" * 32, vault=vault)
    text = f"use {SECRET} twice: {SECRET}"
    second = text.index(SECRET, 5)
    findings = [
        finding("tokenize", 4, 4 + len(SECRET)),
        finding("tokenize", second, second + len(SECRET)),
    ]
    masked = masker.apply(text, findings)
    assert SECRET not in masked
    token = masker.render(findings[0], SECRET)
    assert masked == f"use {token} twice: {token}"
    restored, where = detokenize(masked, vault)
    assert restored == text
    assert [w[0] for w in where] == ["demo-key", "demo-key"]
    assert detokenize(masked, MemoryVault())[0] == masked  # another session's vault


def test_tokenize_without_a_vault_fails_closed() -> None:
    with pytest.raises(RuntimeError):
        Masker(hash_key=b"k" * 32).render(finding("tokenize"), SECRET)


def test_apply_leaves_block_and_review_text_alone() -> None:
    masker = Masker(hash_key=b"k" * 32)
    text = "a SECRET b"
    out = masker.apply(
        text, [Finding("r", 2, 8, "review", "low"), Finding("s", 2, 8, "redact", "low")]
    )
    assert out == "a [REDACTED:s] b"


def test_short_hash_key_is_refused() -> None:
    with pytest.raises(ValueError):
        Masker(hash_key=b"short")


def test_decisions_carry_where_and_what_never_the_value() -> None:
    found = [finding("redact", 3, 9), finding("block", 3, 9), finding("review", 3, 9)]
    made = decisions(found, inspector="masking", channel="messages/0/content")
    assert [d.flow for d in made] == [Flow.REWRITE, Flow.BLOCK, Flow.HOLD]
    record = made[0].as_record()
    assert record == {
        "flow": "rewrite",
        "rule": "demo-key",
        "action": "redact",
        "reason": "demo-key matched (high)",
        "inspector": "masking",
        "channel": "messages/0/content",
        "start": 3,
        "end": 9,
        "severity": "high",
    }
    assert SECRET not in repr(made)
