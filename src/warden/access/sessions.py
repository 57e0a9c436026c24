"""Refresh tokens: how ``warden token`` gets a new gateway token without a browser.

A sign-in (device flow) creates a *session* that lasts ``session_ttl`` from
the sign-in, whatever happens. Its refresh token is single-use: each use
returns a new one (rotation). Presenting a refresh token that was already
used means two parties hold it, so the whole session is revoked (reuse
detection, as in the OAuth 2.0 Security BCP). Only SHA-256 hashes are stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from warden.access import schema
from warden.access.store import AccessStore, dumps, loads_list

PREFIX = "wrt_"


@dataclass(frozen=True, slots=True)
class Session:
    family: str
    subject: str
    groups: tuple[str, ...]
    amr: tuple[str, ...]
    display_name: str | None
    expires_at: int


class RefreshReuse(Exception):
    """A used refresh token came back: the session was revoked."""

    def __init__(self, session: Session) -> None:
        super().__init__("refresh token reused; the session was revoked")
        self.session = session


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, store: AccessStore) -> None:
        self._store = store

    def create(
        self,
        subject: str,
        groups: tuple[str, ...],
        amr: tuple[str, ...],
        display_name: str | None,
        ttl: float,
    ) -> tuple[str, Session]:
        """Blocking. A new session and its first refresh token."""
        now = self._store.now()
        session = Session(
            family=secrets.token_hex(16),
            subject=subject,
            groups=groups,
            amr=amr,
            display_name=display_name,
            expires_at=now + int(ttl),
        )
        with self._store.write() as conn:
            token = self._insert(conn, session, now)
        return token, session

    def _insert(self, conn: Connection, session: Session, now: int) -> str:
        token = PREFIX + secrets.token_urlsafe(32)
        conn.execute(
            schema.sessions.insert().values(
                token_hash=_hash(token),
                family=session.family,
                subject=session.subject,
                groups=dumps(sorted(session.groups)),
                amr=dumps(list(session.amr)),
                display_name=session.display_name,
                created_at=now,
                expires_at=session.expires_at,
            )
        )
        return token

    def rotate(self, token: str) -> tuple[str, Session] | None:
        """Blocking. Use a refresh token: the next one and the session, or ``None``.

        Raises :class:`RefreshReuse` when the token had been used already.
        """
        if not token.startswith(PREFIX) or len(token) > 128:
            return None
        t = schema.sessions
        now = self._store.now()
        with self._store.write() as conn:
            row = conn.execute(select(t).where(t.c.token_hash == _hash(token))).first()
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                return None
            session = Session(
                family=row.family,
                subject=row.subject,
                groups=tuple(loads_list(row.groups)),
                amr=tuple(loads_list(row.amr)),
                display_name=row.display_name,
                expires_at=row.expires_at,
            )
            claimed = conn.execute(
                update(t)
                .where(t.c.token_hash == row.token_hash, t.c.used_at.is_(None))
                .values(used_at=now)
            )
            if claimed.rowcount == 1:
                return self._insert(conn, session, now), session
            conn.execute(
                update(t)
                .where(t.c.family == row.family, t.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        raise RefreshReuse(session)

    def revoke(self, token: str) -> Session | None:
        """Blocking. End the session a refresh token belongs to (sign-out)."""
        t = schema.sessions
        now = self._store.now()
        with self._store.write() as conn:
            row = conn.execute(select(t).where(t.c.token_hash == _hash(token))).first()
            if row is None:
                return None
            conn.execute(
                update(t)
                .where(t.c.family == row.family, t.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return Session(
            row.family,
            row.subject,
            tuple(loads_list(row.groups)),
            tuple(loads_list(row.amr)),
            row.display_name,
            row.expires_at,
        )

    def revoke_subject(self, subject: str) -> int:
        t = schema.sessions
        with self._store.write() as conn:
            result = conn.execute(
                update(t)
                .where(t.c.subject == subject, t.c.revoked_at.is_(None))
                .values(revoked_at=self._store.now())
            )
        return int(result.rowcount or 0)

    def prune(self) -> None:
        with self._store.write() as conn:
            conn.execute(
                delete(schema.sessions).where(schema.sessions.c.expires_at <= self._store.now())
            )
