"""Revealing a raw payload: auditors only, with a reason, itself audited.

The reveal is recorded *before* anything is decrypted, so there is no reveal
without its audit event (a failed attempt is recorded too). From a separate
process (the CLI) the event goes to the shared ``admin`` chain through a
:class:`~warden.audit.appender.LockedAppender`; inside the gateway use
:func:`reveal_async` with the recorder, which records it in the replica's
chain.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import select

from warden.audit import crypto, models, schema
from warden.audit.appender import LockedAppender
from warden.audit.recorder import AuditLog
from warden.audit.store import Store
from warden.pipeline.types import Identity

AUDITOR_GROUP = "auditor"


class RevealError(Exception):
    """The event cannot be revealed (not raw, missing, key unavailable, altered)."""


class RevealDenied(RevealError):
    """The caller is not an auditor, or gave no reason."""


@dataclass(frozen=True, slots=True)
class RawEvent:
    event: models.EventInfo
    of_kind: str
    data_key_id: str
    kek_id: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Revealed:
    event_id: int
    chain_id: str
    seq: int
    kind: str
    session_id: str | None
    exchange_id: str | None
    payload: Any

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "chain": self.chain_id,
            "seq": self.seq,
            "kind": self.kind,
            "session": self.session_id,
            "exchange": self.exchange_id,
            "payload": self.payload,
        }


def check_auditor(actor: Identity, reason: str) -> str:
    if AUDITOR_GROUP not in actor.groups:
        raise RevealDenied(f"{actor.subject} is not in the {AUDITOR_GROUP!r} group")
    reason = " ".join(reason.split())
    if not reason:
        raise RevealDenied("a reveal needs a reason")
    return reason


def load_raw_event(store: Store, event_id: int) -> RawEvent:
    with store.engine.connect() as conn:
        row = conn.execute(select(schema.events).where(schema.events.c.id == event_id)).first()
    if row is None:
        raise RevealError(f"no event {event_id}")
    event = models.EventInfo.from_row(row)
    payload = event.payload
    if event.kind != models.RAW or not isinstance(payload, dict):
        raise RevealError(f"event {event_id} is a {event.kind} event, not a raw payload")
    if "sha256" not in payload:
        raise RevealError(f"event {event_id} holds no payload: {payload.get('unrecordable')}")
    return RawEvent(
        event,
        str(payload.get("of", "")),
        str(payload.get("data_key", "")),
        str(payload.get("kek", "")),
        str(payload["sha256"]),
    )


def audit_details(raw: RawEvent, actor: Identity, reason: str) -> dict[str, Any]:
    event = raw.event
    return {
        "event": event.id,
        "chain": event.chain_id,
        "seq": event.seq,
        "session": event.session_id,
        "exchange": event.exchange_id,
        "reason": reason,
        "auth_method": actor.auth_method,
    }


def decrypt_raw(store: Store, raw: RawEvent, keys: crypto.KeyProvider) -> Revealed:
    event = raw.event
    with store.engine.connect() as conn:
        sealed = conn.execute(
            select(schema.raw_payloads).where(
                schema.raw_payloads.c.chain_id == event.chain_id,
                schema.raw_payloads.c.seq == event.seq,
            )
        ).first()
        wrapped = conn.execute(
            select(schema.data_keys).where(schema.data_keys.c.id == raw.data_key_id)
        ).first()
    if sealed is None:
        raise RevealError(f"the raw payload of event {event.id} is gone (purged?)")
    if wrapped is None:
        raise RevealError(f"the data key of event {event.id} is gone")
    if hashlib.sha256(sealed.ciphertext).hexdigest() != raw.sha256:
        raise RevealError(f"the raw payload of event {event.id} was altered")
    try:
        data_key = keys.unwrap(wrapped.wrapped, wrapped.kek_id)
        plaintext = crypto.decrypt(
            data_key, sealed.nonce, sealed.ciphertext, crypto.raw_aad(event.chain_id, event.seq)
        )
    except crypto.KeyProviderError as exc:
        raise RevealError(str(exc)) from exc
    except InvalidTag as exc:
        raise RevealError(f"the raw payload of event {event.id} does not decrypt") from exc
    return Revealed(
        event.id,
        event.chain_id,
        event.seq,
        raw.of_kind,
        event.session_id,
        event.exchange_id,
        json.loads(plaintext),
    )


def reveal(
    store: Store,
    event_id: int,
    *,
    actor: Identity,
    reason: str,
    keys: crypto.KeyProvider,
    appender: LockedAppender,
) -> Revealed:
    """Check, record the reveal in the admin chain, then decrypt (blocking)."""
    reason = check_auditor(actor, reason)
    raw = load_raw_event(store, event_id)
    appender.append_admin("raw.reveal", actor.subject, audit_details(raw, actor, reason))
    return decrypt_raw(store, raw, keys)


async def reveal_async(
    store: Store,
    event_id: int,
    *,
    actor: Identity,
    reason: str,
    keys: crypto.KeyProvider,
    audit: AuditLog,
) -> Revealed:
    """:func:`reveal` for the gateway: the reveal is recorded through ``audit``
    (the recorder's ``admin_event``, which waits for the commit)."""
    reason = check_auditor(actor, reason)
    raw = await asyncio.to_thread(load_raw_event, store, event_id)
    await audit.admin_event("raw.reveal", actor.subject, audit_details(raw, actor, reason))
    return await asyncio.to_thread(decrypt_raw, store, raw, keys)
