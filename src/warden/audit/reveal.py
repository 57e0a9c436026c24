"""Revealing a raw payload: auditors only, with a reason, itself audited.

The reveal is recorded *before* anything is decrypted, so there is no reveal
without its audit event (a failed attempt is recorded too). From a separate
process (the CLI) the event goes to the shared ``admin`` chain through a
:class:`~warden.audit.appender.LockedAppender`; inside the gateway (the admin
API) use :func:`reveal_async` with the recorder, which records it in the
replica's chain.

The errors say what went wrong, so a caller can answer precisely:
:class:`NotAnAuditor`, :class:`ReasonRequired`, :class:`EventNotFound`,
:class:`NotRevealable` (no raw payload was kept for that event),
:class:`KeyUnavailable` (the key-encryption key cannot be reached), and
plain :class:`RevealError` for a payload that was altered.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
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


class NotAnAuditor(RevealDenied):
    """The caller is not in the ``auditor`` group."""


class ReasonRequired(RevealDenied):
    """The caller gave no reason."""


class EventNotFound(RevealError):
    """No such event (or not in the session named)."""


class NotRevealable(RevealError):
    """The event holds no raw payload: not a raw event, raw recording was off
    or had no key, or the payload was purged."""


class KeyUnavailable(RevealError):
    """The key-encryption key is not configured, not reachable, or wrong."""


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
        raise NotAnAuditor(f"{actor.subject} is not in the {AUDITOR_GROUP!r} group")
    reason = " ".join(reason.split())
    if not reason:
        raise ReasonRequired("a reveal needs a reason")
    return reason


def load_raw_event(store: Store, event_id: int, *, session_id: str | None = None) -> RawEvent:
    """The raw event ``event_id`` (of ``session_id``, when given)."""
    with store.engine.connect() as conn:
        row = conn.execute(select(schema.events).where(schema.events.c.id == event_id)).first()
    if row is None or (session_id is not None and row.session_id != session_id):
        where = f" in session {session_id!r}" if session_id is not None else ""
        raise EventNotFound(f"no event {event_id}{where}")
    event = models.EventInfo.from_row(row)
    payload = event.payload
    if event.kind != models.RAW or not isinstance(payload, dict):
        raise NotRevealable(
            f"event {event_id} is a {event.kind} event, not a raw payload: "
            "raw recording keeps the unmasked content in separate raw events"
        )
    if "sha256" not in payload:
        raise NotRevealable(f"event {event_id} holds no payload: {payload.get('unrecordable')}")
    return RawEvent(
        event,
        str(payload.get("of", "")),
        str(payload.get("data_key", "")),
        str(payload.get("kek", "")),
        str(payload["sha256"]),
    )


def audit_details(
    raw: RawEvent, actor: Identity, reason: str, context: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What the reveal event records; ``context`` adds how it was asked for
    (``via``, ``client``) without overriding any of these."""
    event = raw.event
    return {
        **(context or {}),
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
        raise NotRevealable(f"the raw payload of event {event.id} is gone (purged?)")
    if wrapped is None:
        raise NotRevealable(f"the data key of event {event.id} is gone")
    if hashlib.sha256(sealed.ciphertext).hexdigest() != raw.sha256:
        raise RevealError(f"the raw payload of event {event.id} was altered")
    try:
        data_key = keys.unwrap(wrapped.wrapped, wrapped.kek_id)
        plaintext = crypto.decrypt(
            data_key, sealed.nonce, sealed.ciphertext, crypto.raw_aad(event.chain_id, event.seq)
        )
    except crypto.KeyProviderError as exc:
        raise KeyUnavailable(str(exc)) from exc
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
    keys: crypto.KeyProvider | None,
    audit: AuditLog,
    session_id: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> Revealed:
    """:func:`reveal` for the gateway: the reveal is recorded through ``audit``
    (the recorder's ``admin_event``, which waits for the commit and raises
    :class:`~warden.pipeline.record.RecordingFailed` if it cannot be stored:
    then nothing is decrypted). ``session_id`` limits it to that session's
    events; ``context`` goes into the audit event."""
    reason = check_auditor(actor, reason)
    raw = await asyncio.to_thread(load_raw_event, store, event_id, session_id=session_id)
    if keys is None:
        raise KeyUnavailable(
            "this gateway has no key-encryption key for raw payloads (set store.raw_key)"
        )
    details = audit_details(raw, actor, reason, context)
    await audit.admin_event("raw.reveal", actor.subject, details)
    return await asyncio.to_thread(decrypt_raw, store, raw, keys)
