"""The hash chain: canonical JSON and the digest of one event.

Every gateway process appends to its own *chain* (chain id = the replica's
instance id), so writers never contend. Each event stores the hash of the
previous event of its chain (``prev_hash``) and its own ``hash``::

    hash = SHA-256( canonical_json({
        "chain":    chain id,
        "exchange": exchange id or null,
        "kind":     event kind,
        "payload":  the payload object,
        "prev":     prev_hash (hex),
        "session":  session id or null,
        "ts":       microseconds since the Unix epoch (integer),
        "v":        1,
    }) )

**Canonical JSON** is RFC 8259 JSON with object keys sorted by code point, no
whitespace (separators ``,`` and ``:``), non-ASCII characters written as
UTF-8 (not ``\\u`` escapes), no NaN or infinities, floats in Python's
shortest round-trip form, and the whole document encoded as UTF-8. The
payload is stored as that exact canonical text, so verification never has to
re-encode a value the database may have normalised.

The first event of a chain links to :func:`genesis_hash` of the chain id.
``seq`` (the position in the chain) is deliberately *not* hashed: the links
alone fix the order, which lets ``verify`` tell an inserted or reordered event
from an edited one; contiguity of ``seq`` is checked separately.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import json
from typing import Any

HASH_VERSION = 1


def _default(value: object) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$base64": base64.b64encode(bytes(value)).decode("ascii")}
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


_ENCODER = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    allow_nan=False,
    default=_default,
)
_string = json.encoder.encode_basestring  # what the encoder does for a str

# The C encoder that ``_ENCODER.encode`` builds anew on every call, built
# once: the same text (a test holds it to that), a microsecond less an event
# on the audit writer's thread. Without the circular-reference bookkeeping:
# a cycle (or absurd nesting) surfaces as RecursionError, reported as the
# ValueError the callers already handle.
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_iterencode = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(None, _default, _string, None, ":", ",", True, False, False)
)


def _encode(value: Any) -> str:
    if _iterencode is None:
        return _ENCODER.encode(value)
    try:
        return "".join(_iterencode(value, 0))
    except RecursionError:
        raise ValueError("circular or too deeply nested value") from None


def canonical_text(value: Any) -> str:
    """The canonical JSON text of ``value`` (see the module docstring).

    Sets become sorted lists, tuples lists, enums their value, datetimes ISO
    8601 strings and bytes ``{"$base64": ...}``; anything else that JSON
    cannot hold raises :class:`TypeError` (NaN raises :class:`ValueError`).
    """
    return _encode(value)


def canonical_bytes(value: Any) -> bytes:
    return _encode(value).encode("utf-8")


def genesis_hash(chain_id: str) -> str:
    """What the first event of ``chain_id`` links to."""
    return hashlib.sha256(b"warden-audit-genesis\x00" + chain_id.encode("utf-8")).hexdigest()


def event_digest(
    chain_id: str,
    ts: int,
    kind: str,
    session_id: str | None,
    exchange_id: str | None,
    payload_text: str,
    prev_hash: str,
) -> str:
    """The hash of one event, given its payload as canonical JSON text.

    Builds the canonical document by hand (keys already in sorted order) so
    the payload is hashed exactly as stored; equal to hashing
    ``canonical_bytes`` of the whole object (a test holds it to that).
    """
    doc = (
        '{"chain":'
        + _string(chain_id)
        + ',"exchange":'
        + ("null" if exchange_id is None else _string(exchange_id))
        + ',"kind":'
        + _string(kind)
        + ',"payload":'
        + payload_text
        + ',"prev":'
        + _string(prev_hash)
        + ',"session":'
        + ("null" if session_id is None else _string(session_id))
        + ',"ts":'
        + str(int(ts))
        + ',"v":1}'
    )
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()
