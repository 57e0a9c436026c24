"""Local accounts: for the embedded quickstart and small teams without an IdP.

Passwords are hashed with argon2id (argon2-cffi's defaults, re-hashed when
the parameters change). Checking a password for an unknown or disabled
user still runs one argon2 verification, so the answer takes as long as for
a real user and does not reveal which user names exist.

On the first start with local accounts enabled, :meth:`Accounts.bootstrap`
creates the admin account with a random password and returns it so the
gateway prints it once to the terminal (never to the log); a marker in the
store makes sure that happens only once, even across replicas.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update

from warden.access import schema
from warden.access.store import AccessStore, dumps, loads_list

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
_BOOTSTRAP_MARK = "bootstrap_admin"


class AccountError(Exception):
    """A refused account change; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    groups: tuple[str, ...]
    display_name: str | None
    disabled: bool
    created_at: int
    updated_at: int


class Accounts:
    def __init__(self, store: AccessStore, hasher: PasswordHasher | None = None) -> None:
        self._store = store
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    def add(
        self,
        username: str,
        password: str,
        *,
        groups: list[str],
        display_name: str | None = None,
    ) -> Account:
        """Blocking."""
        if not USERNAME.match(username):
            raise AccountError(
                "user names are 1-64 lowercase letters, digits, '.', '_', '@' or '-'"
            )
        _check_password(password)
        now = self._store.now()
        with self._store.write() as conn:
            inserted = self._store.insert_new(
                conn,
                schema.accounts,
                username=username,
                password_hash=self._hasher.hash(password),
                groups=dumps(sorted(set(groups))),
                display_name=display_name,
                disabled=False,
                created_at=now,
                updated_at=now,
            )
            if not inserted:
                raise AccountError(f"account {username!r} exists already")
        return Account(username, tuple(sorted(set(groups))), display_name, False, now, now)

    def set_password(self, username: str, password: str) -> None:
        _check_password(password)
        self._update(username, password_hash=self._hasher.hash(password))

    def set_groups(self, username: str, groups: list[str]) -> None:
        self._update(username, groups=dumps(sorted(set(groups))))

    def set_disabled(self, username: str, disabled: bool) -> None:
        self._update(username, disabled=disabled)

    def _update(self, username: str, **values: object) -> None:
        t = schema.accounts
        with self._store.write() as conn:
            result = conn.execute(
                update(t)
                .where(t.c.username == username)
                .values(updated_at=self._store.now(), **values)
            )
        if result.rowcount != 1:
            raise AccountError(f"no account {username!r}")

    def all(self) -> list[Account]:
        t = schema.accounts
        with self._store.read() as conn:
            rows = conn.execute(select(t).order_by(t.c.username)).all()
        return [
            Account(
                row.username,
                tuple(loads_list(row.groups)),
                row.display_name,
                bool(row.disabled),
                row.created_at,
                row.updated_at,
            )
            for row in rows
        ]

    def authenticate(self, username: str, password: str) -> Account | None:
        """Blocking (argon2 is deliberately slow: call it in a thread)."""
        t = schema.accounts
        row = None
        if USERNAME.match(username) and len(password) <= MAX_PASSWORD:
            with self._store.read() as conn:
                row = conn.execute(select(t).where(t.c.username == username)).first()
        if row is None or row.disabled:
            if self._dummy is None:
                self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
            with contextlib.suppress(VerificationError):
                self._hasher.verify(self._dummy, password[:MAX_PASSWORD] or "x")
            return None
        try:
            self._hasher.verify(row.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if self._hasher.check_needs_rehash(row.password_hash):
            self._update(username, password_hash=self._hasher.hash(password))
        return Account(
            row.username,
            tuple(loads_list(row.groups)),
            row.display_name,
            False,
            row.created_at,
            row.updated_at,
        )

    def bootstrap(self, username: str, groups: list[str]) -> str | None:
        """Blocking. On the very first start: create ``username`` and return its
        password (to be printed once). ``None`` if this ever happened before or
        accounts exist already."""
        now = self._store.now()
        password = secrets.token_urlsafe(18)
        with self._store.write() as conn:
            if not self._store.insert_new(conn, schema.meta, key=_BOOTSTRAP_MARK, value=str(now)):
                return None
            if conn.execute(select(schema.accounts.c.username).limit(1)).first() is not None:
                return None
            conn.execute(
                schema.accounts.insert().values(
                    username=username,
                    password_hash=self._hasher.hash(password),
                    groups=dumps(sorted(set(groups))),
                    display_name="Bootstrap administrator",
                    disabled=False,
                    created_at=now,
                    updated_at=now,
                )
            )
        return password


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")
