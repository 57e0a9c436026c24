"""Identifying the caller from the credential its client already sends.

Agents present their gateway credential the way their SDK sends a key:
``x-api-key`` (Anthropic), ``Authorization: Bearer`` (OpenAI and most
others) or ``api-key`` (Azure OpenAI). Static service tokens are compared
by SHA-256 hash in constant time; the raw token is never kept.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from warden.config.model import TokenConfig
from warden.pipeline.types import Identity

CREDENTIAL_HEADERS = ("x-api-key", "authorization", "api-key")


def presented_credential(headers: Mapping[str, str]) -> str | None:
    """The gateway credential a client sent, from whichever header carries it."""
    auth = headers.get("authorization") or headers.get("Authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    for name in ("x-api-key", "api-key"):
        found = headers.get(name) or headers.get(name.title())
        if found and found.strip():
            return found.strip()
    return None


class StaticTokens:
    """Static service tokens from config, kept only as SHA-256 hashes."""

    def __init__(self, hashes: Mapping[str, TokenConfig]) -> None:
        self._hashes = dict(hashes)

    def identify(self, credential: str) -> Identity | None:
        digest = hashlib.sha256(credential.encode()).hexdigest()
        match: TokenConfig | None = None
        for known, entry in self._hashes.items():
            if hmac.compare_digest(known, digest):
                match = entry
        if match is None:
            return None
        return Identity(
            subject=match.subject,
            groups=frozenset(match.groups),
            auth_method="service-token",
            display_name=match.name,
        )

    def __len__(self) -> int:
        return len(self._hashes)
