"""Signed checkpoints of chain heads (Ed25519).

At an interval, each writer signs the head of its chain: ``(chain, seq,
hash, ts)``. A checkpoint pins everything before it: an attacker who can
write to the database can still rewrite events after the last checkpoint
(nothing can stop that), but not before it without the signing key. Export
checkpoints somewhere the database's writers cannot reach (a JSONL file
shipped off the host, a webhook) and ``warden audit verify --anchors FILE``
checks the store against them; deleting the newest events is only caught
this way or by a later checkpoint.

The signing key is ``<state_dir>/audit-signing.key`` (PKCS #8 PEM, mode
0600), created on first start. Its public half is registered in the store
(``audit_signing_keys``); ``verify --trust-key PEM`` pins the keys to accept.

The signed message is the canonical JSON (see :mod:`warden.audit.chain`) of
``{"chain", "hash", "key", "seq", "ts", "v": 1}``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from warden.audit.chain import canonical_bytes

KEY_FILE = "audit-signing.key"


class SigningKeyError(Exception):
    """The signing key file is unreadable, malformed or too widely readable."""


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_pem(pem: str | bytes) -> Ed25519PublicKey:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError("not an Ed25519 public key")
    return key


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.DOTALL)


def load_trusted_keys(path: str | os.PathLike[str]) -> dict[str, Ed25519PublicKey]:
    """Every PEM Ed25519 key (public, or private: its public half) in ``path``, by key id."""
    text = Path(path).read_text(encoding="ascii")
    keys: dict[str, Ed25519PublicKey] = {}
    for match in _PEM_BLOCK.finditer(text):
        pem = match.group(0).encode("ascii")
        if "PRIVATE" in match.group(1):
            private = serialization.load_pem_private_key(pem, password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise SigningKeyError(f"{path}: not an Ed25519 key")
            public = private.public_key()
        else:
            public = load_public_pem(pem)
        keys[key_id_of(public)] = public
    if not keys:
        raise SigningKeyError(f"{path}: no PEM key found")
    return keys


@dataclass(frozen=True, slots=True)
class Signer:
    private_key: Ed25519PrivateKey
    key_id: str
    public_pem: str

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.private_key.sign(message)).decode("ascii")


def _signer(private_key: Ed25519PrivateKey) -> Signer:
    public = private_key.public_key()
    return Signer(private_key, key_id_of(public), public_pem(public))


def load_or_create_signer(state_dir: Path) -> Signer:
    """The state directory's signing key, created (mode 0600) when missing."""
    path = Path(state_dir) / KEY_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    if not data:
        path.parent.mkdir(parents=True, exist_ok=True)
        private_key = Ed25519PrivateKey.generate()
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_or_create_signer(state_dir)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        return _signer(private_key)
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise SigningKeyError(f"{path} is readable by others; run: chmod 600 {path}")
    try:
        loaded = serialization.load_pem_private_key(data, password=None)
    except ValueError as exc:
        raise SigningKeyError(f"{path} is not a PEM private key") from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key")
    return _signer(loaded)


def checkpoint_message(chain_id: str, seq: int, head_hash: str, ts: int, key_id: str) -> bytes:
    return canonical_bytes(
        {"chain": chain_id, "hash": head_hash, "key": key_id, "seq": seq, "ts": ts, "v": 1}
    )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    chain_id: str
    seq: int
    hash: str
    ts: int
    key_id: str
    signature: str

    @classmethod
    def sign(cls, signer: Signer, chain_id: str, seq: int, head_hash: str, ts: int) -> Checkpoint:
        message = checkpoint_message(chain_id, seq, head_hash, ts, signer.key_id)
        return cls(chain_id, seq, head_hash, ts, signer.key_id, signer.sign(message))

    def verify(self, public_key: Ed25519PublicKey) -> bool:
        message = checkpoint_message(self.chain_id, self.seq, self.hash, self.ts, self.key_id)
        try:
            public_key.verify(base64.b64decode(self.signature), message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def as_record(self, public_key_pem: str | None = None) -> dict[str, Any]:
        """The exported form: one JSON object per line of an anchors file."""
        record: dict[str, Any] = {
            "type": "checkpoint",
            "chain": self.chain_id,
            "seq": self.seq,
            "hash": self.hash,
            "ts": self.ts,
            "key": self.key_id,
            "sig": self.signature,
        }
        if public_key_pem is not None:
            record["public_key"] = public_key_pem
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Checkpoint:
        return cls(
            chain_id=str(record["chain"]),
            seq=int(record["seq"]),
            hash=str(record["hash"]),
            ts=int(record["ts"]),
            key_id=str(record["key"]),
            signature=str(record["sig"]),
        )
