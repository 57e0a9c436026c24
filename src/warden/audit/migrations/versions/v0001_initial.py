"""The audit store: chains, events, sessions, checkpoints, tombstones, raw payloads.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_chains",
        sa.Column("chain_id", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("head_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("head_hash", sa.String(64), nullable=True),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("chain_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(255), nullable=True),
        sa.Column("exchange_id", sa.String(255), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("chain_id", "seq", name="uq_audit_events_chain_seq"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_events_session", "audit_events", ["session_id", "ts"])
    op.create_table(
        "audit_sessions",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("groups", sa.Text, nullable=True),
        sa.Column("auth_method", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.Text, nullable=True),
        sa.Column("client_address", sa.String(255), nullable=True),
        sa.Column("connection", sa.String(255), nullable=True),
        sa.Column("connection_type", sa.String(64), nullable=True),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("ended_at", sa.BigInteger, nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("exchanges", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_audit_sessions_started", "audit_sessions", ["started_at"])
    op.create_index("ix_audit_sessions_subject", "audit_sessions", ["subject"])
    op.create_index("ix_audit_sessions_connection", "audit_sessions", ["connection"])
    op.create_table(
        "audit_session_decisions",
        sa.Column("session_id", sa.String(255), primary_key=True),
        sa.Column("rule", sa.String(255), primary_key=True),
        sa.Column("action", sa.String(64), primary_key=True),
        sa.Column("flow", sa.String(16), primary_key=True),
    )
    op.create_index("ix_audit_session_decisions_rule", "audit_session_decisions", ["rule"])
    op.create_index("ix_audit_session_decisions_action", "audit_session_decisions", ["action"])
    op.create_table(
        "audit_signing_keys",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("chain_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_checkpoints_chain", "audit_checkpoints", ["chain_id", "seq"])
    op.create_table(
        "audit_tombstones",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("chain_id", sa.String(128), nullable=False),
        sa.Column("first_seq", sa.BigInteger, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("purged_at", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.UniqueConstraint("chain_id", "first_seq", name="uq_audit_tombstones_chain_first"),
    )
    op.create_table(
        "audit_data_keys",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kek_id", sa.String(64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "audit_raw_payloads",
        sa.Column("chain_id", sa.String(128), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("data_key_id", sa.String(64), nullable=False),
        sa.Column("nonce", sa.LargeBinary, nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "audit_raw_payloads",
        "audit_data_keys",
        "audit_tombstones",
        "audit_checkpoints",
        "audit_signing_keys",
        "audit_session_decisions",
        "audit_sessions",
        "audit_events",
        "audit_chains",
    ):
        op.drop_table(table)
