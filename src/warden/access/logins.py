"""Sign-ins in progress, kept in the store so any replica can finish them.

A sign-in starts at ``/auth/login`` and ends at the IdP's callback (OIDC) or
assertion consumer (SAML), possibly on another replica. Its row holds the
``state`` (which also goes to the browser in a cookie, binding the callback
to the browser that started it), the OIDC ``nonce``, the PKCE
``code_verifier``, the SAML ``request_id``, and the device ``user_code`` when
the sign-in approves a ``warden login``. A row can be used once, and only
within ten minutes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from warden.access import schema
from warden.access.store import AccessStore

LOGIN_TTL = 600


@dataclass(frozen=True, slots=True)
class LoginState:
    state: str
    method: str
    nonce: str
    code_verifier: str
    request_id: str | None
    user_code: str | None
    return_to: str | None


class Logins:
    def __init__(self, store: AccessStore) -> None:
        self._store = store

    def start(
        self,
        method: str,
        *,
        user_code: str | None = None,
        return_to: str | None = None,
        request_id: str | None = None,
    ) -> LoginState:
        """Blocking. A fresh state, nonce and PKCE verifier (43+ characters)."""
        login = LoginState(
            state=secrets.token_urlsafe(32),
            method=method,
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(64),
            request_id=request_id,
            user_code=user_code,
            return_to=return_to,
        )
        now = self._store.now()
        with self._store.write() as conn:
            conn.execute(
                schema.login_states.insert().values(
                    state=login.state,
                    method=method,
                    nonce=login.nonce,
                    code_verifier=login.code_verifier,
                    request_id=request_id,
                    user_code=user_code,
                    return_to=return_to,
                    created_at=now,
                    expires_at=now + LOGIN_TTL,
                )
            )
        return login

    def set_request_id(self, state: str, request_id: str) -> None:
        with self._store.write() as conn:
            conn.execute(
                update(schema.login_states)
                .where(schema.login_states.c.state == state)
                .values(request_id=request_id)
            )

    def consume(self, state: str, method: str) -> LoginState | None:
        """Blocking. The sign-in for ``state``, once: a second call gets ``None``."""
        if not state or len(state) > 64:
            return None
        t = schema.login_states
        now = self._store.now()
        with self._store.write() as conn:
            row = conn.execute(select(t).where(t.c.state == state, t.c.method == method)).first()
            if row is None or row.used_at is not None or row.expires_at <= now:
                return None
            claimed = conn.execute(
                update(t).where(t.c.state == state, t.c.used_at.is_(None)).values(used_at=now)
            )
            if claimed.rowcount != 1:
                return None
        return LoginState(
            state=row.state,
            method=row.method,
            nonce=row.nonce,
            code_verifier=row.code_verifier,
            request_id=row.request_id,
            user_code=row.user_code,
            return_to=row.return_to,
        )

    def prune(self) -> None:
        with self._store.write() as conn:
            conn.execute(
                delete(schema.login_states).where(
                    schema.login_states.c.expires_at <= self._store.now() - LOGIN_TTL
                )
            )
