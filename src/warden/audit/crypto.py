"""Envelope encryption for raw (unmasked) payloads, off unless configured.

Each session's raw payloads are encrypted with AES-256-GCM under a fresh
*data key*; the data key is stored only wrapped (RFC 3394 AES key wrap) by a
*key-encryption key* (KEK) that never touches the database; the wrapped
key is stored with the id of the KEK that wrapped it, so a rotated KEK still
unwraps what its predecessors wrapped. A :class:`KeyProvider` holds the KEKs:
:class:`LocalKeyProvider` reads them from a file or an environment variable,
:class:`~warden.audit.vault.VaultTransitKeyProvider` asks HashiCorp Vault's
transit engine; another KMS plugs in by implementing the same three members.
A :class:`KeyRing` combines providers, for moving from one to another.

A KEK file holds one base64-encoded 32-byte key per line; the first line is
the current key (used to wrap new data keys), the others are older keys kept
to unwrap what they wrapped. ``warden audit keygen`` writes one.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

KEK_ENV = "WARDEN_AUDIT_KEK"
KEK_FILE_ENV = "WARDEN_AUDIT_KEK_FILE"
CIPHER = "AES-256-GCM"


class KeyProviderError(Exception):
    """A KEK is missing, malformed, or does not unwrap a data key."""


class UnknownKeyError(KeyProviderError):
    """The provider does not hold the KEK a data key was wrapped with."""


class KeyProvider(Protocol):
    """Where the key-encryption keys are. ``wrap`` runs in the audit writer's
    thread and ``unwrap`` in a worker thread: both may block (a KMS call)."""

    @property
    def key_id(self) -> str:
        """The id of the KEK that wraps new data keys."""
        ...

    def wrap(self, data_key: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        """Unwrap a data key wrapped by the KEK ``key_id``; raise
        :class:`UnknownKeyError` if this provider does not hold that KEK,
        :class:`KeyProviderError` for any other failure."""
        ...


def kek_id(kek: bytes) -> str:
    return hashlib.sha256(b"warden-kek\x00" + kek).hexdigest()[:32]


class LocalKeyProvider:
    """KEKs held in memory, loaded from a file or an environment variable."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise KeyProviderError("no key-encryption key given")
        for key in keys:
            if len(key) != 32:
                raise KeyProviderError("a key-encryption key must be 32 bytes (base64-encoded)")
        self._keys: Mapping[str, bytes] = {kek_id(key): key for key in keys}
        self._current = kek_id(keys[0])

    @classmethod
    def from_text(cls, text: str) -> LocalKeyProvider:
        keys: list[bytes] = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                keys.append(base64.b64decode(line, validate=True))
            except ValueError as exc:
                raise KeyProviderError("a key-encryption key line is not valid base64") from exc
        return cls(keys)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> LocalKeyProvider:
        try:
            text = Path(path).read_text(encoding="ascii")
        except OSError as exc:
            raise KeyProviderError(
                f"cannot read key-encryption key file {path}: {exc.strerror}"
            ) from exc
        return cls.from_text(text)

    @classmethod
    def from_env(cls, var: str = KEK_ENV) -> LocalKeyProvider:
        value = os.environ.get(var)
        if not value:
            raise KeyProviderError(f"${var} is not set")
        return cls.from_text(value)

    @property
    def key_id(self) -> str:
        return self._current

    def wrap(self, data_key: bytes) -> bytes:
        return aes_key_wrap(self._keys[self._current], data_key)

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        kek = self._keys.get(key_id)
        if kek is None:
            raise UnknownKeyError(f"key-encryption key {key_id} is not available")
        try:
            return aes_key_unwrap(kek, wrapped)
        except (InvalidUnwrap, ValueError) as exc:
            raise KeyProviderError(
                f"key-encryption key {key_id} does not unwrap this data key"
            ) from exc


class KeyRing:
    """Several providers as one: the first wraps new data keys, and a data key
    is unwrapped by whichever provider holds its KEK. For moving from one
    provider to another (a KEK file to Vault) without losing old records."""

    def __init__(self, providers: Sequence[KeyProvider]) -> None:
        if not providers:
            raise KeyProviderError("no key-encryption key given")
        self.providers = tuple(providers)

    @property
    def key_id(self) -> str:
        return self.providers[0].key_id

    def wrap(self, data_key: bytes) -> bytes:
        return self.providers[0].wrap(data_key)

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        for provider in self.providers:
            try:
                return provider.unwrap(wrapped, key_id)
            except UnknownKeyError:
                continue
        raise UnknownKeyError(f"key-encryption key {key_id} is not available")


SPEC_FORMS = "file:PATH, env:VAR or vault-transit:URL"


def load_key_provider(spec: str | Sequence[str] | None = None) -> KeyProvider | None:
    """A provider for ``file:PATH``, ``env:VAR`` or ``vault-transit:URL``
    (:mod:`warden.audit.vault`); for a list of specs a :class:`KeyRing` (the
    first wraps, all unwrap). Without a spec, ``$WARDEN_AUDIT_KEK_FILE`` or
    ``$WARDEN_AUDIT_KEK`` when set, else ``None`` (raw recording off)."""
    specs = [spec] if isinstance(spec, str) else list(spec or ())
    if specs:
        providers = [_provider(one) for one in specs]
        return providers[0] if len(providers) == 1 else KeyRing(providers)
    if os.environ.get(KEK_FILE_ENV):
        return LocalKeyProvider.from_file(os.environ[KEK_FILE_ENV])
    if os.environ.get(KEK_ENV):
        return LocalKeyProvider.from_env(KEK_ENV)
    return None


def _provider(spec: str) -> KeyProvider:
    scheme, _, rest = spec.partition(":")
    if scheme == "file" and rest:
        return LocalKeyProvider.from_file(rest)
    if scheme == "env" and rest:
        return LocalKeyProvider.from_env(rest)
    if scheme == "vault-transit" and rest:
        from warden.audit.vault import VaultTransitKeyProvider  # imports this module

        return VaultTransitKeyProvider.from_spec(spec)
    raise KeyProviderError(f"key spec {spec!r}: expected {SPEC_FORMS}")


def generate_kek_text() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii") + "\n"


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def raw_aad(chain_id: str, seq: int) -> bytes:
    """Binds a ciphertext to the event it belongs to."""
    return f"warden-raw-v1\x00{chain_id}\x00{seq}".encode()


def encrypt(data_key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    nonce = secrets.token_bytes(12)
    return nonce, AESGCM(data_key).encrypt(nonce, plaintext, aad)


def decrypt(data_key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    return AESGCM(data_key).decrypt(nonce, ciphertext, aad)
