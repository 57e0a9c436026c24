"""Where a rule's partial match can start: anchors and runs, from the parse tree.

The stream masker must know the earliest position from which the text seen
so far could still grow into a match. Doing that exactly per rule on every
delta costs a regex search per live rule, and with hundreds of rules a
tail of prose keeps dozens live. Most rules have a simple shape that gives
a cheap bound instead:

* an **anchor**: a literal every match contains (``ghp_``, ``-----BEGIN``,
  ``password``; a set of alternatives, possibly case-insensitive), with a
  bounded part ``X`` before it;
* ``X`` (or, without an anchor, the whole pattern) is a **run** over a
  small character class, after at most one boundary character (``\\b``,
  ``(?:^|[^A-Za-z0-9])``).

Then a partial match either contains a complete anchor occurrence (found by
a literal scan of the unemitted text, then checked exactly with the rule's
prefix closure), or it is a run, possibly ending in a proper prefix of an
anchor: it starts no earlier than one character before the run of that
class that ends the text. Rules that fit neither are *exceptions* and are
checked exactly with their prefix closures.

All of this only widens what may be live, so holding from the smallest
bound is always safe; it is tight where it matters (the current word, the
current ``key = "...`` assignment).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from warden.detect.patterns import _c, _parser, _Walker

_WALKER = _Walker()

WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
DIGITS = frozenset(b"0123456789")
SPACE = frozenset(b" \t\n\r\f\v")

# The canonical run classes, narrowest first. A rule's run class is widened to
# the first of these that contains it, so the masker strips a few classes per
# delta instead of one per rule. Token characters never include whitespace or
# brackets; the numeric class allows the separators numbers are written with.
# The bytes of U+212A and U+017F are in both (re2 and hyperscan fold k and s
# onto them under (?i)); they only lengthen a run.
_FOLDS = frozenset(b"\xe2\x84\xaa\xc5\xbf")
TOKEN = WORD | frozenset(b"-.+/=@%~:'\"$!?&#*^|") | _FOLDS
NUMERIC = DIGITS | frozenset(b" \t-.()+/") | _FOLDS
CLASSES: tuple[frozenset[int], ...] = (TOKEN, NUMERIC)

_MIN_ANCHOR = 2
_MAX_LEAD = 3
_MAX_ANCHORS = 256


@dataclass(frozen=True, slots=True)
class Shape:
    anchors: tuple[str, ...]
    """Literals every match contains one of (lowercase when ``folded``); empty: none."""
    folded: bool
    pre_bytes: int
    """Maximum bytes of a match before its anchor (the whole match without one)."""
    run: int | None
    """Index into :data:`CLASSES` of the run class before the anchor, or ``None``
    (an exception: check it with its prefix closure)."""
    chars: bytes
    """Every byte a match can contain after its leading boundary."""
    lead: int
    """Characters of the leading boundary (``(?:^|[^A-Za-z0-9])``: 1) before a run."""


Items = list[tuple[Any, Any, int]]


def shape(pattern: str) -> Shape:
    tree = _parser.parse(pattern)
    items = _flatten(tree, tree.state.flags)
    options = [_make(items, items[i:], found) for i, found in _anchors(items)]
    options.append(_make(items, [], None))
    # an anchor of 3+ characters with a run before it, else one of 2, else any
    for option in options:
        if option.run is not None and min(map(len, option.anchors), default=0) >= 3:
            return option
    for option in options:
        if option.run is not None:
            return option
    return options[0]


def _anchors(items: Items) -> list[tuple[int, tuple[list[str], list[Items]]]]:
    """Candidate anchors: (position, (literals, the possible parts before them))."""
    out = []
    for i in range(len(items)):
        found = _anchor_from(items[i:])
        if found is not None:
            literals, parts = found
            out.append((i, (literals, [items[:i] + part for part in parts])))
            if min(len(a) for a in literals) >= 3:
                break
    return out


def _anchor_from(items: Items) -> tuple[list[str], list[Items]] | None:
    """Literals starting right here, or behind a branch whose every alternative
    has its own anchor; with what may come before them inside that branch."""
    found = _lead(items)
    if found and min(len(a) for a in found) >= _MIN_ANCHOR:
        return found, [[]]
    if not items or items[0][0] is not _c.BRANCH:
        return None
    _op, av, flags = items[0]
    literals: list[str] = []
    parts: list[Items] = []
    for branch in av[1]:
        sub = _flatten(branch, flags)
        for i in range(len(sub)):
            inner = _anchor_from(sub[i:])
            if inner is not None:
                literals.extend(inner[0])
                parts.extend(sub[:i] + p for p in inner[1])
                break
        else:
            return None
    if len(literals) > _MAX_ANCHORS:
        return None
    return literals, parts


def _make(items: Items, rest: Items, found: tuple[list[str], list[Items]] | None) -> Shape:
    anchors: list[str] = []
    parts: list[Items] = [items]
    folded = False
    if found is not None:
        anchors, parts = found
        folded = any(f & _c.SRE_FLAG_IGNORECASE for _, _, f in _flatten_all(rest))
        if folded:
            anchors = sorted({a.lower() for a in anchors})
    chars: set[int] = set()
    lead = pre = 0
    for part in parts:
        body, boundary = _strip_boundaries(part, trailing=found is None)
        chars |= _charset(body)
        lead = max(lead, boundary)
        pre = max(pre, sum(_WALKER._item_width(op, av, f)[2] for op, av, f in part))
    run = None
    for n, cls in enumerate(CLASSES):
        if chars <= cls:
            run = n
            break
    whole, _ = _strip_boundaries(items, trailing=True)
    return Shape(
        tuple(dict.fromkeys(anchors)), folded, pre, run, bytes(sorted(_charset(whole))), lead
    )


def _flatten(seq: Any, flags: int) -> list[tuple[Any, Any, int]]:
    """Top-level items, descending into plain groups; each with its flags."""
    out: list[tuple[Any, Any, int]] = []
    for op, av in seq:
        if op is _c.SUBPATTERN:
            _group, add, remove, sub = av
            out.extend(_flatten(sub, (flags | add) & ~remove))
        else:
            out.append((op, av, flags))
    return out


def _flatten_all(items: list[tuple[Any, Any, int]]) -> list[tuple[Any, Any, int]]:
    """Every item below ``items`` with its flags (to see scoped ``(?i:...)``)."""
    out: list[tuple[Any, Any, int]] = []
    for op, av, flags in items:
        out.append((op, av, flags))
        if op is _c.BRANCH:
            for branch in av[1]:
                out.extend(_flatten_all(_flatten(branch, flags)))
        elif op is _c.MAX_REPEAT or op is _c.MIN_REPEAT:
            out.extend(_flatten_all(_flatten(av[2], flags)))
    return out


def _lead(items: list[tuple[Any, Any, int]]) -> list[str] | None:
    """Strings one of which every match of ``items`` starts with (``None``: unknown)."""
    found, _complete = _lead_complete(items)
    if found is None or "" in found:
        return None
    return found


def _lead_complete(items: list[tuple[Any, Any, int]]) -> tuple[list[str] | None, bool]:
    """Leading literal strings, and whether they are the *whole* of ``items``."""
    acc = [""]
    for op, av, flags in items:
        options: list[str] | None
        if op is _c.AT:
            continue
        if op is _c.LITERAL:
            options = [chr(av)]
        elif op is _c.IN:
            options = _small_class(av)
        elif op is _c.BRANCH:
            options, complete = _alternatives([_flatten(b, flags) for b in av[1]])
            if options is not None and not complete:
                return (_join(acc, options) or acc), False
        elif (op is _c.MAX_REPEAT or op is _c.MIN_REPEAT) and av[:2] == (0, 1):
            sub, complete = _lead_complete(_flatten(av[2], flags))
            if sub is None or not complete:
                return acc, False
            options = ["", *sub]
        elif (op is _c.MAX_REPEAT or op is _c.MIN_REPEAT) and av[0] >= 1:
            sub, _complete = _lead_complete(_flatten(av[2], flags))
            return (acc if sub is None else _join(acc, sub) or acc), False
        else:
            return acc, False
        if options is None:
            return acc, False
        joined = _join(acc, options)
        if joined is None:
            return acc, False
        acc = joined
    return acc, True


def _alternatives(branches: list[list[tuple[Any, Any, int]]]) -> tuple[list[str] | None, bool]:
    out: list[str] = []
    complete = True
    for branch in branches:
        sub, whole = _lead_complete(branch)
        if sub is None or (not whole and "" in sub):
            return None, False
        out.extend(sub)
        complete = complete and whole
    if len(out) > _MAX_ANCHORS:
        return None, False
    return out, complete


def _join(acc: list[str], options: list[str]) -> list[str] | None:
    joined = [a + o for a in acc for o in options]
    return None if len(joined) > _MAX_ANCHORS else joined


def _small_class(items: Any) -> list[str] | None:
    chars: list[str] = []
    for op, av in items:
        if op is _c.LITERAL:
            chars.append(chr(av))
        elif op is _c.RANGE and av[1] - av[0] < 3:
            chars.extend(chr(c) for c in range(av[0], av[1] + 1))
        else:
            return None
    return chars if len(chars) <= 3 else None


def _strip_boundaries(items: Items, *, trailing: bool) -> tuple[Items, int]:
    """Drop zero-width items and a leading item of at most three characters
    (the boundary a run may start with; its width is returned), and, if
    asked, a last item of at most two characters: once complete it ends the
    match for good (nothing can extend it), so a run need only include what
    a *partial* last item can hold, which stays in the returned items."""
    body = list(items)
    while body and body[0][0] is _c.AT:
        body = body[1:]
    lead = 0
    if body:
        op, av, flags = body[0]
        hi = _WALKER._item_width(op, av, flags)[1]
        if hi <= _MAX_LEAD:
            body, lead = body[1:], hi
    if trailing and body and body[-1][0] is not _c.AT:
        op, av, flags = body[-1]
        hi = _WALKER._item_width(op, av, flags)[1]
        if hi <= 1:
            body = body[:-1]
        elif hi == 2 and op is _c.BRANCH:
            heads = [_flatten(b, flags)[:-1] for b in av[1] if len(_flatten(b, flags)) > 1]
            body = body[:-1] + [i for head in heads for i in head]
    return body, lead


_HIGH = frozenset(range(0x80, 0x100))
_ALL = frozenset(range(0x100))


def _charset(items: list[tuple[Any, Any, int]]) -> frozenset[int]:
    """Every byte the UTF-8 encoding of a match of ``items`` can contain."""
    out: set[int] = set()
    for op, av, flags in items:
        out |= _item_chars(op, av, flags)
    return frozenset(out)


def _item_chars(op: Any, av: Any, flags: int) -> frozenset[int]:
    fold = bool(flags & _c.SRE_FLAG_IGNORECASE)
    if op is _c.AT:
        return frozenset()
    if op is _c.LITERAL:
        return _fold(_code(av), fold)
    if op is _c.NOT_LITERAL:
        return _ALL - (_code(av) if av < 0x80 and not fold else frozenset())
    if op is _c.ANY:
        return _ALL if flags & _c.SRE_FLAG_DOTALL else _ALL - {0x0A}
    if op is _c.IN:
        out: set[int] = set()
        negate = False
        for o, a in av:
            if o is _c.NEGATE:
                negate = True
            elif o is _c.LITERAL:
                out |= _code(a)
            elif o is _c.RANGE:
                out.update(range(a[0], min(a[1], 0x7F) + 1))
                if a[1] >= 0x80:
                    out |= _HIGH
            elif o is _c.CATEGORY:
                out |= _CATEGORIES.get(a, _ALL)
            else:
                out |= _ALL
        found = _fold(frozenset(out), fold)
        return (_ALL - found) | _HIGH if negate else found
    if op is _c.BRANCH:
        return frozenset().union(*(_charset(_flatten(b, flags)) for b in av[1]))
    if op is _c.SUBPATTERN:
        return _charset(_flatten(av[3], (flags | av[1]) & ~av[2]))
    if op is _c.MAX_REPEAT or op is _c.MIN_REPEAT:
        return _charset(_flatten(av[2], flags))
    return _ALL


_CATEGORIES = {
    _c.CATEGORY_DIGIT: DIGITS,
    _c.CATEGORY_WORD: WORD,
    _c.CATEGORY_SPACE: SPACE,
    _c.CATEGORY_NOT_DIGIT: (_ALL - DIGITS) | _HIGH,
    _c.CATEGORY_NOT_WORD: (_ALL - WORD) | _HIGH,
    _c.CATEGORY_NOT_SPACE: (_ALL - SPACE) | _HIGH,
}


def _code(code: int) -> frozenset[int]:
    return frozenset(chr(code).encode("utf-8", "surrogatepass"))


def _fold(chars: frozenset[int], fold: bool) -> frozenset[int]:
    if not fold:
        return chars
    out = set(chars)
    out.update(ord(chr(c).swapcase()) for c in chars if c < 0x80 and chr(c).isalpha())
    if out & set(b"kKsS"):
        out |= _FOLDS
    if any(c >= 0x80 for c in chars):
        out |= _HIGH
    return frozenset(out)
