"""The approvals table: review holds waiting for, or answered by, a human.

Times are microseconds since the Unix epoch (UTC), as in the audit store.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, MetaData, String, Table, Text

metadata = MetaData()

approvals = Table(
    "approvals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("decided_at", BigInteger, nullable=True),
    Column("decided_by", String(255), nullable=True),
    Column("note", Text, nullable=True),
    Column("exchange_id", String(255), nullable=False),
    Column("session_id", String(255), nullable=False),
    Column("connection", String(128), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("groups", Text, nullable=False),
    Column("rule", String(255), nullable=False),
    Column("reason", Text, nullable=False),
    Column("channel", String(255), nullable=False),
    Column("context", Text, nullable=False),
    Column("instance_id", String(128), nullable=False),
    Index("ix_approvals_status_created", "status", "created_at"),
)

VERSION_TABLE = "approvals_alembic_version"
