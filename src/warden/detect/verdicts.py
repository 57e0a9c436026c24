"""Request-side verdict cache: a resent conversation costs only its new text.

Agents send the whole conversation every turn. The masking of one slot
depends only on its text, the rules and actions in force, and (for
``tokenize``) the session's vault, so the result is cached under a SHA-256
of the text together with the vault's key (caller and session), the engine
and policy versions and the action set. Every slot is cached, short ones
too: a lookup costs a hash, a scan costs a hyperscan call and a Python
round trip, so a resent turn costs hashing its text and nothing more.
Entries hold the masked text (``None`` when unchanged) and the findings
(offsets and rule ids, never values). The cache is bounded by entry count
and by the characters it holds, least recently used first out.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from warden.detect.engine import Finding

Key = tuple[str, str, int, bytes]


@dataclass(frozen=True, slots=True)
class Verdict:
    masked: str | None
    findings: tuple[Finding, ...]

    @property
    def size(self) -> int:
        return 64 + (len(self.masked) if self.masked is not None else 0)


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class VerdictCache:
    def __init__(self, *, max_entries: int = 20_000, max_chars: int = 64 << 20) -> None:
        self._max_entries = max_entries
        self._max_chars = max_chars
        self._chars = 0
        self._entries: OrderedDict[Key, Verdict] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> Verdict | None:
        verdict = self._entries.get(key)
        if verdict is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return verdict

    def put(self, key: Key, verdict: Verdict) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._chars -= old.size
        if verdict.size > self._max_chars:
            return
        self._entries[key] = verdict
        self._chars += verdict.size
        while len(self._entries) > self._max_entries or self._chars > self._max_chars:
            _, evicted = self._entries.popitem(last=False)
            self._chars -= evicted.size
