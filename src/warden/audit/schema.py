"""The audit store's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Times are integers: microseconds since the Unix epoch, UTC, so they hash and
compare exactly on both backends. Table names carry an ``audit_`` prefix so
the store can share a database with the rest of the gateway; the Alembic
version table is ``audit_alembic_version`` for the same reason.

``audit_chains`` has one row per chain; its head columns are a convenience
(the events are authoritative) and the row is what out-of-process writers
lock. ``audit_session_decisions`` says which rules and actions fired in a
session: the index behind ``sessions list --decision``.

The migrations under ``migrations/versions`` create these tables; a test
checks that the migrated database matches this metadata.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# An auto-incrementing 64-bit key; SQLite only auto-increments INTEGER keys.
BigId = BigInteger().with_variant(Integer(), "sqlite")

chains = Table(
    "audit_chains",
    metadata,
    Column("chain_id", String(128), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("head_seq", BigInteger, nullable=False, server_default="0"),
    Column("head_hash", String(64), nullable=True),
)

events = Table(
    "audit_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("chain_id", String(128), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("session_id", String(255), nullable=True),
    Column("exchange_id", String(255), nullable=True),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("chain_id", "seq", name="uq_audit_events_chain_seq"),
    Index("ix_audit_events_session", "session_id", "ts"),
    # Event ids are shown to people (reveal, show): never reuse a purged one.
    sqlite_autoincrement=True,
)

sessions = Table(
    "audit_sessions",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("subject", String(255), nullable=True),
    Column("groups", Text, nullable=True),
    Column("auth_method", String(64), nullable=True),
    Column("user_agent", Text, nullable=True),
    Column("client_address", String(255), nullable=True),
    Column("connection", String(255), nullable=True),
    Column("connection_type", String(64), nullable=True),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Column("outcome", String(32), nullable=True),
    Column("exchanges", Integer, nullable=False, server_default="0"),
    Index("ix_audit_sessions_started", "started_at"),
    Index("ix_audit_sessions_subject", "subject"),
    Index("ix_audit_sessions_connection", "connection"),
)

session_decisions = Table(
    "audit_session_decisions",
    metadata,
    Column("session_id", String(255), primary_key=True),
    Column("rule", String(255), primary_key=True),
    Column("action", String(64), primary_key=True),
    Column("flow", String(16), primary_key=True),
    Index("ix_audit_session_decisions_rule", "rule"),
    Index("ix_audit_session_decisions_action", "action"),
)

signing_keys = Table(
    "audit_signing_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("public_key", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("owner", String(255), nullable=False),
)

checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("chain_id", String(128), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", Text, nullable=False),
    Index("ix_audit_checkpoints_chain", "chain_id", "seq"),
)

tombstones = Table(
    "audit_tombstones",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("chain_id", String(128), nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("purged_at", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", Text, nullable=False),
    UniqueConstraint("chain_id", "first_seq", name="uq_audit_tombstones_chain_first"),
)

data_keys = Table(
    "audit_data_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kek_id", String(64), nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

raw_payloads = Table(
    "audit_raw_payloads",
    metadata,
    Column("chain_id", String(128), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("data_key_id", String(64), nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
)
