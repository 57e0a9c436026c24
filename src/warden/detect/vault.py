"""Where reversible placeholders keep their values, per session.

``tokenize`` replaces a secret with ``[TOKEN:<rule-id>:<id>]`` and keeps the
value in the session's :class:`Vault`; :func:`detokenize` puts values back.
The vault also keeps the original text of a masked ``thinking`` block, keyed
by a digest of the masked text, so the request side can restore it (the
block's signature covers the original).

Token ids are an HMAC of the rule and value under a per-vault random key:
the same value always gets the same placeholder inside a session, no
counter state is needed, and an id says nothing about its value.

:class:`VaultCipher` (AES-256-GCM, the entry's name as associated data so
a ciphertext cannot be moved to another entry) is what a store-backed vault
uses to keep values encrypted at rest; :class:`MemoryVault` can use it too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TOKEN = re.compile(r"\[TOKEN:([a-z0-9]+(?:-[a-z0-9]+)*):([0-9a-f]{16})\]")
"""A placeholder as :meth:`Vault.tokenize` renders it."""


def digest(text: str) -> str:
    """A stable key for a text (thinking blocks are looked up by their masked text)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class Vault(Protocol):
    """One session's reversible values."""

    def tokenize(self, rule_id: str, value: str) -> str:
        """The placeholder for ``value`` (the same one each time), storing the value."""
        ...

    def lookup(self, rule_id: str, token_id: str) -> str | None: ...

    def remember_thinking(self, masked: str, original: str) -> None: ...

    def recall_thinking(self, masked: str) -> str | None: ...


class VaultCipher:
    """AES-256-GCM with a random 96-bit nonce per value; ``name`` is bound as AAD."""

    NONCE = 12

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a vault key is 32 bytes (AES-256)")
        self._aead = AESGCM(key)

    @classmethod
    def generate(cls) -> VaultCipher:
        return cls(AESGCM.generate_key(bit_length=256))

    def seal(self, value: str, *, name: str) -> bytes:
        nonce = os.urandom(self.NONCE)
        data = value.encode("utf-8", "surrogatepass")
        return nonce + self._aead.encrypt(nonce, data, name.encode())

    def open(self, blob: bytes, *, name: str) -> str:
        """Decrypt; raises ``cryptography.exceptions.InvalidTag`` if tampered or moved."""
        nonce, body = blob[: self.NONCE], blob[self.NONCE :]
        return self._aead.decrypt(nonce, body, name.encode()).decode("utf-8", "surrogatepass")


class MemoryVault:
    """An in-process vault, bounded (least recently used entries go first).

    With a :class:`VaultCipher`, values are held sealed and opened on lookup.
    """

    def __init__(
        self,
        *,
        key: bytes | None = None,
        cipher: VaultCipher | None = None,
        max_entries: int = 10_000,
    ) -> None:
        self._key = key  # drawn on first use: most sessions never tokenize
        self._cipher = cipher
        self._max = max_entries
        self._values: OrderedDict[str, bytes | str] = OrderedDict()

    def token_id(self, rule_id: str, value: str) -> str:
        if self._key is None:
            self._key = os.urandom(32)
        data = f"{rule_id}\0{value}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()[:16]

    def tokenize(self, rule_id: str, value: str) -> str:
        token = self.token_id(rule_id, value)
        self._put(f"t:{rule_id}:{token}", value)
        return f"[TOKEN:{rule_id}:{token}]"

    def lookup(self, rule_id: str, token_id: str) -> str | None:
        return self._get(f"t:{rule_id}:{token_id}")

    def remember_thinking(self, masked: str, original: str) -> None:
        self._put(f"k:{digest(masked)}", original)

    def recall_thinking(self, masked: str) -> str | None:
        return self._get(f"k:{digest(masked)}")

    def __len__(self) -> int:
        return len(self._values)

    def _put(self, name: str, value: str) -> None:
        if name in self._values:
            self._values.move_to_end(name)
            return
        stored: bytes | str = value if self._cipher is None else self._cipher.seal(value, name=name)
        self._values[name] = stored
        while len(self._values) > self._max:
            self._values.popitem(last=False)

    def _get(self, name: str) -> str | None:
        stored = self._values.get(name)
        if stored is None:
            return None
        self._values.move_to_end(name)
        if isinstance(stored, str):
            return stored
        assert self._cipher is not None
        return self._cipher.open(stored, name=name)


class VaultStore(Protocol):
    """Hands out the vault of a session."""

    def for_session(self, session_id: str) -> Vault: ...


class MemoryVaults:
    """One :class:`MemoryVault` per session, for the most recent ``max_sessions``."""

    def __init__(
        self,
        *,
        max_sessions: int = 1024,
        factory: Callable[[], MemoryVault] = MemoryVault,
    ) -> None:
        self._max = max_sessions
        self._factory = factory
        self._vaults: OrderedDict[str, MemoryVault] = OrderedDict()

    def for_session(self, session_id: str) -> MemoryVault:
        vault = self._vaults.get(session_id)
        if vault is None:
            vault = self._vaults[session_id] = self._factory()
            while len(self._vaults) > self._max:
                self._vaults.popitem(last=False)
        else:
            self._vaults.move_to_end(session_id)
        return vault


def detokenize(text: str, vault: Vault) -> tuple[str, list[tuple[str, int, int]]]:
    """Put vault values back in place of placeholders this vault issued.

    Returns the new text and, per restored placeholder, ``(rule_id, start,
    end)`` of the placeholder in the input. Unknown placeholders stay.
    """
    restored: list[tuple[str, int, int]] = []

    def swap(match: re.Match[str]) -> str:
        value = vault.lookup(match.group(1), match.group(2))
        if value is None:
            return match.group(0)
        restored.append((match.group(1), match.start(), match.end()))
        return value

    return TOKEN.sub(swap, text), restored
