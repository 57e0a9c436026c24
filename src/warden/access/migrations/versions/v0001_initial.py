"""The access store: signing keys, revocations, sign-ins, sessions, JIT, accounts.

Revision ID: access_0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "access_0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "access_signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("public_jwk", sa.Text, nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "access_revocations",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "access_subject_revocations",
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("not_before", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "access_login_states",
        sa.Column("state", sa.String(64), primary_key=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("user_code", sa.String(16), nullable=True),
        sa.Column("return_to", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("used_at", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "access_device_codes",
        sa.Column("device_hash", sa.String(64), primary_key=True),
        sa.Column("user_code", sa.String(16), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("interval", sa.Integer, nullable=False),
        sa.Column("last_poll_at", sa.BigInteger, nullable=True),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("groups", sa.Text, nullable=True),
        sa.Column("amr", sa.Text, nullable=True),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("decided_at", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("user_code", name="uq_access_device_codes_user_code"),
    )
    op.create_table(
        "access_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("family", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("groups", sa.Text, nullable=False),
        sa.Column("amr", sa.Text, nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("used_at", sa.BigInteger, nullable=True),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_access_sessions_family", "access_sessions", ["family"])
    op.create_index("ix_access_sessions_subject", "access_sessions", ["subject"])
    op.create_table(
        "access_seen",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "access_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("connection", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("duration", sa.BigInteger, nullable=False),
        sa.Column("approvals_required", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("pending_until", sa.BigInteger, nullable=False),
        sa.Column("decided_at", sa.BigInteger, nullable=True),
        sa.Column("granted_at", sa.BigInteger, nullable=True),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_access_requests_status", "access_requests", ["status", "connection"])
    op.create_index("ix_access_requests_subject", "access_requests", ["subject", "connection"])
    op.create_table(
        "access_request_votes",
        sa.Column("request_id", sa.String(32), primary_key=True),
        sa.Column("approver", sa.String(255), primary_key=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "access_accounts",
        sa.Column("username", sa.String(255), primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("groups", sa.Text, nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "access_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "access_meta",
        "access_accounts",
        "access_request_votes",
        "access_requests",
        "access_seen",
        "access_sessions",
        "access_device_codes",
        "access_login_states",
        "access_subject_revocations",
        "access_revocations",
        "access_signing_keys",
    ):
        op.drop_table(table)
