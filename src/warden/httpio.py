"""Reading an HTTP body whole, up to a cap.

aiohttp's ``StreamReader.read(n)`` returns as soon as *any* bytes are
buffered (at most ``n``), not once ``n`` bytes or the whole body are in:
a body that arrives in more than one read (a large JSON answer, a SAML
form, anything over TLS) would be cut short. :func:`read_up_to` keeps
reading until it has ``size`` bytes or the body ended.
"""

from __future__ import annotations

import aiohttp


async def read_up_to(stream: aiohttp.StreamReader, size: int) -> bytes:
    """The body's first ``size`` bytes, or all of it when it is shorter.

    Callers pass their limit plus one and refuse a longer result."""
    chunks: list[bytes] = []
    have = 0
    while have < size:
        chunk = await stream.read(size - have)
        if not chunk:
            break
        chunks.append(chunk)
        have += len(chunk)
    return b"".join(chunks)
