"""Gateway tokens: short-lived EdDSA JWTs the gateway issues and verifies.

Claims: ``iss`` (the gateway's URL), ``aud`` (``warden``), ``sub``,
``groups``, ``amr`` (how the caller signed in: ``oidc``, ``saml``, ``pwd``,
``device``, ``token-exchange``), ``jti``, ``iat``, ``nbf``, ``exp``, and
``name`` when known. The header carries ``typ: at+jwt`` (RFC 9068) and the
signing key's ``kid``.

Verification is pinned: the algorithm must be ``EdDSA`` and the key one of
the published Ed25519 keys, found by ``kid``; a token naming any other
algorithm (``none``, ``HS256`` with the public key as a secret, ``RS256``)
is refused before any signature check. ``iss``, ``aud``, ``exp``, ``nbf`` and
``iat`` are required and checked with a small leeway. A revoked ``jti``, or a
token of a subject revoked after it was issued, is refused.

Tokens are never logged; :func:`fingerprint` gives a safe handle for logs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy import delete, select

from warden.access import schema
from warden.access.keys import KeyRing, PublishedKeys
from warden.access.store import AccessStore

AUDIENCE = "warden"
ALGORITHM = "EdDSA"
TOKEN_TYPE = "at+jwt"
MAX_TOKEN_BYTES = 16 * 1024
_REQUIRED = ["iss", "aud", "sub", "exp", "nbf", "iat", "jti"]


class InvalidToken(Exception):
    """Why a gateway token was refused (safe to log: never holds the token)."""


@dataclass(frozen=True, slots=True)
class GatewayClaims:
    subject: str
    groups: frozenset[str]
    amr: tuple[str, ...]
    jti: str
    issued_at: int
    expires_at: int
    display_name: str | None = None


def fingerprint(token: str) -> str:
    """A short, non-reversible handle for a credential, for logs and audit."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def looks_like_jwt(credential: str) -> bool:
    parts = credential.split(".")
    return len(parts) == 3 and all(parts[:2]) and len(credential) <= MAX_TOKEN_BYTES


class TokenIssuer:
    def __init__(self, keys: KeyRing, issuer: str, store: AccessStore) -> None:
        self._keys = keys
        self.issuer = issuer
        self._store = store

    def issue(
        self,
        subject: str,
        groups: Iterable[str],
        amr: Iterable[str],
        ttl: float,
        *,
        display_name: str | None = None,
    ) -> tuple[str, GatewayClaims]:
        """Blocking (it may rotate the key). Returns the token and its claims."""
        key = self._keys.current()
        now = self._store.now()
        expires = min(now + int(ttl), key.expires_at)
        claims = GatewayClaims(
            subject=subject,
            groups=frozenset(groups),
            amr=tuple(dict.fromkeys(amr)),
            jti=secrets.token_urlsafe(16),
            issued_at=now,
            expires_at=expires,
            display_name=display_name,
        )
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": subject,
            "groups": sorted(claims.groups),
            "amr": list(claims.amr),
            "jti": claims.jti,
            "iat": now,
            "nbf": now,
            "exp": expires,
        }
        if display_name:
            payload["name"] = display_name
        token = jwt.encode(
            payload,
            key.private,
            algorithm=ALGORITHM,
            headers={"kid": key.kid, "typ": TOKEN_TYPE},
        )
        return token, claims


class Revocations:
    """Revoked token ids and subject cut-offs, held in memory, refreshed from the store."""

    def __init__(self, store: AccessStore) -> None:
        self._store = store
        self._jtis: set[str] = set()
        self._subjects: dict[str, int] = {}

    def is_revoked(self, claims: GatewayClaims) -> bool:
        if claims.jti in self._jtis:
            return True
        cutoff = self._subjects.get(claims.subject)
        return cutoff is not None and claims.issued_at < cutoff

    def revoke_token(
        self, jti: str, *, subject: str | None, expires_at: int, actor: str, reason: str
    ) -> None:
        """Blocking. Takes effect here at once, on other replicas at their next sync."""
        with self._store.write() as conn:
            conn.execute(
                self._store.insert(schema.revocations)
                .values(
                    jti=jti,
                    subject=subject,
                    expires_at=expires_at,
                    revoked_at=self._store.now(),
                    actor=actor,
                    reason=reason,
                )
                .on_conflict_do_nothing()
            )
        self._jtis.add(jti)

    def revoke_subject(self, subject: str, *, actor: str, reason: str) -> int:
        """Blocking: every token of ``subject`` issued up to now stops working."""
        cutoff = self._store.now() + 1
        with self._store.write() as conn:
            conn.execute(
                delete(schema.subject_revocations).where(
                    schema.subject_revocations.c.subject == subject
                )
            )
            conn.execute(
                schema.subject_revocations.insert().values(
                    subject=subject, not_before=cutoff, actor=actor, reason=reason
                )
            )
        self._subjects[subject] = cutoff
        return cutoff

    def reload(self) -> None:
        now = self._store.now()
        with self._store.read() as conn:
            jtis = {
                row[0]
                for row in conn.execute(
                    select(schema.revocations.c.jti).where(schema.revocations.c.expires_at > now)
                )
            }
            subjects = {
                row[0]: int(row[1])
                for row in conn.execute(
                    select(
                        schema.subject_revocations.c.subject,
                        schema.subject_revocations.c.not_before,
                    )
                )
            }
        self._jtis = jtis
        self._subjects = subjects

    def prune(self) -> None:
        with self._store.write() as conn:
            conn.execute(
                delete(schema.revocations).where(
                    schema.revocations.c.expires_at <= self._store.now()
                )
            )


class TokenVerifier:
    def __init__(
        self,
        keys: PublishedKeys,
        revocations: Revocations,
        *,
        issuer: str,
        leeway: float,
    ) -> None:
        self._keys = keys
        self._revocations = revocations
        self.issuer = issuer
        self.leeway = leeway

    def unknown_kid(self, token: str) -> str | None:
        """The ``kid`` of a well-formed token whose key is not loaded (to reload once)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        kid = header.get("kid")
        if isinstance(kid, str) and self._keys.get(kid) is None:
            return kid
        return None

    def verify(self, token: str) -> GatewayClaims:
        """Raise :class:`InvalidToken` unless ``token`` is a valid, unrevoked gateway token."""
        if not looks_like_jwt(token):
            raise InvalidToken("not a JWT")
        header = _header(token)
        if header.get("alg") != ALGORITHM:
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
        if header.get("typ") != TOKEN_TYPE:
            raise InvalidToken("not a gateway access token (typ)")
        if "crit" in header:
            raise InvalidToken("critical header extensions are not supported")
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("unknown signing key")
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": _REQUIRED, "strict_aud": True},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from None
        claims = _claims(payload)
        if self._revocations.is_revoked(claims):
            raise InvalidToken("revoked")
        return claims


def _header(token: str) -> dict[str, Any]:
    # get_unverified_header would accept it; decode once ourselves to check
    # the raw JSON is an object before trusting any member of it.
    segment = token.split(".", 1)[0]
    try:
        data = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError:
        raise InvalidToken("malformed header") from None
    if not isinstance(data, dict):
        raise InvalidToken("malformed header")
    return data


def _claims(payload: dict[str, Any]) -> GatewayClaims:
    subject = payload.get("sub")
    groups = payload.get("groups", [])
    amr = payload.get("amr", [])
    name = payload.get("name")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("bad sub")
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise InvalidToken("bad groups")
    if not isinstance(amr, list) or not all(isinstance(a, str) for a in amr):
        raise InvalidToken("bad amr")
    if not isinstance(payload["jti"], str):
        raise InvalidToken("bad jti")
    return GatewayClaims(
        subject=subject,
        groups=frozenset(groups),
        amr=tuple(amr),
        jti=payload["jti"],
        issued_at=int(payload["iat"]),
        expires_at=int(payload["exp"]),
        display_name=name if isinstance(name, str) else None,
    )
