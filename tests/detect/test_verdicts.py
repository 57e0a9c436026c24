"""The request-side verdict cache is bounded and keyed by content."""

from __future__ import annotations

from warden.detect.engine import Finding
from warden.detect.verdicts import Verdict, VerdictCache, text_key


def key(text: str, session: str = "s") -> tuple[str, str, int, bytes]:
    return (session, "v1", 0, text_key(text))


def test_hits_and_misses() -> None:
    cache = VerdictCache()
    verdict = Verdict("masked", (Finding("r", 0, 3, "redact", "low"),))
    assert cache.get(key("a")) is None
    cache.put(key("a"), verdict)
    assert cache.get(key("a")) is verdict
    assert cache.get(key("a", session="other")) is None
    assert (cache.hits, cache.misses) == (1, 2)


def test_bounded_by_entries_and_characters() -> None:
    cache = VerdictCache(max_entries=2, max_chars=10_000)
    for name in "abc":
        cache.put(key(name), Verdict(None, ()))
    assert len(cache) == 2 and cache.get(key("a")) is None
    small = VerdictCache(max_chars=500)
    small.put(key("big"), Verdict("x" * 1000, ()))  # larger than the whole cache
    assert len(small) == 0
    for i in range(10):
        small.put(key(str(i)), Verdict("y" * 100, ()))
    assert len(small) == 3  # 3 x (100 + 64) <= 500


def test_keys_hash_the_text_not_the_object() -> None:
    assert text_key("abc" * 100) == text_key("".join(["abc"] * 100))
    assert text_key("lone \ud800") != text_key("lone \ufffd")
