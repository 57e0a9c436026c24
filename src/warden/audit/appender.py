"""Appending to a shared chain from outside the gateway's writer (CLI, admin tools).

A gateway's hot path owns its chain and never locks. Occasional writers (a
``warden audit reveal`` run, a retention purge) share the ``admin`` chain
instead and serialise on its row in ``audit_chains``: the transaction first
updates that row (a row lock on PostgreSQL; ``BEGIN IMMEDIATE`` holds the
write lock on SQLite), then reads the head, appends and moves the head. With
a signing key each append also signs a checkpoint, so the admin chain is
always pinned up to its last event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Connection

from warden.audit import models, schema
from warden.audit.chain import canonical_text, event_digest
from warden.audit.checkpoints import Checkpoint, Signer
from warden.audit.heads import ensure_chain, read_head, register_key
from warden.audit.store import Store, now_us

ADMIN_CHAIN = "admin"


@dataclass(frozen=True, slots=True)
class Appended:
    id: int
    chain_id: str
    seq: int
    hash: str


class LockedAppender:
    def __init__(self, store: Store, *, chain_id: str = ADMIN_CHAIN, signer: Signer | None) -> None:
        self.store = store
        self.chain_id = chain_id
        self.signer = signer

    def append_admin(
        self, action: str, actor: str, details: dict[str, Any], *, conn: Connection | None = None
    ) -> Appended:
        """Record an admin action; committed when this returns (or with ``conn``'s transaction)."""
        document = {"action": action, "actor": actor, "details": details}
        return self.append(models.ADMIN, document, conn=conn)

    def append(
        self,
        kind: str,
        payload: Any,
        *,
        session_id: str | None = None,
        exchange_id: str | None = None,
        conn: Connection | None = None,
    ) -> Appended:
        if conn is not None:
            return self._append(conn, kind, payload, session_id, exchange_id)
        with self.store.begin_write() as own:
            return self._append(own, kind, payload, session_id, exchange_id)

    def _append(
        self,
        conn: Connection,
        kind: str,
        payload: Any,
        session_id: str | None,
        exchange_id: str | None,
    ) -> Appended:
        text = canonical_text(payload)
        now = now_us()
        chains = schema.chains
        ensure_chain(self.store, conn, self.chain_id)
        conn.execute(
            update(chains).where(chains.c.chain_id == self.chain_id).values(updated_at=now)
        )
        seq, prev = read_head(conn, self.chain_id)
        seq += 1
        digest = event_digest(self.chain_id, now, kind, session_id, exchange_id, text, prev)
        event_id = conn.execute(
            schema.events.insert()
            .values(
                chain_id=self.chain_id,
                seq=seq,
                ts=now,
                kind=kind,
                session_id=session_id,
                exchange_id=exchange_id,
                payload=text,
                prev_hash=prev,
                hash=digest,
            )
            .returning(schema.events.c.id)
        ).scalar_one()
        conn.execute(
            update(chains)
            .where(chains.c.chain_id == self.chain_id)
            .values(head_seq=seq, head_hash=digest)
        )
        if self.signer is not None:
            register_key(self.store, conn, self.signer, owner=self.chain_id)
            point = Checkpoint.sign(self.signer, self.chain_id, seq, digest, now)
            conn.execute(
                schema.checkpoints.insert().values(
                    chain_id=point.chain_id,
                    seq=point.seq,
                    hash=point.hash,
                    ts=point.ts,
                    key_id=point.key_id,
                    signature=point.signature,
                )
            )
        return Appended(int(event_id), self.chain_id, seq, digest)
