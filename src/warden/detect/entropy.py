"""Shannon entropy of a candidate secret, in bits per character.

:func:`below` answers the question the engine actually asks (is the entropy
under a rule's floor?) and usually without counting characters: counting
is most of the cost of :func:`shannon`, while the number of *distinct*
characters ``d`` (one ``set``) already bounds the entropy of ``n``
characters on both sides. At most ``log2(d)`` (all ``d`` equally
frequent); at least the entropy of the counts ``(n - d + 1, 1, …, 1)``,
which majorize every other way of splitting ``n`` into ``d`` positive
counts (entropy is Schur-concave). Only a floor between the two bounds,
or within ``_MARGIN`` of one (float rounding), needs the exact value.
"""

from __future__ import annotations

import math
from collections import Counter

_CLOG = tuple(c * math.log2(c) if c else 0.0 for c in range(1024))
"""``c * log2(c)`` for small counts: entropy is ``log2(n) - sum(c log2 c) / n``."""

_MARGIN = 1e-9
"""Far above the rounding error of either bound or of :func:`shannon` itself."""


def shannon(text: str) -> float:
    """``-sum(p * log2 p)`` over the characters of ``text``; 0.0 when empty.

    A random base64 string of 32+ characters scores above ~4.5, hex above
    ~3.5, an English word or a repeated placeholder well below 3.
    """
    n = len(text)
    if n == 0:
        return 0.0
    counts = Counter(text).values()
    if n < len(_CLOG):
        weighted = sum(map(_CLOG.__getitem__, counts))
    else:
        weighted = sum(c * math.log2(c) for c in counts)
    return max(0.0, math.log2(n) - weighted / n)


def below(text: str, floor: float) -> bool:
    """``shannon(text) < floor``, deciding from the distinct characters when they suffice."""
    n = len(text)
    if 0 < n < len(_CLOG):
        distinct = len(set(text))
        if math.log2(distinct) < floor - _MARGIN:
            return True  # even evenly spread, d characters carry less
        if math.log2(n) - _CLOG[n - distinct + 1] / n >= floor + _MARGIN:
            return False  # even the most lopsided counts carry more
    return shannon(text) < floor
