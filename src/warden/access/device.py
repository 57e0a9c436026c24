"""The device authorization grant (RFC 8628), served by Warden for ``warden login``.

The CLI asks ``/auth/device/code`` for a device code and a user code, shows
the user code and opens ``/auth/device``; the person confirms the code there
and signs in with the company IdP; meanwhile the CLI polls ``/auth/token``
and gets ``authorization_pending`` until then, ``slow_down`` when it polls
faster than ``interval`` (which then grows by five seconds, as the RFC
says), ``access_denied`` if the person refused, ``expired_token`` after ten
minutes, and the tokens exactly once.

The device code is a 256-bit secret stored only as its SHA-256; the user
code is eight letters from a 20-letter alphabet without vowels (no words,
no look-alikes), 20^8 ≈ 2.6·10^10 possibilities, valid ten minutes.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from warden.access import schema
from warden.access.store import AccessStore, dumps, loads_list

DEVICE_TTL = 600
INTERVAL = 5
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8


class DeviceStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    CONSUMED = "consumed"


class PollResult(enum.StrEnum):
    PENDING = "authorization_pending"
    SLOW_DOWN = "slow_down"
    EXPIRED = "expired_token"
    DENIED = "access_denied"
    INVALID = "invalid_grant"
    APPROVED = "approved"


@dataclass(frozen=True, slots=True)
class DeviceGrant:
    device_code: str
    user_code: str
    expires_in: int
    interval: int


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    subject: str
    groups: tuple[str, ...]
    amr: tuple[str, ...]
    display_name: str | None


def _hash(device_code: str) -> str:
    return hashlib.sha256(device_code.encode()).hexdigest()


def normalise_user_code(text: str) -> str:
    """What the person typed -> the stored form (``BCDF-GHJK``), or ``""``."""
    letters = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(letters) != USER_CODE_LENGTH or any(ch not in USER_CODE_ALPHABET for ch in letters):
        return ""
    return f"{letters[:4]}-{letters[4:]}"


class DeviceCodes:
    def __init__(self, store: AccessStore) -> None:
        self._store = store

    def start(self, client_id: str) -> DeviceGrant:
        """Blocking. A new device code and user code."""
        now = self._store.now()
        device_code = secrets.token_urlsafe(32)
        for _ in range(5):
            letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
            user_code = f"{letters[:4]}-{letters[4:]}"
            with self._store.write() as conn:
                taken = conn.execute(
                    select(schema.device_codes.c.device_hash).where(
                        schema.device_codes.c.user_code == user_code
                    )
                ).first()
                if taken is not None:
                    continue
                conn.execute(
                    schema.device_codes.insert().values(
                        device_hash=_hash(device_code),
                        user_code=user_code,
                        client_id=client_id,
                        status=DeviceStatus.PENDING.value,
                        created_at=now,
                        expires_at=now + DEVICE_TTL,
                        interval=INTERVAL,
                    )
                )
            return DeviceGrant(device_code, user_code, DEVICE_TTL, INTERVAL)
        raise RuntimeError("could not find a free user code")

    def pending(self, user_code: str) -> bool:
        """Blocking: is ``user_code`` waiting for a person to sign in?"""
        code = normalise_user_code(user_code)
        if not code:
            return False
        t = schema.device_codes
        with self._store.read() as conn:
            row = conn.execute(
                select(t.c.status, t.c.expires_at).where(t.c.user_code == code)
            ).first()
        return (
            row is not None
            and row.status == DeviceStatus.PENDING.value
            and row.expires_at > self._store.now()
        )

    def decide(self, user_code: str, identity: DeviceIdentity | None) -> bool:
        """Blocking. Approve for ``identity``, or deny with ``None``; once only."""
        code = normalise_user_code(user_code)
        if not code:
            return False
        t = schema.device_codes
        now = self._store.now()
        values: dict[str, object] = {"decided_at": now}
        if identity is None:
            values["status"] = DeviceStatus.DENIED.value
        else:
            values.update(
                status=DeviceStatus.APPROVED.value,
                subject=identity.subject,
                groups=dumps(sorted(identity.groups)),
                amr=dumps(list(identity.amr)),
                display_name=identity.display_name,
            )
        with self._store.write() as conn:
            result = conn.execute(
                update(t)
                .where(
                    t.c.user_code == code,
                    t.c.status == DeviceStatus.PENDING.value,
                    t.c.expires_at > now,
                )
                .values(**values)
            )
        return result.rowcount == 1

    def poll(self, device_code: str, client_id: str) -> tuple[PollResult, DeviceIdentity | None]:
        """Blocking. One poll of the token endpoint."""
        if not device_code or len(device_code) > 128:
            return PollResult.INVALID, None
        t = schema.device_codes
        now = self._store.now()
        with self._store.write() as conn:
            row = conn.execute(select(t).where(t.c.device_hash == _hash(device_code))).first()
            if row is None or row.client_id != client_id:
                return PollResult.INVALID, None
            if row.status == DeviceStatus.CONSUMED.value:
                return PollResult.INVALID, None
            if row.status == DeviceStatus.DENIED.value:
                return PollResult.DENIED, None
            if row.expires_at <= now:
                return PollResult.EXPIRED, None
            if row.status == DeviceStatus.APPROVED.value:
                claimed = conn.execute(
                    update(t)
                    .where(
                        t.c.device_hash == row.device_hash,
                        t.c.status == DeviceStatus.APPROVED.value,
                    )
                    .values(status=DeviceStatus.CONSUMED.value, last_poll_at=now)
                )
                if claimed.rowcount != 1:
                    return PollResult.INVALID, None
                return PollResult.APPROVED, DeviceIdentity(
                    subject=row.subject,
                    groups=tuple(loads_list(row.groups)),
                    amr=tuple(loads_list(row.amr)),
                    display_name=row.display_name,
                )
            too_soon = row.last_poll_at is not None and now - row.last_poll_at < row.interval
            interval = row.interval + 5 if too_soon else row.interval
            conn.execute(
                update(t)
                .where(t.c.device_hash == row.device_hash)
                .values(last_poll_at=now, interval=interval)
            )
        return (PollResult.SLOW_DOWN if too_soon else PollResult.PENDING), None

    def prune(self) -> None:
        with self._store.write() as conn:
            conn.execute(
                delete(schema.device_codes).where(
                    schema.device_codes.c.expires_at <= self._store.now() - DEVICE_TTL
                )
            )
