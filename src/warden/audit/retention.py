"""Retention: purge old events without leaving silent gaps.

Each connection keeps its events for its own number of days; admin events
(no session) follow ``admin_days`` (kept forever by default). A purge deletes
contiguous runs of expired events of a chain and, in the same transaction,
writes a signed *tombstone* for each run: its first and last ``seq``, the
hash the run continued from and the hash of its last event, so ``verify``
resumes the chain across the hole. Checkpoints are kept. Each purge is also
recorded as an ``admin`` event (``retention.purge``) in the admin chain.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import and_, delete, exists, select

from warden.audit import schema
from warden.audit.appender import LockedAppender
from warden.audit.chain import canonical_bytes
from warden.audit.checkpoints import Signer
from warden.audit.store import Store, now_us

DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True, slots=True)
class Tombstone:
    chain_id: str
    first_seq: int
    last_seq: int
    prev_hash: str
    last_hash: str
    count: int
    purged_at: int
    reason: str
    key_id: str
    signature: str

    def message(self) -> bytes:
        return canonical_bytes(
            {
                "type": "tombstone",
                "v": 1,
                "chain": self.chain_id,
                "first": self.first_seq,
                "last": self.last_seq,
                "prev": self.prev_hash,
                "last_hash": self.last_hash,
                "count": self.count,
                "purged_at": self.purged_at,
                "reason": self.reason,
                "key": self.key_id,
            }
        )

    @classmethod
    def sign(
        cls,
        signer: Signer,
        *,
        chain_id: str,
        first_seq: int,
        last_seq: int,
        prev_hash: str,
        last_hash: str,
        count: int,
        purged_at: int,
        reason: str,
    ) -> Tombstone:
        unsigned = cls(
            chain_id,
            first_seq,
            last_seq,
            prev_hash,
            last_hash,
            count,
            purged_at,
            reason,
            signer.key_id,
            "",
        )
        return cls(**{**unsigned.as_row(), "signature": signer.sign(unsigned.message())})

    def verify(self, public_key: Ed25519PublicKey) -> bool:
        try:
            public_key.verify(base64.b64decode(self.signature), self.message())
        except (InvalidSignature, ValueError):
            return False
        return True

    def as_row(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "prev_hash": self.prev_hash,
            "last_hash": self.last_hash,
            "count": self.count,
            "purged_at": self.purged_at,
            "reason": self.reason,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_row(cls, row: Any) -> Tombstone:
        return cls(
            row.chain_id,
            row.first_seq,
            row.last_seq,
            row.prev_hash,
            row.last_hash,
            row.count,
            row.purged_at,
            row.reason,
            row.key_id,
            row.signature,
        )


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    default_days: float | None = None
    """Days to keep a connection's events when it has no entry; ``None``: forever."""
    connections: Mapping[str, float | None] = field(default_factory=dict)
    admin_days: float | None = None
    """Days to keep admin events (no session); ``None``: forever."""

    def days_for(self, connection: str | None, has_session: bool) -> float | None:
        if not has_session:
            return self.admin_days
        if connection is not None and connection in self.connections:
            return self.connections[connection]
        return self.default_days

    def all_days(self) -> list[float]:
        values = [self.default_days, self.admin_days, *self.connections.values()]
        return [v for v in values if v is not None]


@dataclass(slots=True)
class PurgeResult:
    events: int = 0
    tombstones: list[Tombstone] = field(default_factory=list)
    sessions: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "sessions": self.sessions,
            "tombstones": [
                {"chain": t.chain_id, "first_seq": t.first_seq, "last_seq": t.last_seq}
                for t in self.tombstones
            ],
        }


def _runs(
    store: Store, chain_id: str, policy: RetentionPolicy, now: int, horizon: int
) -> list[tuple[int, int, str, str, int]]:
    """(first seq, last seq, prev hash, last hash, count) of each expired run."""
    ev = schema.events
    se = schema.sessions
    query = (
        select(ev.c.seq, ev.c.ts, ev.c.session_id, ev.c.prev_hash, ev.c.hash, se.c.connection)
        .select_from(ev.outerjoin(se, se.c.id == ev.c.session_id))
        .where(ev.c.chain_id == chain_id, ev.c.ts < horizon)
        .order_by(ev.c.seq)
    )
    runs: list[tuple[int, int, str, str, int]] = []
    current: list[Any] | None = None
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(query)
        for seq, ts, session_id, prev_hash, digest, connection in result:
            days = policy.days_for(connection, session_id is not None)
            expired = days is not None and ts < now - int(days * DAY_US)
            if expired and current is not None and current[1] == seq - 1:
                current[1], current[3], current[4] = seq, digest, current[4] + 1
                continue
            if current is not None:
                runs.append((current[0], current[1], current[2], current[3], current[4]))
                current = None
            if expired:
                current = [seq, seq, prev_hash, digest, 1]
    if current is not None:
        runs.append((current[0], current[1], current[2], current[3], current[4]))
    return runs


def purge(
    store: Store,
    policy: RetentionPolicy,
    *,
    signer: Signer,
    actor: str = "retention",
    now: int | None = None,
) -> PurgeResult:
    """Delete expired events, leaving signed tombstones (blocking)."""
    now = now_us() if now is None else now
    result = PurgeResult()
    days = policy.all_days()
    if not days:
        return result
    horizon = now - int(min(days) * DAY_US)
    with store.engine.connect() as conn:
        chain_ids = [row[0] for row in conn.execute(select(schema.chains.c.chain_id))]
    ev = schema.events
    raw = schema.raw_payloads
    for chain_id in sorted(chain_ids):
        for first, last, prev_hash, last_hash, count in _runs(
            store, chain_id, policy, now, horizon
        ):
            tomb = Tombstone.sign(
                signer,
                chain_id=chain_id,
                first_seq=first,
                last_seq=last,
                prev_hash=prev_hash,
                last_hash=last_hash,
                count=count,
                purged_at=now,
                reason=f"retention by {actor}",
            )
            with store.begin_write() as conn:
                conn.execute(
                    delete(ev).where(ev.c.chain_id == chain_id, ev.c.seq.between(first, last))
                )
                conn.execute(
                    delete(raw).where(raw.c.chain_id == chain_id, raw.c.seq.between(first, last))
                )
                conn.execute(schema.tombstones.insert().values(**tomb.as_row()))
            result.events += count
            result.tombstones.append(tomb)
    se = schema.sessions
    sd = schema.session_decisions
    with store.begin_write() as conn:
        orphan = and_(
            se.c.started_at < horizon,
            ~exists().where(ev.c.session_id == se.c.id),
        )
        gone = [row[0] for row in conn.execute(select(se.c.id).where(orphan))]
        for start in range(0, len(gone), 500):
            chunk = gone[start : start + 500]
            conn.execute(delete(sd).where(sd.c.session_id.in_(chunk)))
            conn.execute(delete(se).where(se.c.id.in_(chunk)))
        result.sessions = len(gone)
        if result.events:
            LockedAppender(store, signer=signer).append_admin(
                "retention.purge",
                actor,
                {
                    "events": result.events,
                    "sessions": result.sessions,
                    "ranges": [
                        {"chain": t.chain_id, "first": t.first_seq, "last": t.last_seq}
                        for t in result.tombstones
                    ],
                },
                conn=conn,
            )
    return result
