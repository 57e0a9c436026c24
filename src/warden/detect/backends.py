"""The two compiled pieces under the engine: re2 searchers and the hyperscan pass.

Both work on UTF-8 bytes with byte offsets. :class:`Searcher` wraps one re2
program and searches ``data[pos:endpos]`` with the *whole* buffer as
context, so ``\\b`` or ``^`` at ``pos`` look at the byte before it, as they
would in a scan from the start. :class:`HyperscanPass` compiles every rule
into one block-mode database and reports, per rule, the end offsets of its
matches (no start-of-match tracking, which hyperscan makes expensive).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import re2

try:  # pragma: no cover - depends on the platform's wheels
    hyperscan: Any = importlib.import_module("hyperscan")
except ImportError:  # pragma: no cover
    hyperscan = None

Spans = list[tuple[int, int]]

_NO_SPAN = (-1, -1)
_UNANCHORED = re2._Anchor.UNANCHORED
# The pybind11 object behind re2's pure-Python wrapper: ``Match`` on bytes
# costs a third of ``search`` (no Match object, no offset decoding). Fall back
# to the public API if a release renames it.
_RAW = getattr(re2, "_re2", None)


def hyperscan_available() -> bool:
    return hyperscan is not None


class Searcher:
    """One re2 program searched on bytes; offsets are byte offsets."""

    __slots__ = ("_match", "_regexp", "groups", "pattern")

    def __init__(self, pattern: str, *, max_mem: int | None = None, compiled: Any = None) -> None:
        options = re2.Options()
        options.log_errors = False
        if max_mem is not None:
            options.max_mem = max_mem
        self.pattern = pattern
        self._regexp: Any = compiled if compiled is not None else re2.compile(pattern, options)
        self.groups: int = self._regexp.groups
        inner = getattr(self._regexp, "_regexp", None)
        self._match: Any = getattr(inner, "Match", None) if _RAW is not None else None

    def search(self, data: bytes, pos: int, endpos: int) -> Spans | None:
        """Leftmost-first match starting in ``[pos, endpos)``, all group spans."""
        if self._match is not None:
            spans: Spans = self._match(_UNANCHORED, data, pos, endpos)
            return None if spans[0] == _NO_SPAN else spans
        found = self._regexp.search(data, pos, endpos)
        if found is None:
            return None
        return [found.span(g) for g in range(self.groups + 1)]


class HyperscanError(ValueError):
    """A rule's pattern does not compile in hyperscan."""


class HyperscanPass:
    """All rules in one hyperscan block database: rule index -> match end offsets."""

    __slots__ = ("_db", "_size")

    def __init__(self, patterns: Sequence[str], ids: Sequence[int]) -> None:
        if hyperscan is None:
            raise RuntimeError("hyperscan is not installed on this platform")
        self._size = len(patterns)
        self._db: Any = None
        if not patterns:
            return
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        expressions = [p.encode() for p in patterns]
        try:
            db.compile(
                expressions=expressions,
                ids=list(ids),
                elements=len(expressions),
                flags=[hyperscan.HS_FLAG_UTF8] * len(expressions),
            )
        except hyperscan.error as exc:
            raise HyperscanError(self._locate(patterns, ids) or str(exc)) from exc
        self._db = db

    @staticmethod
    def _locate(patterns: Sequence[str], ids: Sequence[int]) -> str | None:
        for pattern, rule in zip(patterns, ids, strict=True):
            single = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            try:
                single.compile(
                    expressions=[pattern.encode()], ids=[rule], flags=[hyperscan.HS_FLAG_UTF8]
                )
            except hyperscan.error as exc:
                return f"rule #{rule}: {exc}"
        return None

    def ends(self, data: bytes, start: int = 0) -> dict[int, list[int]]:
        """End offsets (absolute, ascending) of every match in ``data[start:]``, per rule.

        The byte before ``start`` (if any) is scanned too, as context for
        assertions; whatever ends there is dropped.
        """
        if self._db is None:
            return {}
        base = start - 1 if start > 0 else 0
        block = data[base:] if base else data
        flat: list[tuple[int, int]] = []
        add = flat.append

        def on_match(rule: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            add((rule, to))

        self._db.scan(block, match_event_handler=on_match)
        found: dict[int, list[int]] = {}
        for rule, to in flat:
            bucket = found.get(rule)
            if bucket is None:
                found[rule] = [to + base]
            else:
                bucket.append(to + base)
        for bucket in found.values():
            if len(bucket) > 1:
                bucket.sort()  # already in order almost always: linear
        return found
