"""The stream masker: mask a text that arrives in pieces, holding back the least.

Why this is hand-written: regex libraries answer "where are the matches in
this text"; hyperscan's stream mode answers it across chunk boundaries but
only reports a match once it has *ended*. A masker must also know, at every
moment, which suffix could still *become* part of a match, because that
suffix must not be sent yet, and it must release everything else at once.
No library exposes that (partial-match support exists only in backtracking
engines without linear-time guarantees), so it is built here from two
linear-time pieces the engine already has.

**The invariant.** For any split of a text into deltas (one character each
included), ``"".join(feed(d) for d in deltas) + flush()`` equals masking the
whole text at once (:meth:`Engine.scan` + :meth:`Masker.apply`). The
property tests check exactly this.

**Where the hold starts.** Position ``s`` is *live* when ``text[s:]`` could
still grow into a match of some rule (or is a match that more text could
change: a greedy repeat, a trailing ``\\b``). Exactly, that is "``text[s:]``
matches the rule's prefix closure" (:mod:`warden.detect.patterns`); the hold
``h`` is the earliest live position. Checking every rule's closure on every
delta costs a regex search per live rule, and a tail of prose keeps dozens
of rules live, so :mod:`warden.detect.hold` answers in bulk from each rule's
*shape* (:mod:`warden.detect.shape`): the literal anchor every match
contains (``ghp_``, ``-----BEGIN``, ``password``) and the character class
of what may come before it. For most rules the live suffix is then a run
of token characters (one ``bytes.rstrip`` for all of them), the tail of an
anchor (one re2 search over all anchor prefixes) or starts at an anchor
occurrence in the unemitted text (found by one hyperscan literal pass, then
checked exactly with that rule's closure); the ten or so rules of no simple
shape are checked exactly, and only when hyperscan says they are live at
the end. Every step widens, never narrows, what is live, so ``h`` is safe.

What that costs in hold-back (``benchmarks/bench_detect.py``, the built-in
catalogue, a model-like stream of prose and code in 3-50 character
deltas): a median of 6 characters held (the current word and the character
before it, which a rule like ``(?:^|[^A-Za-z0-9])user@`` needs), a mean of
about 17, a 99th percentile of about 300 (a ``key = "...`` assignment or a
PEM block in progress, held until it ends or its rule's maximum length
rules it out); about 30 % of characters leave one delta later than they
arrived. Prose alone waits for at most its last word.

**Why text before ``h`` is decided.** If ``text[s:]`` is not a prefix of any
match, every match starting at ``s`` ends inside the text seen so far with
its lookahead character known, so what re2 yields there cannot change. So
per-rule ``finditer`` results starting before ``h`` are final. Overlap
resolution is local to groups of overlapping findings, so a group that
reaches past ``h`` (a later finding might join it) is held whole; anything
before it is emitted.

**Amortised work.** Each feed looks only at the unemitted region (plus one
character of context for ``\\b``): the hold computation and, when something
can be emitted, the engine's candidate pass over that region. A rule whose last determined
match reaches past the emission point keeps its ``finditer`` position in
``_resume`` so the next pass continues its chain exactly.

**Caps.** The held text is bounded by the longest rule, except for a chain
of overlapping findings from different rules, which is held whole;
:class:`HoldOverflow` is raised (failing the exchange closed) if that ever
exceeds ``max_held`` characters.
"""

from __future__ import annotations

from collections.abc import Callable

from warden.detect.catalogue import MASKING_ACTIONS
from warden.detect.engine import Actions, Engine, Finding, Hit, Span
from warden.detect.utf8 import char_offsets, encode

Render = Callable[[Finding, str], str]


class HoldOverflow(RuntimeError):
    """More than ``max_held`` characters would have to be held back."""


def _char_start(data: bytes, offset: int) -> int:
    """Start of the UTF-8 character that ends at ``offset`` (> 0)."""
    i = offset - 1
    while i > 0 and data[i] & 0xC0 == 0x80:
        i -= 1
    return i


class StreamMasker:
    """Masks one channel; ``feed`` returns what is safe to emit now."""

    def __init__(
        self,
        engine: Engine,
        render: Render,
        actions: Actions | None = None,
        *,
        max_held: int = 1 << 20,
    ) -> None:
        self._engine = engine
        self._render = render
        self._actions = engine.actions(actions)
        self._active = engine.masks_any(self._actions)  # not the placeholder rule
        self._max_held = max_held
        self._text = ""  # one context character (once anything was emitted) + held text
        self._data = b""  # its UTF-8 encoding for scanning
        self._ctx = 0  # context characters at the start of _text (0 or 1)
        self._ctx_bytes = 0
        self._base = 0  # absolute character offset of _text[0]
        # offsets below are bytes into _data
        self._resume: dict[int, int] = {}  # rule -> where its finditer chain continues
        self._pending: list[Hit] = []  # decided hits whose findings are not emitted yet
        self.findings: list[Finding] = []
        """What the last ``feed`` / ``flush`` masked, absolute character offsets."""

    @property
    def held(self) -> int:
        """Characters held back right now."""
        return len(self._text) - self._ctx

    @property
    def position(self) -> int:
        """Characters emitted so far (in input terms)."""
        return self._base + self._ctx

    def feed(self, text: str) -> str:
        self.findings = []
        if not text:
            return ""
        if not self._active:
            self._base += len(text)
            return text
        self._text += text
        self._data += encode(text)
        step = self._engine.stream_pass
        assert step is not None, "engine built with stream=False"
        hold = step.hold(self._data, self._ctx_bytes)
        if hold == self._ctx_bytes:
            if len(self._text) - self._ctx > self._max_held:
                raise HoldOverflow(f"more than {self._max_held} characters held back")
            return ""
        return self._emit(hold, final=False)

    def whole(self, text: str) -> str:
        """Mask a complete text at once: ``feed(text) + flush()`` without
        the hold-back pass a stream needs (a non-streamed body)."""
        if not self._active or not text:
            self.findings = []
            self._base += len(text)
            return text
        self._text += text
        self._data += encode(text)
        return self.flush()

    def flush(self) -> str:
        """Emit everything still held (the text is complete) and reset."""
        self.findings = []
        if not self._active or len(self._data) == self._ctx_bytes:
            self._reset()
            return ""
        out = self._emit(len(self._data), final=True)
        self._reset()
        return out

    def _reset(self) -> None:
        self._base += len(self._text)
        self._text, self._data = "", b""
        self._ctx = self._ctx_bytes = 0
        self._resume = {}
        self._pending = []

    def _emit(self, hold: int, *, final: bool) -> str:
        engine, data, text = self._engine, self._data, self._text
        pos = self._ctx_bytes
        resume = self._resume
        step = engine.stream_pass
        only = None if step is None else step.candidates(data, pos)
        hits = engine.hits(data, pos, self._actions, resume or None, only=only)
        if self._pending:
            hits = self._pending + hits
        if hits and not final:
            hits = [h for h in hits if h.match_start < hold]
        cut = hold
        spans: list[Span] = []
        if hits:
            spans = engine.resolve(hits, self._actions)
            if not final:
                # a span reaching past the cut may still grow or gain an overlapping
                # finding: hold it whole (and whatever overlaps it, to a fixpoint)
                moved = True
                while moved:
                    moved = False
                    for span in spans:
                        if span.start < cut < span.end:
                            cut = span.start
                            moved = True
                spans = [s for s in spans if s.end <= cut]
        if cut == pos:
            if len(text) - self._ctx > self._max_held:
                raise HoldOverflow(f"more than {self._max_held} characters held back")
            return ""

        # matches decided before the cut whose findings lie after it are carried
        # over as they are; finditer positions past the cut carry over too
        pending = [h for h in hits if h.match_start < cut and h.start >= cut]
        carried = {r: p for r, p in resume.items() if p > cut}
        for h in hits:
            if h.match_start < cut:
                if h.match_end > cut:
                    carried[h.rule] = h.match_end
                else:
                    carried.pop(h.rule, None)

        out = self._render_range(text, data, pos, cut, spans)

        # keep one character before the cut as context for \b, ^ and friends
        keep = _char_start(data, cut)
        if len(text) == len(data):
            keep_chars, cut_chars = keep, cut
        else:
            conv = char_offsets(data, [keep, cut])
            keep_chars, cut_chars = conv[keep], conv[cut]
        self._text = text[keep_chars:]
        self._data = data[keep:]
        self._ctx, self._ctx_bytes = cut_chars - keep_chars, cut - keep
        self._base += keep_chars
        self._pending = [
            Hit(h.match_start - keep, h.match_end - keep, h.rule, h.start - keep, h.end - keep)
            for h in pending
        ]
        self._resume = {r: p - keep for r, p in carried.items()} if carried else {}
        return out

    def _render_range(self, text: str, data: bytes, pos: int, cut: int, spans: list[Span]) -> str:
        ascii_only = len(text) == len(data)
        if ascii_only:
            conv = None
        else:
            conv = char_offsets(data, [pos, cut] + [o for s in spans for o in (s.start, s.end)])
        start_c = pos if conv is None else conv[pos]
        cut_c = cut if conv is None else conv[cut]
        if not spans:
            return text[start_c:cut_c]
        findings = self._engine.to_findings(text, data, spans, self._actions)
        parts = []
        cursor = start_c
        for finding in findings:
            if finding.action not in MASKING_ACTIONS:
                continue
            parts.append(text[cursor : finding.start])
            parts.append(self._render(finding, text[finding.start : finding.end]))
            cursor = finding.end
        parts.append(text[cursor:cut_c])
        base = self._base
        self.findings = [
            Finding(f.rule_id, f.start + base, f.end + base, f.action, f.severity) for f in findings
        ]
        return "".join(parts)
