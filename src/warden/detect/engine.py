"""The matching engine: candidates, exact confirm, filters, overlap resolution.

**What a rule finds** is defined by re2 alone: the successive
non-overlapping leftmost-first matches of its pattern over the text (what
``finditer`` yields), each kept when the secret group took part and is
non-empty, a keyword occurs in the whole match (case-insensitive), the
secret's entropy reaches the floor, no allowlist entry applies and the
validator accepts it. A rejected match still consumes its span, exactly as
``finditer`` does.

**How it is found fast.** With hyperscan, one block-mode database of all
rules reports the end offset of every match, from a wider *candidate* form
of each pattern (:func:`~warden.detect.patterns.candidate_patterns`: long
counts relaxed, leading runs cut at a literal, ``$`` kept as ``\\z``, so
a token reports one end, not one per character). Every rule has a bounded
maximum length ``L`` (checked at load), so a match ending at ``e`` starts in
``[e - L, e]``. ``L`` is the pattern's maximum in characters where the
bytes around ``e`` are ASCII, in bytes (four per character) elsewhere. For
each rule, candidates are confirmed in order: search re2 from
``max(chain, e - L)`` with ``endpos = e + L`` (the rest of the buffer is
still context for assertions) and accept the match only if it starts at or
before ``e``; every match that starts there ends inside the window, so the
window cannot truncate it, and the leftmost such match is the one
``finditer`` would yield. The chain position then moves to the match's end.
Without hyperscan (``backend="python"``) each rule's re2 program is simply
chained over the whole text: same results, slower. A property test holds
the two to the same findings.

**What it holds.** A rule's re2 program is compiled the first time the rule
has a candidate (most rules never do in a given process, and an re2 program
with its automata is what costs memory); a rule's allow patterns are one
program, its stopwords another, each shared by the rules that list the same
ones. The hyperscan databases are cached on disk
(:mod:`warden.detect.dbcache`), so a restart loads them instead of
compiling again.

**Only what a policy can use.** ``active`` names the rules some policy can
turn on; the candidate pass compiles only those (with PII off, as by
default, that leaves out the PII family, whose literal-free patterns cost
hyperscan about a third of its pass). Turning on a rule the engine was
built without raises instead of silently finding nothing. Without
``active`` every rule is compiled.

**Placeholders.** Text Warden wrote (``[REDACTED:…]``, ``[HASH:…]``,
``[TOKEN:…]``) comes back: resent in the conversation, echoed by a model.
An internal rule finds placeholders and every finding that overlaps one is
dropped, so a placeholder is never masked again.

**Overlaps.** Findings whose action rewrites text (redact, mask, hash,
tokenize) and that overlap are merged into one span covering all of them,
attributed to one winner: the most severe, then the longest, then the
earliest, then the first in catalogue order. Merging (rather than dropping
the loser) never leaves part of a secret unmasked. Resolution is local to
each group of transitively overlapping findings, which is what lets the
stream masker decide a prefix without the rest. ``block`` and ``review``
findings change no text, so they take no part in this: each is reported as
found (it becomes a decision), overlapping or not.

Offsets inside are UTF-8 byte offsets; :class:`Finding` carries character
offsets into the ``str`` that was scanned (:mod:`warden.detect.utf8`
encodes and converts back). Lone surrogates (which JSON can carry) are
scanned as U+FFFD, which has the same length in both units.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from warden.detect import dbcache
from warden.detect.backends import HyperscanPass, Searcher, hyperscan_available
from warden.detect.catalogue import MASKING_ACTIONS, SEVERITY_RANK, Catalogue, Rule
from warden.detect.entropy import below, shannon
from warden.detect.hold import StreamPass
from warden.detect.patterns import PatternInfo, candidate_patterns, literal_pattern
from warden.detect.utf8 import Wide, char_offsets, encode, encode_mapped
from warden.detect.validators import VALIDATORS, Validator

Backend = Literal["auto", "hyperscan", "python"]
Actions = Sequence[str | None]
"""Per rule index: the action in force, or ``None`` when the rule is off."""

KEEP = "keep"
"""The internal action of Warden's placeholder rule: protect, never render."""

PLACEHOLDER = Rule(
    id="warden-placeholder",
    description="Warden's own placeholders; no rule may match inside one",
    pattern=r"\[(?:REDACTED|HASH|TOKEN):[a-z0-9][a-z0-9-]{0,79}(?::[0-9a-f]{12,16})?\]",
    severity="low",
    family="internal",
)

_KEEP_LOW = 8
_KEEP_HIGH = 16
"""Repetition bounds kept in hyperscan candidate patterns (see ``candidate_patterns``)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One masked span: character offsets of the secret group in the scanned str."""

    rule_id: str
    start: int
    end: int
    action: str
    severity: str


class Hit(NamedTuple):
    """A confirmed match of one rule (byte offsets); ``start < 0`` when filtered out."""

    match_start: int
    match_end: int
    rule: int
    start: int
    end: int


class Explained(NamedTuple):
    """One match of a rule (character offsets) and why it was rejected, if it was."""

    match_start: int
    match_end: int
    start: int
    end: int
    rejected: str


class Span(NamedTuple):
    """A resolved span (byte offsets) and the rule that won it."""

    start: int
    end: int
    rule: int


class _Compiled:
    __slots__ = (
        "_text_keywords",
        "allow",
        "allow_values",
        "group",
        "index",
        "keywords",
        "max_bytes",
        "max_chars",
        "min_entropy",
        "rank",
        "rule",
        "searcher",
        "stopwords",
        "validator",
        "whole_for_validator",
    )

    def __init__(
        self,
        index: int,
        rule: Rule,
        info: PatternInfo,
        allow: Searcher | None,
        stopwords: Searcher | None,
    ) -> None:
        self.index = index
        self.rule = rule
        self.max_bytes = info.max_bytes
        self.max_chars = info.max_chars
        self.searcher = Searcher(rule.pattern, lazy=True)
        self.group = rule.secret_group
        self.keywords = tuple(k.encode() for k in rule.keywords)
        self._text_keywords = rule.keywords
        self.min_entropy = rule.entropy
        self.allow_values = frozenset(rule.allow.values)
        self.allow = allow
        self.stopwords = stopwords
        """One re2 program over the lowered secret: any stopword in it."""
        self.validator: Validator | None = VALIDATORS[rule.validator] if rule.validator else None
        self.whole_for_validator = rule.validator == "pem"
        self.rank = SEVERITY_RANK[rule.severity]

    def accepts(self, data: bytes, spans: list[tuple[int, int]]) -> tuple[int, int]:
        """The secret's span if every filter passes, else ``(-1, -1)``."""
        if self._refusal(data, spans):
            return -1, -1
        return spans[self.group]

    def _keywords_folded(self, match: bytes) -> bool:
        """The keyword check on text, for non-ASCII case folding (rare)."""
        if match.isascii():
            return False
        whole = match.decode().lower()
        return any(k in whole for k in self._text_keywords)

    def rejects(self, data: bytes, spans: list[tuple[int, int]]) -> str:
        """Why a match is not a finding (``""``: it is one). Filters apply in the
        catalogue's documented order: keywords, entropy, allowlist, validator."""
        refusal = self._refusal(data, spans)
        if refusal == _EMPTY:
            return f"group {self.group} is empty"
        if refusal == _ENTROPY:
            start, end = spans[self.group]
            entropy = shannon(data[start:end].decode())
            return f"entropy {entropy:.2f} < {self.min_entropy}"
        if refusal == _VALIDATOR:
            return f"validator {self.rule.validator} refused it"
        return _REASONS[refusal]

    def _refusal(self, data: bytes, spans: list[tuple[int, int]]) -> int:
        """Which filter refuses the match (``0``: none), in the documented order."""
        start, end = spans[self.group]
        if start < 0 or start == end:
            return _EMPTY
        if self.keywords:
            whole = data[spans[0][0] : spans[0][1]].lower()
            for keyword in self.keywords:
                if keyword in whole:
                    break
            else:
                if not self._keywords_folded(data[spans[0][0] : spans[0][1]]):
                    return _KEYWORD
        raw = data[start:end]
        secret = raw.decode()
        if self.min_entropy is not None and below(secret, self.min_entropy):
            return _ENTROPY
        if secret in self.allow_values:
            return _VALUE
        if self.stopwords is not None:
            # ASCII lowers the same as bytes; str.lower also folds the rest
            low = raw.lower() if raw.isascii() else secret.lower().encode()
            if self.stopwords.search(low, 0, len(low)) is not None:
                return _STOPWORD
        if self.allow is not None and self.allow.search(raw, 0, len(raw)) is not None:
            return _PATTERN
        if self.validator is not None:
            subject = (
                data[spans[0][0] : spans[0][1]].decode() if self.whole_for_validator else secret
            )
            if not self.validator(subject):
                return _VALIDATOR
        return 0


_EMPTY, _KEYWORD, _ENTROPY, _VALUE, _STOPWORD, _PATTERN, _VALIDATOR = range(1, 8)
_REASONS = {
    0: "",
    _KEYWORD: "no keyword in the match",
    _VALUE: "allowlisted value",
    _STOPWORD: "allowlisted stopword",
    _PATTERN: "allowlisted pattern",
}


class Engine:
    """A compiled catalogue. Immutable: a rule change builds a new engine."""

    def __init__(
        self,
        catalogue: Catalogue,
        *,
        backend: Backend = "auto",
        stream: bool = True,
        cache: bool | Path = True,
        active: Collection[str] | None = None,
    ) -> None:
        if backend == "auto":
            backend = "hyperscan" if hyperscan_available() else "python"
        self.catalogue = catalogue
        self.backend: Literal["hyperscan", "python"] = backend
        cache_dir = dbcache.default_dir() if cache is True else cache or None
        # Warden's own placeholders are rule number n, always on: no finding
        # may overlap one (see ``resolve``).
        rules = (*catalogue.rules, PLACEHOLDER)
        infos = (*catalogue.infos, PLACEHOLDER.info())
        self._keep = len(catalogue.rules)
        shared: dict[tuple[str, ...], Searcher] = {}
        self._rules = tuple(
            _Compiled(
                i,
                rule,
                info,
                _union(rule.allow.patterns, shared),
                _union(tuple(literal_pattern(w.lower()) for w in rule.allow.stopwords), shared),
            )
            for i, (rule, info) in enumerate(zip(rules, infos, strict=True))
        )
        self._ids = tuple(r.id for r in rules)
        self._severity = tuple(r.severity for r in rules)
        skipped: tuple[int, ...] = ()
        if active is not None:
            wanted = frozenset(active)
            skipped = tuple(i for i, rule in enumerate(catalogue.rules) if rule.id not in wanted)
        self._skipped = skipped
        """Rules left out of the candidate pass: no policy may turn them on."""
        left_out = frozenset(skipped)
        self.default_actions: tuple[str | None, ...] = tuple(
            r.action if r.enabled and i not in left_out else None
            for i, r in enumerate(catalogue.rules)
        )
        self._defaults: tuple[str | None, ...] | None = None
        self._checked: dict[int, tuple[tuple[str | None, ...], bool]] = {}
        """Tuples :meth:`actions` returned (checked), by id, each with whether
        it turns any rule on. Each entry holds its tuple, so an object with
        that id is that same (immutable) tuple: policies ask again per channel."""
        self._pass: HyperscanPass | None = None
        if backend == "hyperscan":
            patterns: list[str] = []
            ids: list[int] = []
            wider: list[str | None] = []
            for i, rule in enumerate(rules):
                if i in left_out:
                    continue
                tight = candidate_patterns(rule.pattern, _KEEP_LOW, _KEEP_HIGH)
                patterns.extend(tight)
                ids.extend([i] * len(tight))
                # the same without \z, should hyperscan refuse it where it is
                loose: list[str | None] = [None] * len(tight)
                if any(r"\z" in p for p in tight):
                    found = candidate_patterns(rule.pattern, _KEEP_LOW, _KEEP_HIGH, keep_end=False)
                    if len(found) == len(tight):
                        loose = list(found)
                wider.extend(loose)
            try:
                self._pass = HyperscanPass(patterns, ids, fallbacks=wider, cache_dir=cache_dir)
            except ValueError as exc:
                raise ValueError(self._name_rule(str(exc))) from exc
        self.stream_pass = (
            StreamPass(rules, infos, hyperscan=backend == "hyperscan", cache_dir=cache_dir)
            if stream
            else None
        )
        """What the stream masker runs per delta (built here, so the first stream pays nothing)."""
        # loading the catalogue and compiling leave tens of MB of freed heap
        dbcache.release_memory()

    @classmethod
    def build(
        cls,
        catalogue: Catalogue | None = None,
        *,
        backend: Backend = "auto",
        stream: bool = True,
        cache: bool | Path = True,
        active: Collection[str] | None = None,
    ) -> Engine:
        cat = catalogue if catalogue is not None else Catalogue.default()
        return cls(cat, backend=backend, stream=stream, cache=cache, active=active)

    def _name_rule(self, message: str) -> str:
        match = re.match(r"rule #(\d+): (.*)", message, re.S)
        if not match:
            return f"hyperscan: {message}"
        rule = self.catalogue.rules[int(match.group(1))]
        return f"{rule.id}: pattern {rule.pattern!r} does not compile in hyperscan: {match[2]}"

    # -- public -------------------------------------------------------------------

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.catalogue.rules

    def rule_id(self, index: int) -> str:
        return self._ids[index]

    def severity(self, index: int) -> str:
        return self._severity[index]

    def max_bytes(self, index: int) -> int:
        return self._rules[index].max_bytes

    def actions(self, actions: Actions | None = None) -> tuple[str | None, ...]:
        """Per-rule actions (the catalogue's by default) as the building blocks
        below take them: with Warden's placeholder rule on at the end."""
        if actions is None:
            if self._defaults is not None:
                return self._defaults
        elif (seen := self._checked.get(id(actions))) is not None and seen[0] is actions:
            return seen[0]  # a tuple this returned before: checked already
        acts = self.default_actions if actions is None else tuple(actions)
        if len(acts) == self._keep + 1 and acts[-1] == KEEP:
            pass  # already in this form
        elif len(acts) != self._keep:
            raise ValueError(f"{len(acts)} actions for {self._keep} rules")
        else:
            acts = (*acts, KEEP)
        for index in self._skipped:
            if acts[index] is not None:
                raise ValueError(
                    f"rule {self._ids[index]!r} is on, but this engine was built without it "
                    "(build it with the policy's rules active)"
                )
        if len(self._checked) >= 64:
            self._checked.clear()
        self._checked[id(acts)] = (acts, any(a is not None for a in acts[:-1]))
        if actions is None:
            self._defaults = acts
        return acts

    def masks_any(self, actions: tuple[str | None, ...]) -> bool:
        """Whether ``actions`` (as :meth:`actions` returned them) turn any
        rule on, the placeholder rule aside. A stream masker asks for every
        channel, and the answer is the same for the same (immutable) tuple."""
        seen = self._checked.get(id(actions))
        if seen is not None and seen[0] is actions:
            return seen[1]
        return any(a is not None for a in actions[:-1])

    def scan(self, text: str, actions: Actions | None = None) -> list[Finding]:
        """Resolved findings over ``text``: what masking the whole text would mask."""
        acts = self.actions(actions)
        data, wide = encode_mapped(text)
        spans = self.resolve(self.hits(data, 0, acts), acts)
        return self.to_findings(text, data, spans, acts, wide=wide)

    def scan_all(self, text: str, actions: Actions | None = None) -> list[Finding]:
        """Every accepted finding before overlap resolution (for ``rules test``, tests)."""
        acts = self.actions(actions)
        data, wide = encode_mapped(text)
        hits = self.hits(data, 0, acts)
        spans = sorted(Span(h.start, h.end, h.rule) for h in hits if h.start >= 0)
        return self.to_findings(text, data, spans, acts, wide=wide)

    def explain(self, text: str, rule_id: str) -> list[Explained]:
        """Every match of one rule in ``text`` and why it is or is not a finding."""
        compiled = self._rules[self.catalogue.index(rule_id)]
        data = encode(text)
        out: list[Explained] = []
        chain, size = 0, len(data)
        while chain < size:
            spans = compiled.searcher.search(data, chain, size)
            if spans is None:
                break
            reason = compiled.rejects(data, spans)
            group = spans[compiled.group]
            offsets = [*spans[0], *(group if group[0] >= 0 else spans[0])]
            conv = char_offsets(data, offsets)
            out.append(
                Explained(
                    conv[spans[0][0]], conv[spans[0][1]], conv[offsets[2]], conv[offsets[3]], reason
                )
            )
            chain = spans[0][1]
        return out

    # -- building blocks (the stream masker uses these) -------------------------------

    def hits(
        self,
        data: bytes,
        pos: int,
        actions: Actions,
        resume: Mapping[int, int] | None = None,
        ends: Mapping[int, list[int]] | None = None,
        only: Sequence[int] | None = None,
    ) -> list[Hit]:
        """Every match starting at or after ``pos`` (per rule, at or after ``resume``).

        ``ends`` are candidate end offsets from a pass the caller already ran
        over ``data[pos - 1:]`` (the stream pass); otherwise this runs one.
        Without hyperscan, ``only`` limits the rules tried (the stream pass
        knows which can match at all).
        """
        out: list[Hit] = []
        if ends is None and self._pass is not None:
            ends = self._pass.ends(data, pos)
        if ends is not None:
            ascii = data.isascii()
            for index, rule_ends in ends.items():
                if actions[index] is not None:
                    start = pos if resume is None else max(pos, resume.get(index, pos))
                    self._confirm(self._rules[index], data, rule_ends, start, out, ascii)
        else:
            rules = self._rules if only is None else [self._rules[i] for i in only]
            for compiled in rules:
                if actions[compiled.index] is not None:
                    index = compiled.index
                    start = pos if resume is None else max(pos, resume.get(index, pos))
                    self._chain(compiled, data, start, out)
        return out

    @staticmethod
    def _confirm(
        rule: _Compiled, data: bytes, ends: list[int], chain: int, out: list[Hit], ascii: bool
    ) -> None:
        width = rule.max_bytes
        chars = rule.max_chars
        size = len(data)
        search = rule.searcher.search
        i = 0
        count = len(ends)
        while i < count:
            end = ends[i]
            if end <= chain:
                i += 1
                continue
            # A match has at most ``chars`` characters: as many bytes where
            # they are ASCII, which most text is (``width`` assumes 4 each).
            w = width
            if chars < width and (ascii or data[end - chars : end + chars].isascii()):
                w = chars
            low = end - w if end - w > chain else chain
            high = end + w if end + w < size else size
            spans = search(data, low, high)
            if spans is None:
                # nothing lies wholly inside [low, high): no match ends there
                i = bisect_right(ends, high, i + 1)
                continue
            if spans[0][0] > end:
                # nothing starts in [low, end]; a match ending before the one
                # found would lie wholly inside the window, and re2 found none
                i = bisect_left(ends, spans[0][0], i + 1)
                continue
            start, stop = rule.accepts(data, spans)
            out.append(Hit(spans[0][0], spans[0][1], rule.index, start, stop))
            chain = spans[0][1]

    @staticmethod
    def _chain(rule: _Compiled, data: bytes, chain: int, out: list[Hit]) -> None:
        size = len(data)
        search = rule.searcher.search
        while chain < size:
            spans = search(data, chain, size)
            if spans is None:
                return
            start, stop = rule.accepts(data, spans)
            out.append(Hit(spans[0][0], spans[0][1], rule.index, start, stop))
            chain = spans[0][1]

    def resolve(self, hits: Iterable[Hit], actions: Actions) -> list[Span]:
        """Spans to report, sorted: masking findings merged per overlapping group
        (each group to its winner), plus every ``block`` / ``review`` finding as is."""
        accepted = [h for h in hits if h.start >= 0]
        keep = [Span(h.start, h.end, h.rule) for h in accepted if h.rule == self._keep]
        found = []
        out: list[Span] = list(keep)
        for h in accepted:
            if h.rule == self._keep or (keep and _overlaps(h, keep)):
                continue
            if actions[h.rule] in MASKING_ACTIONS:
                found.append((h.start, h.end, h.rule))
            else:
                out.append(Span(h.start, h.end, h.rule))
        found.sort()
        rank = self._rules
        group_start = group_end = best = -1
        best_key: tuple[int, int, int, int] = (0, 0, 0, 0)
        for start, end, rule in found:
            key = (rank[rule].rank, end - start, -start, -rule)
            if start < group_end:
                group_end = max(group_end, end)
                if key > best_key:
                    best, best_key = rule, key
                continue
            if best >= 0:
                out.append(Span(group_start, group_end, best))
            group_start, group_end, best, best_key = start, end, rule, key
        if best >= 0:
            out.append(Span(group_start, group_end, best))
        out.sort()
        return out

    def to_findings(
        self,
        text: str,
        data: bytes,
        spans: Sequence[Span],
        actions: Actions,
        base: int = 0,
        *,
        wide: Sequence[Wide] | None = None,
    ) -> list[Finding]:
        """Byte spans in ``data`` (the encoding of ``text``) -> character findings
        (``wide``: where ``data`` is not ASCII, from :func:`encode_mapped`)."""
        if not spans:
            return []
        if len(text) == len(data):
            convert = None
        else:
            convert = char_offsets(data, [o for s in spans for o in (s.start, s.end)], wide)
        out = []
        for span in spans:
            if span.rule == self._keep:
                continue
            action = actions[span.rule]
            assert action is not None
            start, end = span.start, span.end
            if convert is not None:
                start, end = convert[start], convert[end]
            out.append(
                Finding(
                    self._ids[span.rule],
                    start + base,
                    end + base,
                    action,
                    self._severity[span.rule],
                )
            )
        return out


def _union(patterns: tuple[str, ...], shared: dict[tuple[str, ...], Searcher]) -> Searcher | None:
    """One re2 program for a rule's allow patterns or stopwords (any of them
    matching is a match of the alternation), shared by every rule with the same
    list. (Compiled here, not when first needed: a few dozen small programs, and
    a union too large for re2 fails the build rather than a scan.)"""
    if not patterns:
        return None
    found = shared.get(patterns)
    if found is None:
        union = "|".join(f"(?:{p})" for p in patterns)
        found = shared[patterns] = Searcher(union)
    return found


def _overlaps(hit: Hit, spans: list[Span]) -> bool:
    return any(s.start < hit.end and hit.start < s.end for s in spans)
