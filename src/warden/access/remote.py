"""External issuers: OIDC discovery, JWKS caching with rotation, JWT validation.

Used for the ID tokens of the company IdP and for the tokens CI jobs and
workloads exchange. A key set is cached for ``ttl``; a token whose ``kid`` is
not in the cache makes one re-fetch (so a rotated IdP key is picked up at
once), but at most every ``min_refresh`` seconds per issuer, so a flood of
made-up ``kid`` values cannot turn the gateway into a request amplifier.

Validation is pinned: the algorithm must be one the trust rule or IdP config
lists (asymmetric only; ``none`` and HMAC are rejected by the config), the
JWK's key type must belong to that algorithm, and ``iss``, ``aud``, ``exp``
and ``iat`` are required and checked with the configured leeway.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt

from warden.access.config import check_remote_url
from warden.access.store import Clock
from warden.httpio import read_up_to

MAX_DOCUMENT_BYTES = 512 * 1024
_KTY = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


class RemoteError(Exception):
    """An external issuer could not be reached or answered nonsense."""


class ExternalTokenError(Exception):
    """An external token was refused (the message is safe to log and return)."""


@dataclass(slots=True)
class _KeySet:
    keys: list[dict[str, Any]]
    fetched_at: float


@dataclass(slots=True)
class _Discovery:
    document: dict[str, Any]
    fetched_at: float


@dataclass(slots=True)
class Issuers:
    """Discovery documents and key sets of external issuers, cached."""

    session: aiohttp.ClientSession
    clock: Clock
    ttl: float = 3600.0
    min_refresh: float = 30.0
    timeout: float = 10.0
    _discovery: dict[str, _Discovery] = field(default_factory=dict)
    _keysets: dict[str, _KeySet] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def get_json(self, url: str) -> dict[str, Any]:
        check_remote_url(url)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with self.session.get(
                url, timeout=timeout, allow_redirects=False, headers={"accept": "application/json"}
            ) as response:
                if response.status != 200:
                    raise RemoteError(f"{url} answered HTTP {response.status}")
                body = await read_up_to(response.content, MAX_DOCUMENT_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RemoteError(f"{url} is unreachable ({type(exc).__name__})") from None
        if len(body) > MAX_DOCUMENT_BYTES:
            raise RemoteError(f"{url} sent a document larger than {MAX_DOCUMENT_BYTES} bytes")
        try:
            data = json.loads(body)
        except ValueError:
            raise RemoteError(f"{url} did not send JSON") from None
        if not isinstance(data, dict):
            raise RemoteError(f"{url} did not send a JSON object")
        return data

    async def discovery(self, issuer: str) -> dict[str, Any]:
        """The issuer's OpenID configuration; its ``issuer`` must be exactly ``issuer``."""
        cached = self._discovery.get(issuer)
        if cached is not None and self.clock() - cached.fetched_at < self.ttl:
            return cached.document
        async with self._lock("discovery:" + issuer):
            cached = self._discovery.get(issuer)
            if cached is not None and self.clock() - cached.fetched_at < self.ttl:
                return cached.document
            document = await self.get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
            if document.get("issuer") != issuer:
                raise RemoteError(
                    f"the discovery document of {issuer} names another issuer "
                    f"({document.get('issuer')!r}); refusing it"
                )
            self._discovery[issuer] = _Discovery(document, self.clock())
            return document

    async def jwks_uri(self, issuer: str, override: str | None = None) -> str:
        if override:
            return override
        uri = (await self.discovery(issuer)).get("jwks_uri")
        if not isinstance(uri, str):
            raise RemoteError(f"the discovery document of {issuer} has no jwks_uri")
        return check_remote_url(uri)

    async def key(self, uri: str, kid: str | None, algorithm: str) -> jwt.PyJWK:
        """The signing key ``kid`` from the key set at ``uri``, re-fetched once if unknown."""
        cached = self._keysets.get(uri)
        now = self.clock()
        if cached is None or now - cached.fetched_at >= self.ttl:
            cached = await self._fetch(uri, force=False)
        found = _pick(cached.keys, kid, algorithm)
        if found is None and self.clock() - cached.fetched_at >= self.min_refresh:
            cached = await self._fetch(uri, force=True)
            found = _pick(cached.keys, kid, algorithm)
        if found is None:
            raise ExternalTokenError("the token's signing key is not in the issuer's key set")
        try:
            return jwt.PyJWK(found, algorithm=algorithm)
        except jwt.PyJWTError:
            raise ExternalTokenError("the issuer's signing key is unusable") from None

    async def _fetch(self, uri: str, *, force: bool) -> _KeySet:
        async with self._lock("jwks:" + uri):
            cached = self._keysets.get(uri)
            now = self.clock()
            if cached is not None:
                fresh = now - cached.fetched_at < (self.min_refresh if force else self.ttl)
                if fresh:
                    return cached
            document = await self.get_json(uri)
            keys = document.get("keys")
            if not isinstance(keys, list):
                raise RemoteError(f"{uri} is not a JWK set")
            keyset = _KeySet([k for k in keys if isinstance(k, dict)], now)
            self._keysets[uri] = keyset
            return keyset

    def _lock(self, name: str) -> asyncio.Lock:
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = asyncio.Lock()
        return lock

    async def verify(
        self,
        token: str,
        *,
        issuer: str,
        audience: str,
        algorithms: list[str],
        leeway: float,
        jwks_uri: str | None = None,
        require: tuple[str, ...] = ("iss", "aud", "exp", "iat", "sub"),
    ) -> dict[str, Any]:
        """Validate an external JWT and return its claims, or raise ExternalTokenError."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise ExternalTokenError("the token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in algorithms:
            raise ExternalTokenError(f"algorithm {algorithm!r} is not accepted for {issuer}")
        if "crit" in header:
            raise ExternalTokenError("critical header extensions are not supported")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise ExternalTokenError("the token's kid is not a string")
        uri = await self.jwks_uri(issuer, jwks_uri)
        key = await self.key(uri, kid, algorithm)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=audience,
                issuer=issuer,
                leeway=leeway,
                options={"require": list(require)},
            )
        except jwt.PyJWTError as exc:
            raise ExternalTokenError(f"the token was refused: {_reason(exc)}") from None
        return claims


def _pick(keys: list[dict[str, Any]], kid: str | None, algorithm: str) -> dict[str, Any] | None:
    family = _KTY.get(algorithm[:2])
    candidates = [
        k
        for k in keys
        if k.get("kty") == family
        and k.get("use", "sig") == "sig"
        and k.get("alg", algorithm) == algorithm
    ]
    if kid is not None:
        return next((k for k in candidates if k.get("kid") == kid), None)
    # No kid: acceptable only when the choice is unambiguous.
    return candidates[0] if len(candidates) == 1 else None


def _reason(exc: jwt.PyJWTError) -> str:
    reasons = {
        jwt.ExpiredSignatureError: "it has expired",
        jwt.ImmatureSignatureError: "it is not valid yet",
        jwt.InvalidAudienceError: "wrong audience",
        jwt.InvalidIssuerError: "wrong issuer",
        jwt.InvalidSignatureError: "bad signature",
        jwt.MissingRequiredClaimError: "a required claim is missing",
        jwt.InvalidIssuedAtError: "issued in the future",
    }
    for kind, text in reasons.items():
        if isinstance(exc, kind):
            return text
    return type(exc).__name__
