"""Shannon entropy of a candidate secret, in bits per character."""

from __future__ import annotations

import math
from collections import Counter


def shannon(text: str) -> float:
    """``-sum(p * log2 p)`` over the characters of ``text``; 0.0 when empty.

    A random base64 string of 32+ characters scores above ~4.5, hex above
    ~3.5, an English word or a repeated placeholder well below 3.
    """
    n = len(text)
    if n == 0:
        return 0.0
    total = 0.0
    for count in Counter(text).values():
        p = count / n
        total -= p * math.log2(p)
    return total
