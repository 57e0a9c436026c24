"""The two compiled pieces under the engine: re2 searchers and the hyperscan pass.

Both work on UTF-8 bytes with byte offsets. :class:`Searcher` wraps one re2
program and searches ``data[pos:endpos]`` with the *whole* buffer as
context, so ``\\b`` or ``^`` at ``pos`` look at the byte before it, as they
would in a scan from the start; it compiles on first use when asked to.
:class:`HyperscanPass` compiles every rule into one block-mode database
(or loads it from :mod:`warden.detect.dbcache`) and reports, per rule, the
end offsets of its matches (no start-of-match tracking, which hyperscan
makes expensive).
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import re2

from warden.detect import dbcache

try:  # pragma: no cover - depends on the platform's wheels
    hyperscan: Any = importlib.import_module("hyperscan")
except ImportError:  # pragma: no cover
    hyperscan = None

_VERSION = getattr(hyperscan, "__version__", "") if hyperscan is not None else ""

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
    """One re2 program searched on bytes; offsets are byte offsets.

    With ``lazy``, the program is compiled on the first search: an engine
    holds hundreds of rules, and most of them never see a candidate in a
    given process, so their programs never take memory. ``search`` is an
    attribute, rebound once compiled, so the hot path has no extra check.
    """

    __slots__ = ("_match", "_max_mem", "_regexp", "pattern", "search")

    def __init__(
        self,
        pattern: str,
        *,
        max_mem: int | None = None,
        compiled: Any = None,
        lazy: bool = False,
    ) -> None:
        self.pattern = pattern
        self._max_mem = max_mem
        self._regexp: Any = None
        self._match: Any = None
        self.search: Callable[[bytes, int, int], Spans | None] = self._first_search
        if compiled is not None or not lazy:
            self._load(compiled)

    @property
    def compiled(self) -> bool:
        return self._regexp is not None

    @property
    def groups(self) -> int:
        if self._regexp is None:
            self._load(None)
        return int(self._regexp.groups)

    def _load(self, compiled: Any) -> None:
        if compiled is None:
            options = re2.Options()
            options.log_errors = False
            if self._max_mem is not None:
                options.max_mem = self._max_mem
            compiled = re2.compile(self.pattern, options)
        inner = getattr(compiled, "_regexp", None)
        match = getattr(inner, "Match", None) if _RAW is not None else None
        self._regexp, self._match = compiled, match
        self.search = self._search_raw if match is not None else self._search_public

    def _first_search(self, data: bytes, pos: int, endpos: int) -> Spans | None:
        if self._regexp is None:
            self._load(None)
        return self.search(data, pos, endpos)

    def _search_raw(self, data: bytes, pos: int, endpos: int) -> Spans | None:
        """Leftmost-first match starting in ``[pos, endpos)``, all group spans."""
        spans: Spans = self._match(_UNANCHORED, data, pos, endpos)
        return None if spans[0] == _NO_SPAN else spans

    def _search_public(self, data: bytes, pos: int, endpos: int) -> Spans | None:
        found = self._regexp.search(data, pos, endpos)
        if found is None:
            return None
        return [found.span(g) for g in range(self._regexp.groups + 1)]


class HyperscanError(ValueError):
    """A rule's pattern does not compile in hyperscan."""


class HyperscanPass:
    """All rules in one hyperscan block database: rule index -> match end offsets.

    ``fallbacks`` (one per pattern, or ``None``) are wider forms to use for
    a pattern that hyperscan refuses. With ``cache_dir``, the compiled
    database is stored there (see :mod:`warden.detect.dbcache`) and loaded
    on the next start instead of compiled again.
    """

    __slots__ = ("_db", "_size")

    def __init__(
        self,
        patterns: Sequence[str],
        ids: Sequence[int],
        *,
        fallbacks: Sequence[str | None] | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        if hyperscan is None:
            raise RuntimeError("hyperscan is not installed on this platform")
        self._size = len(patterns)
        self._db: Any = None
        if not patterns:
            return
        wider: list[str | None] = list(fallbacks) if fallbacks else [None] * len(patterns)
        key = dbcache.key("block", patterns, ids, wider, _VERSION)
        db = dbcache.load(cache_dir, key, _load)
        if db is None:
            db = self._compile(list(patterns), list(ids), wider)
            dbcache.store(cache_dir, key, hyperscan.dumpb(db))
            dbcache.release_memory()  # the compiler's scratch heap, back to the system
        self._db = db

    @classmethod
    def _compile(cls, patterns: list[str], ids: list[int], wider: list[str | None]) -> Any:
        try:
            return _database(patterns, ids)
        except hyperscan.error as exc:
            first = exc
        # refused: retry the patterns that have a wider form one by one, and
        # use the wider form for those that do not compile on their own
        for i, fallback in enumerate(wider):
            if fallback is not None and fallback != patterns[i] and not _compiles(patterns[i]):
                patterns[i] = fallback
        try:
            return _database(patterns, ids)
        except hyperscan.error:
            raise HyperscanError(cls._locate(patterns, ids) or str(first)) from first

    @staticmethod
    def _locate(patterns: Sequence[str], ids: Sequence[int]) -> str | None:
        for pattern, rule in zip(patterns, ids, strict=True):
            try:
                _database([pattern], [rule])
            except hyperscan.error as exc:
                return f"rule #{rule}: {exc}"
        return None

    @property
    def size(self) -> int:
        """Bytes of the compiled database."""
        return int(self._db.size()) if self._db is not None else 0

    def ends(self, data: bytes, start: int = 0) -> dict[int, list[int]]:
        """End offsets (absolute, ascending) of every match in ``data[start:]``, per rule.

        The byte before ``start`` (if any) is scanned too, as context for
        assertions; whatever ends there is dropped.
        """
        if self._db is None:
            return {}
        base = start - 1 if start > 0 else 0
        block = data[base:] if base else data
        # the handler runs once per match, in C -> Python: keep it to one
        # dict lookup and one append (offsets are shifted afterwards, if at all)
        found: defaultdict[int, list[int]] = defaultdict(list)

        def on_match(rule: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            found[rule].append(to)

        self._db.scan(block, match_event_handler=on_match)
        for rule, bucket in found.items():
            if len(bucket) > 1:
                bucket.sort()  # already in order almost always: linear
            if base:
                found[rule] = [to + base for to in bucket]
        found.default_factory = None  # a plain mapping from here on
        return found


def _database(patterns: Sequence[str], ids: Sequence[int]) -> Any:
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(
        expressions=[p.encode() for p in patterns],
        ids=list(ids),
        elements=len(patterns),
        flags=[hyperscan.HS_FLAG_UTF8] * len(patterns),
    )
    return db


def _compiles(pattern: str) -> bool:
    try:
        _database([pattern], [0])
    except hyperscan.error:
        return False
    return True


def _load(blob: bytes) -> Any:
    """A serialized block database, with its scratch space, ready to scan."""
    db = hyperscan.loadb(blob, hyperscan.HS_MODE_BLOCK)
    db.scratch = hyperscan.Scratch(db)
    return db
