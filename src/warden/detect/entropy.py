"""Shannon entropy of a candidate secret, in bits per character."""

from __future__ import annotations

import math
from collections import Counter

_CLOG = tuple(c * math.log2(c) if c else 0.0 for c in range(1024))
"""``c * log2(c)`` for small counts: entropy is ``log2(n) - sum(c log2 c) / n``."""


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
