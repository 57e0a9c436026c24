"""The rows that describe a chain: its head, its row in ``audit_chains``, signing keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from warden.audit import schema
from warden.audit.chain import genesis_hash
from warden.audit.checkpoints import Signer
from warden.audit.store import Store, now_us


def read_head(conn: Connection, chain_id: str) -> tuple[int, str]:
    """The stored head of ``chain_id``: the newest event, or the newest purge."""
    ev = schema.events
    tb = schema.tombstones
    row = conn.execute(
        select(ev.c.seq, ev.c.hash)
        .where(ev.c.chain_id == chain_id)
        .order_by(ev.c.seq.desc())
        .limit(1)
    ).first()
    tomb = conn.execute(
        select(tb.c.last_seq, tb.c.last_hash)
        .where(tb.c.chain_id == chain_id)
        .order_by(tb.c.last_seq.desc())
        .limit(1)
    ).first()
    seq, head = 0, genesis_hash(chain_id)
    if row is not None:
        seq, head = row.seq, row.hash
    if tomb is not None and tomb.last_seq > seq:
        seq, head = tomb.last_seq, tomb.last_hash
    return seq, head


def ensure_chain(store: Store, conn: Connection, chain_id: str) -> None:
    now = now_us()
    conn.execute(
        store.insert(schema.chains)
        .values(chain_id=chain_id, created_at=now, updated_at=now, head_seq=0)
        .on_conflict_do_nothing(index_elements=["chain_id"])
    )


def register_key(store: Store, conn: Connection, signer: Signer, owner: str) -> None:
    conn.execute(
        store.insert(schema.signing_keys)
        .values(
            key_id=signer.key_id, public_key=signer.public_pem, created_at=now_us(), owner=owner
        )
        .on_conflict_do_nothing(index_elements=["key_id"])
    )
