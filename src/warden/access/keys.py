"""The gateway's token signing keys: Ed25519, rotated, published.

Each replica signs with its own private key, kept in
``<state_dir>/access-keys/<created>-<kid>.pem`` (directory 0700, file 0600).
Only the public half leaves the replica: it is published in the store
(``access_signing_keys``), where every replica's verifier and the
``/.well-known/jwks.json`` endpoint read it. So a token issued by one replica
verifies on all of them, and no private key is ever shared.

A key signs for ``rotation`` seconds, then the next token is signed by a new
key. The old public key stays published until every token it could have
signed has expired (``created + rotation + longest lifetime + leeway``); the
old private key is deleted at once, since nothing needs it any more.
``kid`` is the key's RFC 7638 JWK thumbprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import delete, select

from warden.access import schema
from warden.access.store import AccessStore

KEY_DIR = "access-keys"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: SHA-256 over the required members, sorted, no whitespace."""
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":")
    )
    return b64url(hashlib.sha256(canonical.encode()).digest())


def load_public_jwk(text: str) -> Ed25519PublicKey:
    data = json.loads(text)
    if data.get("kty") != "OKP" or data.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 JWK")
    raw = base64.urlsafe_b64decode(data["x"] + "=" * (-len(data["x"]) % 4))
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey
    created_at: int
    expires_at: int
    """When the public half stops verifying: no token may outlive it."""
    path: Path


class KeyRing:
    """This replica's current signing key, rotated when it is due."""

    def __init__(
        self,
        store: AccessStore,
        state_dir: Path,
        *,
        rotation: float,
        max_ttl: float,
        leeway: float,
        owner: str | None = None,
    ) -> None:
        self._store = store
        self._dir = Path(state_dir) / KEY_DIR
        self._rotation = int(rotation)
        self._lifetime = int(rotation + max_ttl + leeway)
        self._owner = owner or socket.gethostname()
        self._lock = threading.Lock()
        self._current: SigningKey | None = None

    def configure(self, *, rotation: float, max_ttl: float, leeway: float) -> None:
        """New lifetimes apply to keys made from now on."""
        self._rotation = int(rotation)
        self._lifetime = int(rotation + max_ttl + leeway)

    def current(self) -> SigningKey:
        """The key to sign with now (blocking: may write a file and the store)."""
        now = self._store.now()
        with self._lock:
            key = self._current
            if key is None:
                key = self._load_newest()
                if key is not None:
                    self._publish(key)  # a restart: make sure the store still has it
            if key is None or now >= key.created_at + self._rotation:
                key = self._create(now)
            self._current = key
            return key

    def _load_newest(self) -> SigningKey | None:
        if not self._dir.is_dir():
            return None
        best: SigningKey | None = None
        for path in sorted(self._dir.glob("*.pem")):
            created_text, _, kid = path.stem.partition("-")
            if not created_text.isdigit() or not kid:
                continue
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(private, Ed25519PrivateKey):
                continue
            created = int(created_text)
            if best is None or created > best.created_at:
                best = SigningKey(kid, private, created, created + self._lifetime, path)
        return best

    def _create(self, now: int) -> SigningKey:
        private = Ed25519PrivateKey.generate()
        jwk = public_jwk(private.public_key())
        kid = thumbprint(jwk)
        self._dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self._dir, 0o700)
        path = self._dir / f"{now}-{kid}.pem"
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        key = SigningKey(kid, private, now, now + self._lifetime, path)
        self._publish(key)
        for old in self._dir.glob("*.pem"):
            if old != path:
                old.unlink(missing_ok=True)
        return key

    def _publish(self, key: SigningKey) -> None:
        jwk = {**public_jwk(key.private.public_key()), "kid": key.kid, "alg": "EdDSA", "use": "sig"}
        with self._store.write() as conn:
            conn.execute(
                self._store.insert(schema.signing_keys)
                .values(
                    kid=key.kid,
                    public_jwk=json.dumps(jwk, sort_keys=True),
                    owner=self._owner,
                    created_at=key.created_at,
                    expires_at=key.expires_at,
                )
                .on_conflict_do_nothing()
            )


class PublishedKeys:
    """Every replica's unexpired public keys, read from the store."""

    def __init__(self, store: AccessStore) -> None:
        self._store = store
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._jwks: list[dict[str, Any]] = []

    def get(self, kid: str) -> Ed25519PublicKey | None:
        return self._keys.get(kid)

    def jwks(self) -> dict[str, Any]:
        return {"keys": list(self._jwks)}

    def reload(self) -> None:
        """Blocking: re-read the published keys and forget expired ones."""
        now = self._store.now()
        with self._store.read() as conn:
            rows = conn.execute(
                select(schema.signing_keys.c.kid, schema.signing_keys.c.public_jwk)
                .where(schema.signing_keys.c.expires_at > now)
                .order_by(schema.signing_keys.c.created_at.desc())
            ).all()
        keys: dict[str, Ed25519PublicKey] = {}
        jwks: list[dict[str, Any]] = []
        for kid, text in rows:
            try:
                keys[kid] = load_public_jwk(text)
            except (ValueError, KeyError):
                continue
            jwks.append(json.loads(text))
        self._keys = keys
        self._jwks = jwks

    def prune(self) -> int:
        """Blocking: delete keys that can no longer verify anything."""
        with self._store.write() as conn:
            result = conn.execute(
                delete(schema.signing_keys).where(
                    schema.signing_keys.c.expires_at <= self._store.now()
                )
            )
        return int(result.rowcount or 0)
