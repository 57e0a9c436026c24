"""Where the stream masker must start holding back, computed per delta.

The hold starts at the smallest ``s`` such that the text from ``s`` to the
end could still be the beginning of a match of some rule. Exactly, that is
"``text[s:]`` matches the rule's prefix closure" (see
:mod:`warden.detect.patterns`); checking every rule's closure on every
delta would cost a regex search per live rule, and a tail of prose keeps
dozens of rules live. :mod:`warden.detect.shape` sorts rules so that most
are answered in bulk:

1. **Runs.** A rule whose part before its anchor (or, without an anchor,
   the whole rule) is a run over a canonical class can only be live from
   one character before the run of that class ending the text. One
   ``bytes.rstrip`` per class answers for all such rules.
2. **Anchor prefixes.** The text can end inside an anchor (``-----BEGI``).
   Anchors whose prefixes leave the run class are found by one re2 search of
   the union of their prefixes, anchored at the end.
3. **Anchor occurrences.** Once an anchor occurred in the unemitted text,
   the rule's own prefix closure decides from where it is live; one re2
   search per such rule, starting where its anchor allows and no further
   back from the end than the rule's longest match (the closure relaxes
   counted repeats, so a ``[\\s\\S]{0,200}`` after the anchor would keep it
   live for ever).
4. **Exceptions.** The few rules of no simple shape have their anchored
   closures in the same hyperscan database as the anchors; each one live at
   the end gets the exact re2 search.

Every step only widens the live set, so the hold is safe; it is the exact
minimum for exceptions and anchored occurrences, and at most a run's
boundary character more than it for the rest. Without hyperscan, anchors
are found through an index of their first two bytes and every exception is
checked on every delta: the same holds, more work.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from warden.detect.backends import HyperscanPass, Searcher
from warden.detect.catalogue import Rule
from warden.detect.patterns import (
    PatternInfo,
    exact_closure,
    literal_pattern,
    prefix_closure,
    starts_like_newline,
)
from warden.detect.shape import CLASSES, TOKEN, Shape, shape

_TOKEN = bytes(sorted(TOKEN))
_EXACT_LIMIT = 600
"""Characters; longer exact closures make hyperscan compile for seconds."""


class StreamPass:
    __slots__ = (
        "_chars",
        "_closures",
        "_exc",
        "_exceptions",
        "_index",
        "_leads",
        "_live",
        "_longest",
        "_patterns",
        "_reach",
        "_rules",
        "_runs",
        "_trie",
        "_trie_lead",
        "_trie_reach",
        "_unanchored",
        "_unlike",
    )

    def __init__(
        self,
        rules: Sequence[Rule],
        infos: Sequence[PatternInfo],
        *,
        hyperscan: bool,
        cache_dir: Path | None = None,
    ) -> None:
        self._rules = len(infos)
        self._patterns = [rule.pattern for rule in rules]
        self._closures: dict[int, Searcher] = {}
        self._live: HyperscanPass | None = None
        self._trie: Searcher | None = None
        self._trie_reach = 0
        self._trie_lead = 0
        self._runs: list[tuple[bytes, int, int]] = []
        self._reach: list[int] = []
        self._longest = [info.max_bytes for info in infos]
        """Each rule's longest match in bytes: no match starts further back from the end."""
        self._exceptions: list[int] = []
        self._exc: frozenset[int] = frozenset()
        self._chars: list[bytes] = []
        self._leads: list[int] = []
        self._index: _AnchorIndex | None = None
        self._unanchored: list[int] = []
        shapes = [shape(rule.pattern) for rule in rules]
        widths = [0] * len(CLASSES)
        leads = [0] * len(CLASSES)
        trie: list[str] = []
        trie_reach = 0
        indexed: list[tuple[int, Shape]] = []
        live_patterns: list[str] = []
        live_ids: list[int] = []
        for index, (rule, info, found) in enumerate(zip(rules, infos, shapes, strict=True)):
            anchor_bytes = max((len(a.encode()) * 3 for a in found.anchors), default=0)
            # how far before an anchor occurrence's end (or, for an exception,
            # before the end) the rule's partial match can start
            self._chars.append(found.chars)
            self._leads.append(found.lead)
            if found.anchors:
                indexed.append((index, found))
            else:
                self._unanchored.append(index)
            if found.run is None:
                self._exceptions.append(index)
                self._reach.append(info.max_bytes)
                live_patterns.append(_exception(rule.pattern))
                live_ids.append(self._rules + index)
                continue
            self._reach.append(found.pre_bytes + anchor_bytes)
            span = found.pre_bytes + anchor_bytes if found.anchors else info.max_bytes
            widths[found.run] = max(widths[found.run], span)
            leads[found.run] = max(leads[found.run], found.lead)
            if found.anchors:
                live_patterns.append(_alternation(found))
                live_ids.append(index)
                outside = _outside(found, CLASSES[found.run])
                if outside:
                    trie.extend(outside)
                    trie_reach = max(trie_reach, found.pre_bytes + anchor_bytes)
                    self._trie_lead = max(self._trie_lead, found.lead)
        self._runs = [
            (bytes(sorted(cls)), width, lead)
            for cls, width, lead in zip(CLASSES, widths, leads, strict=True)
            if width
        ]
        if trie:
            trie_pattern = f"(?:{'|'.join(sorted(set(trie)))})\\z"
            self._trie = Searcher(trie_pattern, max_mem=64 << 20, lazy=True)
        self._trie_reach = trie_reach
        self._exc = frozenset(self._exceptions)
        self._unlike = [r for r in self._exceptions if not starts_like_newline(self._patterns[r])]
        """Exceptions a leading newline does not stand in for: checked at the start."""
        if hyperscan:
            self._live = HyperscanPass(live_patterns, live_ids, cache_dir=cache_dir)
        else:
            self._index = _AnchorIndex(indexed)

    def _closure(self, rule: int) -> Searcher:
        found = self._closures.get(rule)
        if found is None:
            closure = prefix_closure(self._patterns[rule])
            found = self._closures[rule] = Searcher(f"(?:{closure})\\z")
        return found

    def candidates(self, data: bytes, pos: int) -> list[int] | None:
        """Without hyperscan: the rules that can match in ``data[pos:]`` at all
        (an anchor of theirs occurs there, or they have none); ``None`` with it."""
        if self._index is None:
            return None
        return sorted({*self._index.find(data, pos), *self._unanchored})

    def hold(self, data: bytes, pos: int) -> int:
        """The earliest offset ``>= pos`` from which ``data`` could end mid-match."""
        size = len(data)
        best = size
        tail = data[pos:]
        # Where the run of each class that ends the text starts, then moved
        # back over a rule's lead characters: one rstrip per class, and plain
        # arithmetic when the tail is ASCII (most deltas are).
        ascii = tail.isascii()
        run_starts: dict[bytes, int] = {}
        for chars, width, lead in self._runs:
            run = run_starts[chars] = size - (len(tail) - len(tail.rstrip(chars)))
            if ascii:
                start = run - lead if run - lead > pos else pos
            else:
                start = _back(data, run, lead, pos)
            if start < size - width:
                start = size - width
            if start < best:
                best = start
        if best <= pos:
            # The text is live from its start (a word still growing): every
            # step below could only move the hold earlier, and it is at pos.
            return pos
        if self._trie is not None:
            spans = self._trie.search(data, pos, size)
            if spans is not None:
                # the text ends inside an anchor; the run before it may belong too
                anchor = spans[0][0]
                head = data[pos:anchor]
                start = anchor - (len(head) - len(head.rstrip(_TOKEN)))
                start = _back(data, start, self._trie_lead, pos)
                if start < anchor - self._trie_reach:
                    start = anchor - self._trie_reach
                if start < best:
                    best = start

        rules = self._rules
        reach = self._reach
        longest = self._longest
        bounds: dict[int, int] = {}
        shift = 0
        if pos == 0:
            # The start of the text: the closures are built for the middle of
            # one. A "\n" before it stands in for its start where a rule's
            # pattern allows (``starts_like_newline``); the rest are checked.
            for rule in self._unlike:
                bounds[rule] = size - reach[rule]
        if self._live is not None:
            if pos == 0:
                reports = self._live.ends(b"\n" + data, 1)
                shift = 1
            else:
                reports = self._live.ends(data, pos)
        else:
            assert self._index is not None
            reports = {r: e for r, e in self._index.find(data, pos).items() if r not in self._exc}
            for rule in self._exceptions:
                reports[rules + rule] = [size]
        for key, ends in reports.items():
            if key >= rules:  # an exception live at the end
                rule = key - rules
                chars = self._chars[rule]
                found = run_starts.get(chars)
                if found is None:
                    found = run_starts[chars] = size - (len(tail) - len(tail.rstrip(chars)))
                run = found
                lead = self._leads[rule]
                if ascii:
                    low = run - lead if run - lead > pos else pos
                else:
                    low = _back(data, run, lead, pos)
                if low < best:
                    bounds[rule] = max(low, size - reach[rule])
            else:  # an anchor occurrence
                low = ends[0] - shift - reach[key]
                # The closure relaxes counted repeats (``[\s\S]{0,200}`` to
                # ``*``), so past the anchor it may match to any length: only
                # the rule's longest match bounds how far back a start can be.
                if low < size - longest[key]:
                    low = size - longest[key]
                if low < bounds.get(key, size):
                    bounds[key] = low
        for rule, low in bounds.items():
            if low < pos:
                low = pos
            if low >= best:
                continue
            spans = self._closure(rule).search(data, low, size)
            if spans is not None and spans[0][0] < best:
                best = spans[0][0]
        if best <= pos:
            return pos
        while best > pos and best < size and data[best] & 0xC0 == 0x80:
            best -= 1  # bounds count bytes: back to the start of a character
        return best


def _back(data: bytes, offset: int, chars: int, floor: int) -> int:
    """``offset`` moved back over ``chars`` UTF-8 characters, not below ``floor``."""
    for _ in range(chars):
        if offset <= floor:
            return floor
        offset -= 1
        while offset > floor and data[offset] & 0xC0 == 0x80:
            offset -= 1
    return offset


def _exception(pattern: str) -> str:
    """An exception's closure for hyperscan, away from the start of the text:
    exact (counts kept) when that stays small, so the rule is reported live
    only when it is; else with counts relaxed."""
    exact = exact_closure(pattern)
    if exact is not None and len(exact) <= _EXACT_LIMIT:
        return f"(?:{exact})\\z"
    return f"(?:{prefix_closure(pattern, hyperscan=True)})\\z"


class _AnchorIndex:
    """Anchor occurrences without hyperscan: candidates by their first two bytes.

    Case-folded anchors are looked up in the lowered text; U+212A and U+017F
    (which fold onto k and s) are first replaced by those letters, which
    moves later offsets *down*, so the bounds computed from them stay safe.
    """

    def __init__(self, anchored: list[tuple[int, Shape]]) -> None:
        self._exact: dict[bytes, list[tuple[bytes, int]]] = {}
        self._folded: dict[bytes, list[tuple[bytes, int]]] = {}
        self._short: list[tuple[bytes, int, bool]] = []
        for rule, found in anchored:
            table = self._folded if found.folded else self._exact
            for anchor in found.anchors:
                raw = anchor.encode()
                if len(raw) < 2:
                    self._short.append((raw, rule, found.folded))
                else:
                    table.setdefault(raw[:2], []).append((raw, rule))

    def find(self, data: bytes, pos: int) -> dict[int, list[int]]:
        base = pos - 1 if pos > 0 else 0
        region = data[base:]
        lowered = region.replace(_KELVIN, b"k").replace(_LONG_S, b"s").lower()
        found: dict[int, list[int]] = {}
        for table, text in ((self._exact, region), (self._folded, lowered)):
            if not table:
                continue
            for i in range(len(text) - 1):
                for anchor, rule in table.get(text[i : i + 2], ()):
                    if text.startswith(anchor, i) and rule not in found:
                        found[rule] = [base + i + len(anchor)]
        for anchor, rule, folded in self._short:
            at = (lowered if folded else region).find(anchor)
            if at >= 0 and rule not in found:
                found[rule] = [base + at + len(anchor)]
        return found


_KELVIN = "\u212a".encode()
_LONG_S = "\u017f".encode()


def _alternation(found: Shape) -> str:
    body = "|".join(literal_pattern(a) for a in found.anchors)
    return f"(?i:{body})" if found.folded else f"(?:{body})"


def _outside(found: Shape, run: frozenset[int]) -> list[str]:
    """Anchors whose proper prefixes leave the run class, as prefix patterns."""
    out = []
    for anchor in found.anchors:
        head = anchor[:-1].encode()
        if head and not set(head) <= run:
            prefixes = "|".join(literal_pattern(anchor[:i]) for i in range(1, len(anchor)))
            out.append(f"(?i:{prefixes})" if found.folded else f"(?:{prefixes})")
    return out
