"""The access store's tables (SQLAlchemy Core).

Times are whole seconds since the Unix epoch. Secrets that a client presents
later (device codes, refresh tokens) are stored only as SHA-256 hex; a
password only as an argon2id hash. The schema itself is created and changed
by the migrations in :mod:`warden.access.migrations`, never by
``metadata.create_all``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

signing_keys = Table(
    "access_signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("public_jwk", Text, nullable=False),
    Column("owner", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)
"""Public halves of every replica's signing keys: the JWKS, and what verifies."""

revocations = Table(
    "access_revocations",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("subject", String(255), nullable=True),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("reason", Text, nullable=False),
)

subject_revocations = Table(
    "access_subject_revocations",
    metadata,
    Column("subject", String(255), primary_key=True),
    Column("not_before", BigInteger, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("reason", Text, nullable=False),
)
"""Every token of ``subject`` issued before ``not_before`` is refused."""

login_states = Table(
    "access_login_states",
    metadata,
    Column("state", String(64), primary_key=True),
    Column("method", String(16), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("request_id", String(128), nullable=True),
    Column("user_code", String(16), nullable=True),
    Column("return_to", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger, nullable=True),
)
"""One sign-in in progress: state, nonce and PKCE verifier (OIDC), request id (SAML)."""

device_codes = Table(
    "access_device_codes",
    metadata,
    Column("device_hash", String(64), primary_key=True),
    Column("user_code", String(16), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("interval", Integer, nullable=False),
    Column("last_poll_at", BigInteger, nullable=True),
    Column("subject", String(255), nullable=True),
    Column("groups", Text, nullable=True),
    Column("amr", Text, nullable=True),
    Column("display_name", String(255), nullable=True),
    Column("decided_at", BigInteger, nullable=True),
    UniqueConstraint("user_code", name="uq_access_device_codes_user_code"),
)

sessions = Table(
    "access_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("family", String(64), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("groups", Text, nullable=False),
    Column("amr", Text, nullable=False),
    Column("display_name", String(255), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
)
"""Refresh tokens: one row per token, rotated on use; a family is one sign-in."""

Index("ix_access_sessions_family", sessions.c.family)
Index("ix_access_sessions_subject", sessions.c.subject)

seen = Table(
    "access_seen",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)
"""Replay cache: exchanged token ids, SAML assertion ids (hashed), until they expire."""

requests = Table(
    "access_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("connection", String(255), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("display_name", String(255), nullable=True),
    Column("reason", Text, nullable=False),
    Column("duration", BigInteger, nullable=False),
    Column("approvals_required", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("pending_until", BigInteger, nullable=False),
    Column("decided_at", BigInteger, nullable=True),
    Column("granted_at", BigInteger, nullable=True),
    Column("expires_at", BigInteger, nullable=True),
)
"""Just-in-time access requests; an approved one is a grant until ``expires_at``."""

Index("ix_access_requests_status", requests.c.status, requests.c.connection)
Index("ix_access_requests_subject", requests.c.subject, requests.c.connection)

votes = Table(
    "access_request_votes",
    metadata,
    Column("request_id", String(32), primary_key=True),
    Column("approver", String(255), primary_key=True),
    Column("decision", String(16), nullable=False),
    Column("comment", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
)

accounts = Table(
    "access_accounts",
    metadata,
    Column("username", String(255), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("groups", Text, nullable=False),
    Column("display_name", String(255), nullable=True),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

meta = Table(
    "access_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
