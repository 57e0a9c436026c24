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
UTF-8 (not ``\\u`` escapes), floats in their shortest round-trip form, NaN and
infinities (which JSON cannot hold) written as ``null``, and the whole
document encoded as UTF-8. The payload is stored as that exact canonical
text, and what is hashed is the stored text, so verification never has to
re-encode a value the database may have normalised.

orjson writes it (sorted keys, compact, UTF-8: the same text as the standard
library's encoder set up that way, but for the exponent of small floats,
``0.00001`` rather than ``1e-05``) at a fifth of the cost, which matters on
the audit writer's thread. What orjson cannot hold (integers beyond 64 bits,
keys that are not strings, nesting deeper than 254) goes through the standard
library's encoder instead (floats there in Python's own form). Either way the
same value always gets the same text.

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

import orjson

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

# Datetimes and dataclasses go through ``_default``, as with the standard encoder.
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _stdlib(value: Any) -> str:
    try:
        return _ENCODER.encode(value)
    except RecursionError:
        raise ValueError("circular or too deeply nested value") from None


def canonical_bytes(value: Any) -> bytes:
    """The canonical JSON of ``value`` as UTF-8 (see the module docstring).

    Sets become sorted lists, tuples lists, enums their value, datetimes ISO
    8601 strings and bytes ``{"$base64": ...}``; anything else that JSON
    cannot hold raises :class:`TypeError`, and a lone surrogate
    :class:`UnicodeEncodeError` (a :class:`ValueError`).
    """
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        # Beyond orjson (see the module docstring), or not JSON at all: the
        # standard encoder writes the first and raises the right error for the rest.
        return _stdlib(value).encode("utf-8")


def canonical_text(value: Any) -> str:
    """:func:`canonical_bytes` as text."""
    return canonical_bytes(value).decode("utf-8")


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
    return ChainHasher(chain_id)(ts, kind, session_id, exchange_id, payload_text, prev_hash)


class ChainHasher:
    """:func:`event_digest` for the events of one chain, with what never
    changes along it (the chain id, each kind) escaped once, not per event:
    the audit writer and ``verify`` hash every event of a chain."""

    __slots__ = ("_head", "_kinds")

    _MAX_KINDS = 256

    def __init__(self, chain_id: str) -> None:
        self._head = '{"chain":' + _string(chain_id) + ',"exchange":'
        self._kinds: dict[str, str] = {}

    def __call__(
        self,
        ts: int,
        kind: str,
        session_id: str | None,
        exchange_id: str | None,
        payload_text: str,
        prev_hash: str,
    ) -> str:
        middle = self._kinds.get(kind)
        if middle is None:
            middle = ',"kind":' + _string(kind) + ',"payload":'
            if len(self._kinds) < self._MAX_KINDS:
                self._kinds[kind] = middle
        exchange = "null" if exchange_id is None else _string(exchange_id)
        session = "null" if session_id is None else _string(session_id)
        doc = (
            f'{self._head}{exchange}{middle}{payload_text},"prev":{_string(prev_hash)},'
            f'"session":{session},"ts":{int(ts)},"v":1}}'
        )
        return hashlib.sha256(doc.encode("utf-8")).hexdigest()
