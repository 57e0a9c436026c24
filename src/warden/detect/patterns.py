"""What the engine needs to know about a rule's regular expression.

A rule's pattern is parsed once, at load, with Python's own regex parser (the
syntax shared by re, re2 and hyperscan for the constructs rules may use), and
three things come out of the parse tree:

* **checks**: unbounded repetition (``*``, ``+``, ``{n,}``), back-references,
  look-around, atomic groups and empty matches are refused with an error
  naming the construct, so every rule has a finite maximum match length and
  runs in linear time;
* **widths**: the minimum and maximum match length in characters and the
  maximum in UTF-8 bytes (the engine scans UTF-8 and sizes its confirm
  windows in bytes);
* **the prefix closure**: a pattern matching every non-empty string that is
  a prefix of some match (assertions kept where something follows them), in
  syntax both re2 and hyperscan accept. Counted repetitions are relaxed to
  ``*`` / ``+`` in it: a superset, whose automata stay small (counters are
  what blow up a DFA); the stream masker bounds what it holds by the
  maximum length instead.
  The stream masker anchors the union of all closures at the end of its
  buffer to find the earliest place where a rule could still be mid-match.

Python's parser may restructure a pattern (it factors common prefixes out of
alternations), but never changes the language, which is all that matters
here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

_IGNORECASE: int = _c.SRE_FLAG_IGNORECASE
_MULTILINE: int = _c.SRE_FLAG_MULTILINE
_DOTALL: int = _c.SRE_FLAG_DOTALL
_MAXREPEAT: int = int(_c.MAXREPEAT)

_CATEGORY = {
    _c.CATEGORY_DIGIT: r"\d",
    _c.CATEGORY_NOT_DIGIT: r"\D",
    _c.CATEGORY_SPACE: r"\s",
    _c.CATEGORY_NOT_SPACE: r"\S",
    _c.CATEGORY_WORD: r"\w",
    _c.CATEGORY_NOT_WORD: r"\W",
}
_NEGATED_CATEGORIES = {_c.CATEGORY_NOT_DIGIT, _c.CATEGORY_NOT_SPACE, _c.CATEGORY_NOT_WORD}

_AT = {
    _c.AT_BEGINNING: "^",
    _c.AT_BEGINNING_STRING: r"\A",
    _c.AT_BOUNDARY: r"\b",
    _c.AT_NON_BOUNDARY: r"\B",
    _c.AT_END: "$",
    _c.AT_END_STRING: r"\z",
}

# ASCII letters that re2 and hyperscan fold onto a non-ASCII letter under
# case-insensitive matching: k <-> U+212A KELVIN SIGN, s <-> U+017F LONG S.
_WIDE_FOLDS = {ord("k"): 3, ord("K"): 3, ord("s"): 2, ord("S"): 2}


_MAX_CLOSURE = 6000
"""Characters; hyperscan refuses patterns much longer than this."""


class PatternError(ValueError):
    """A rule's pattern cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class PatternInfo:
    min_chars: int
    max_chars: int
    max_bytes: int
    groups: int


def analyse(pattern: str) -> PatternInfo:
    """Parse ``pattern`` and check it is bounded; raise :class:`PatternError`."""
    try:
        tree = _parser.parse(pattern)
    except Exception as exc:  # re.error and friends
        raise PatternError(f"does not parse: {exc}") from exc
    flags: int = tree.state.flags
    walker = _Walker()
    lo, hi, hi_bytes = walker.width(tree, flags)
    if lo == 0:
        raise PatternError("can match the empty string")
    return PatternInfo(
        min_chars=lo, max_chars=hi, max_bytes=hi_bytes, groups=int(tree.state.groups) - 1
    )


def prefix_closure(pattern: str, *, hyperscan: bool = False) -> str:
    """Matches every non-empty prefix of every match of ``pattern``, and more
    (counts relaxed). With ``hyperscan``, without ``^ $ \\A \\z`` (which it
    refuses inside a pattern) and without alternatives that need the start of
    the text (it is used away from it)."""
    tree = _parser.parse(pattern)
    flags: int = tree.state.flags
    mid = hyperscan and not flags & _MULTILINE
    depth = 1 << 30
    while True:
        walker = _Walker(drop_anchors=hyperscan, max_depth=depth, mid_text=mid)
        body = walker.prefix(tree, flags)
        if body is None:  # cannot happen for a pattern that analyse() accepted
            raise PatternError("has no non-empty prefix")
        if len(body) <= _MAX_CLOSURE or depth <= 1:
            return _wrap_flags(body, flags)
        depth = min(depth, 7) - 1


def exact_closure(pattern: str, *, exact: bool = True) -> str | None:
    """The prefix closure with counted repetitions kept and anchors dropped, for
    a hyperscan liveness check away from the start of the text (alternatives
    that need ``^`` / ``\\A`` without ``(?m)`` are left out)."""
    tree = _parser.parse(pattern)
    flags = tree.state.flags
    walker = _Walker(drop_anchors=True, exact=exact, mid_text=not flags & _MULTILINE)
    body = walker.prefix(tree, flags)
    return None if body is None else _wrap_flags(body, tree.state.flags)


def candidate_patterns(
    pattern: str,
    keep_low: int = 1,
    keep_high: int = 0,
    *,
    keep_end: bool = True,
    trim: bool = True,
) -> list[str]:
    r"""Wider patterns for the hyperscan candidate pass: every match of ``pattern``
    is a match of one of them (same start and end), and they compile small and
    fast. Repetitions up to ``keep_high`` keep their counts; longer ones are
    relaxed to ``{min(m, keep_low),}`` (large counters are what make hyperscan
    slow to compile and refuse patterns). Hyperscan accepts ``^`` only at the
    very start, so a leading ``(?:^|[^a-z])`` becomes two patterns, ``^…`` and
    ``[^a-z]…``, rather than losing the anchor (``^`` elsewhere is dropped).

    With ``keep_end`` (and no multi-line flag), ``$`` and ``\z`` stay, as
    ``\z``: a token rule ending in ``(?:[^A-Za-z0-9]|$)`` then reports one
    end per token instead of one per character past its relaxed minimum
    length, which is most of what the confirm step would otherwise sift.
    Hyperscan refuses ``\z`` where something could follow it; the caller
    then retries with ``keep_end=False``."""
    tree = _parser.parse(pattern)
    flags: int = tree.state.flags
    walker = _Walker(
        keep_low=keep_low,
        drop_anchors=True,
        keep_high=keep_high,
        keep_end=keep_end and not _multiline(tree, flags),
    )
    if trim:
        suffix = _from_literal(list(tree))
        if suffix is not None:
            return [_wrap_flags(walker.emit(suffix), flags)]
    items = list(tree)
    lead = 0
    while lead < len(items) and items[lead][0] is _c.AT:
        lead += 1
    if lead < len(items) and items[lead][0] is _c.BRANCH and not flags & _MULTILINE:
        starts = (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING)
        branches = items[lead][1][1]
        if any(b and b[0][0] is _c.AT and b[0][1] in starts for b in branches):
            prefix = walker.emit(items[:lead])
            rest = walker.emit(items[lead + 1 :])
            out = []
            for branch in branches:
                anchored = bool(branch) and branch[0][0] is _c.AT and branch[0][1] in starts
                body = walker.emit(list(branch)[1:] if anchored else branch)
                text = _wrap_flags(f"{prefix}(?:{body}){rest}", flags)
                out.append(f"^{text}" if anchored else text)
            return list(dict.fromkeys(out))
    return [_wrap_flags(walker.emit(tree), flags)]


def _from_literal(items: list[Any]) -> list[Any] | None:
    """``items`` without the character runs that lead to its first literal;
    ``None`` when something else comes first, or the literal is short.

    Every match of ``items`` ends with a match of the result, at the same end
    (the result is a suffix of it), so the cut form is a valid candidate
    pattern; what it saves is the leading runs (``[A-Za-z0-9_.-]{0,80}``
    before a key name, the local part of an e-mail address), which hyperscan
    must otherwise track at every byte of the text. Skipped: assertions,
    single characters, repetitions of one character class, and boundary
    alternatives (``(?:^|[^a-z])``). A group is cut inside, an alternation
    only where each alternative can be cut. The literal must be at least
    three characters long (``4`` or ``=`` occur everywhere: the boundary
    before them is what keeps the candidates few), and a ``\\b`` right before
    it stays (when nothing was cut in between).
    """
    for k, (op, av) in enumerate(items):
        if op is _c.LITERAL:
            if _literal_run(items, k) < _MIN_LITERAL:
                return None
            return _with_assertions(items, k, items[k:])
        if op is _c.SUBPATTERN:
            inner = _from_literal(list(av[3]))
            if inner is None:
                return None
            cut = [(_c.SUBPATTERN, (av[0], av[1], av[2], inner)), *items[k + 1 :]]
            return _with_assertions(items, k, cut) if inner == list(av[3]) else cut
        if op is _c.BRANCH:
            if _is_boundary(av[1]):
                continue
            branches = [_from_literal(list(b)) for b in av[1]]
            if any(b is None for b in branches):
                return None
            cut = [(_c.BRANCH, (None, branches)), *items[k + 1 :]]
            whole = all(b == list(o) for b, o in zip(branches, av[1], strict=True))
            return _with_assertions(items, k, cut) if whole else cut
        if op is _c.AT or op in _ATOMS or _is_run(op, av):
            continue
        return None
    return None


_MIN_LITERAL = 3
_BOUNDARIES = (_c.AT_BOUNDARY, _c.AT_NON_BOUNDARY)


def _literal_run(items: list[Any], k: int) -> int:
    end = k
    while end < len(items) and items[end][0] is _c.LITERAL:
        end += 1
    return end - k


def _with_assertions(items: list[Any], k: int, cut: list[Any]) -> list[Any]:
    """``cut`` with the ``\\b`` / ``\\B`` that stood right before ``items[k]``."""
    start = k
    while start > 0 and items[start - 1][0] is _c.AT and items[start - 1][1] in _BOUNDARIES:
        start -= 1
    return [*items[start:k], *cut]


def _is_run(op: Any, av: Any) -> bool:
    return (
        (op is _c.MAX_REPEAT or op is _c.MIN_REPEAT) and len(av[2]) == 1 and av[2][0][0] in _ATOMS
    )


def _is_boundary(branches: Any) -> bool:
    """Alternatives of at most two characters each, of single characters and
    assertions only (``^``, ``\\b``, ``[^a-z]``, ``_``, ``^:?``, ``[^:]:``)."""
    for branch in branches:
        width = 0
        for op, av in branch:
            if op in _ATOMS:
                width += 1
            elif _is_run(op, av):
                width += av[1]
            elif op is not _c.AT:
                return False
        if width > 2:
            return False
    return True


def _multiline(seq: Any, flags: int) -> bool:
    """Whether ``(?m)`` is on anywhere in ``seq`` (``$`` then means end of line)."""
    if flags & _MULTILINE:
        return True
    for op, av in seq:
        if op is _c.SUBPATTERN and _multiline(av[3], (flags | av[1]) & ~av[2]):
            return True
        if op is _c.BRANCH and any(_multiline(b, flags) for b in av[1]):
            return True
        if (op is _c.MAX_REPEAT or op is _c.MIN_REPEAT) and _multiline(av[2], flags):
            return True
    return False


def starts_like_newline(pattern: str) -> bool:
    r"""Whether every match at the start of a text is, one character on, a
    match after a ``\n``: so a scan of ``"\n" + text`` finds, shifted by
    one, at least what the start of the text allows.

    True of a pattern without ``^`` or ``\A`` (``\b`` sees a ``\n`` as it
    sees the start), and of one whose only such anchors open it as
    ``(?:^|C)`` with ``C`` a single character that ``\n`` is (``(?:^|\n)``,
    ``(?:^|[^\w+])``). Anything else (a ``^`` deeper in, ``(?m)``) is not
    claimed."""
    tree = _parser.parse(pattern)
    anchors = _start_anchors(tree)
    if not anchors:
        return True
    if _multiline(tree, tree.state.flags):
        return False
    items = list(tree)
    if not items or items[0][0] is not _c.BRANCH:
        return False
    starts = (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING)
    branches = items[0][1][1]
    opening = [b for b in branches if len(b) == 1 and b[0][0] is _c.AT and b[0][1] in starts]
    if len(opening) != anchors:
        return False
    compiler: Any = importlib.import_module("re._compiler")
    for branch in branches:
        if len(branch) == 1 and branch[0][0] in (_c.LITERAL, _c.NOT_LITERAL, _c.IN, _c.ANY):
            single = _parser.SubPattern(tree.state, [branch[0]])
            if compiler.compile(single, tree.state.flags).fullmatch("\n"):
                return True
    return False


def _start_anchors(seq: Any) -> int:
    r"""How many ``^`` and ``\A`` there are in ``seq``, at any depth."""
    found = 0
    for op, av in seq:
        if op is _c.AT and av in (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING):
            found += 1
        elif op is _c.SUBPATTERN:
            found += _start_anchors(av[3])
        elif op is _c.BRANCH:
            found += sum(_start_anchors(b) for b in av[1])
        elif op is _c.MAX_REPEAT or op is _c.MIN_REPEAT:
            found += _start_anchors(av[2])
    return found


def literal_pattern(text: str) -> str:
    """An expression matching ``text`` literally in re, re2 and hyperscan."""
    out = []
    for ch in text:
        if ch.isascii() and (ch.isalnum() or ch == "_"):
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def _wrap_flags(body: str, flags: int) -> str:
    letters = _flag_letters(flags)
    return f"(?{letters}:{body})" if letters else body


def _flag_letters(flags: int) -> str:
    letters = ""
    if flags & _IGNORECASE:
        letters += "i"
    if flags & _MULTILINE:
        letters += "m"
    if flags & _DOTALL:
        letters += "s"
    return letters


def _char(code: int) -> str:
    ch = chr(code)
    if ch.isascii() and (ch.isalnum() or ch == "_"):
        return ch
    return f"\\x{{{code:x}}}"


class _Walker:
    """Recursive walks over a parsed pattern (``re._parser.SubPattern``).

    ``emit`` writes a *relaxed* pattern: each ``{m,n}`` becomes ``{min(m,
    keep_low),}`` (so ``*``, ``+`` or a small lower bound), and, with
    ``drop_anchors``, ``^ $ \\A \\z`` become nothing (with ``keep_end``,
    ``$`` and ``\\z`` become ``\\z``). Both only widen the language.
    """

    def __init__(
        self,
        *,
        keep_low: int = 1,
        drop_anchors: bool = False,
        max_depth: int = 1 << 30,
        exact: bool = False,
        mid_text: bool = False,
        keep_high: int = 0,
        keep_end: bool = False,
    ) -> None:
        self.keep_end = keep_end
        self.exact = exact
        self.keep_high = keep_high
        self.mid_text = mid_text
        self.keep_low = keep_low
        self.drop_anchors = drop_anchors
        self.max_depth = max_depth

    # -- widths ---------------------------------------------------------------

    def width(self, seq: Any, flags: int) -> tuple[int, int, int]:
        lo = hi = hb = 0
        for op, av in seq:
            a, b, c = self._item_width(op, av, flags)
            lo, hi, hb = lo + a, hi + b, hb + c
        return lo, hi, hb

    def _item_width(self, op: Any, av: Any, flags: int) -> tuple[int, int, int]:
        if op is _c.LITERAL:
            return 1, 1, self._literal_bytes(av, flags)
        if op is _c.NOT_LITERAL or op is _c.ANY:
            return 1, 1, 4
        if op is _c.IN:
            return 1, 1, self._class_bytes(av, flags)
        if op is _c.AT:
            if av not in _AT:
                raise PatternError(f"unsupported assertion {av}")
            return 0, 0, 0
        if op is _c.BRANCH:
            widths = [self.width(branch, flags) for branch in av[1]]
            return (
                min(w[0] for w in widths),
                max(w[1] for w in widths),
                max(w[2] for w in widths),
            )
        if op is _c.SUBPATTERN:
            _group, add, remove, sub = av
            return self.width(sub, (flags | add) & ~remove)
        if op is _c.MAX_REPEAT or op is _c.MIN_REPEAT:
            low, high, sub = av
            if high >= _MAXREPEAT:
                raise PatternError(
                    "unbounded repetition (*, + or {n,}); use a bounded {m,n} instead"
                )
            a, b, c = self.width(sub, flags)
            return a * low, b * high, c * high
        raise PatternError(f"unsupported construct {op} (back-reference, look-around, atomic)")

    @staticmethod
    def _literal_bytes(code: int, flags: int) -> int:
        if code < 0x80:
            return _WIDE_FOLDS.get(code, 1) if flags & _IGNORECASE else 1
        return 4

    def _class_bytes(self, items: Any, flags: int) -> int:
        widest = 1
        for op, av in items:
            if op is _c.NEGATE:
                return 4
            if op is _c.LITERAL:
                widest = max(widest, self._literal_bytes(av, flags))
            elif op is _c.RANGE:
                low, high = av
                if high >= 0x80:
                    return 4
                if flags & _IGNORECASE and any(low <= k <= high for k in _WIDE_FOLDS):
                    widest = 3
            elif op is _c.CATEGORY:
                if av in _NEGATED_CATEGORIES:
                    return 4
            else:
                return 4
        return widest

    # -- regex text -------------------------------------------------------------

    def emit(self, seq: Any) -> str:
        """``seq`` as relaxed regex text (see the class docstring)."""
        return "".join(self._emit_item(op, av) for op, av in _runs(seq))

    def _emit_item(self, op: Any, av: Any) -> str:
        if op is _c.LITERAL:
            return _char(av)
        if op is _c.NOT_LITERAL:
            return f"[^{_char(av)}]"
        if op is _c.ANY:
            return "."
        if op is _c.IN:
            return self._emit_class(av)
        if op is _c.AT:
            if self.keep_end and av in (_c.AT_END, _c.AT_END_STRING):
                return r"\z"
            if self.drop_anchors and av not in (_c.AT_BOUNDARY, _c.AT_NON_BOUNDARY):
                return ""
            return _AT[av]
        if op is _c.BRANCH:
            return "(?:" + "|".join(self.emit(b) for b in self._possible(av[1])) + ")"
        if op is _c.SUBPATTERN:
            _group, add, remove, sub = av
            return f"(?{self._scoped(add, remove)}:{self.emit(sub)})"
        if op is _c.MAX_REPEAT or op is _c.MIN_REPEAT:
            low, high, sub = av
            if high == 0:
                return ""
            if high == 1:
                return f"(?:{self.emit(sub)})" + ("?" if low == 0 else "")
            if self.exact or high <= self.keep_high:
                return f"(?:{self.emit(sub)}){{{low},{high}}}"
            low = min(low, self.keep_low)
            suffix = "*" if low == 0 else "+" if low == 1 else f"{{{low},}}"
            return f"(?:{self.emit(sub)}){suffix}"
        raise PatternError(f"unsupported construct {op}")

    @staticmethod
    def _emit_class(items: Any) -> str:
        parts: list[str] = []
        for op, av in items:
            if op is _c.NEGATE:
                parts.insert(0, "^")
            elif op is _c.LITERAL:
                parts.append(_char(av))
            elif op is _c.RANGE:
                parts.append(f"{_char(av[0])}-{_char(av[1])}")
            elif op is _c.CATEGORY:
                parts.append(_CATEGORY[av])
            else:
                raise PatternError(f"unsupported class item {op}")
        return "[" + "".join(parts) + "]"

    @staticmethod
    def _scoped(add: int, remove: int) -> str:
        on, off = _flag_letters(add), _flag_letters(remove)
        return on + (f"-{off}" if off else "")

    # -- prefix closure ---------------------------------------------------------

    def prefix(self, seq: Any, flags: int, depth: int = 0) -> str | None:
        """Non-empty prefixes of ``seq``'s matches (``None``: there are none).

        ``P(a b c) = P(a) | a P(b c)``; an assertion is kept in front of
        whatever follows it, and dropped at the end (the next character is
        not known yet, so it cannot rule anything out). Its size grows with
        size x nesting depth, so below ``max_depth`` a part is replaced by
        "one or more of the characters it can contain".
        """
        if depth > self.max_depth:
            chars = self.chars(seq)
            if chars == "":
                return None
            return f"{chars}+"
        acc: str | None = None
        for op, av in reversed(_runs(seq)):
            full = self._emit_item(op, av)
            if op is _c.AT:
                acc = None if acc is None else f"{full}{acc}"
                continue
            head = self._prefix_item(op, av, flags, depth)
            options = [o for o in (head, None if acc is None else f"{full}{acc}") if o]
            acc = None if not options else options[0] if len(options) == 1 else _alt(options)
        return acc

    def _prefix_item(self, op: Any, av: Any, flags: int, depth: int) -> str | None:
        if op in (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN):
            return self._emit_item(op, av)
        depth += 1
        if op is _c.BRANCH:
            branches = self._possible(av[1])
            options = [o for o in (self.prefix(b, flags, depth) for b in branches) if o]
            return _alt(options) if options else None
        if op is _c.SUBPATTERN:
            _group, add, remove, sub = av
            inner = self.prefix(sub, (flags | add) & ~remove, depth)
            if inner is None or not (add or remove):
                return inner
            return f"(?{self._scoped(add, remove)}:{inner})"
        if op is _c.MAX_REPEAT or op is _c.MIN_REPEAT:
            _low, high, sub = av
            inner = self.prefix(sub, flags, depth)
            if high == 0 or inner is None:
                return None
            if high == 1:
                return inner
            if self.exact:
                return f"(?:(?:{self.emit(sub)}){{0,{high - 1}}}{inner})"
            return f"(?:(?:{self.emit(sub)})*{inner})"
        raise PatternError(f"unsupported construct {op}")

    def _possible(self, branches: Any) -> Any:
        """With ``mid_text``, the alternatives that do not need the start of the text."""
        if not self.mid_text:
            return branches
        starts = (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING)
        kept = [b for b in branches if not any(op is _c.AT and av in starts for op, av in b)]
        return kept or branches

    def chars(self, seq: Any) -> str:
        """A class of every character ``seq`` can match (``""`` if none)."""
        parts: list[str] = []
        for op, av in seq:
            if op is _c.LITERAL:
                parts.append(_char(av))
            elif op is _c.IN:
                if any(o is _c.NEGATE for o, _ in av):
                    return r"[\s\S]"
                parts.append(self._emit_class(av)[1:-1])
            elif op is _c.NOT_LITERAL or op is _c.ANY:
                return r"[\s\S]"
            elif op is _c.BRANCH:
                parts.extend(self.chars(b)[1:-1] for b in av[1])
            elif op is _c.SUBPATTERN:
                parts.append(self.chars(av[3])[1:-1])
            elif op is _c.MAX_REPEAT or op is _c.MIN_REPEAT:
                parts.append(self.chars(av[2])[1:-1])
            if r"\s\S" in parts[-1:]:
                return r"[\s\S]"
        body = "".join(dict.fromkeys(parts))
        return f"[{body}]" if body else ""


_ATOMS = (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN)


def _runs(seq: Any) -> list[tuple[Any, Any]]:
    """``seq`` with runs of one repeated character atom folded into a repetition
    (``[a-z][a-z][a-z]`` -> ``[a-z]{3}``), so relaxed forms stay short."""
    items = list(seq)
    out: list[tuple[Any, Any]] = []
    i = 0
    while i < len(items):
        op = items[i][0]
        j = i + 1
        if op in _ATOMS:
            while j < len(items) and items[j] == items[i]:
                j += 1
        if j - i > 2:
            out.append((_c.MAX_REPEAT, (j - i, j - i, [items[i]])))
        else:
            out.extend(items[i:j])
        i = j
    return out


def _alt(options: list[str]) -> str:
    return "(?:" + "|".join(options) + ")"
