"""OAuth 2.0 token exchange (RFC 8693) for CI jobs and workloads.

A GitHub Actions job, a GitLab job, a Kubernetes pod or an Entra workload
holds an OIDC token from its platform. It posts that token to
``/auth/token`` with ``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``
and gets a gateway token back, if a trust rule in the config accepts it:

1. the rules whose ``issuer`` equals the token's ``iss`` are the candidates
   (the unverified ``iss`` only picks candidates; nothing is trusted yet);
2. the token's signature is checked against the issuer's JWKS (found by
   discovery, or the rule's ``jwks_uri``), with the rule's pinned
   algorithms, and ``iss``, ``aud`` (the rule's ``audience``), ``exp``,
   ``iat`` are checked with the configured leeway;
3. the ``sub`` glob and the ``claims`` globs must match;
4. a ``single_use`` rule refuses a token id (``jti``) it has seen before,
   until the token's own expiry.

The gateway identity is ``<rule name>:<subject claim>`` with the rule's
groups plus any ``claim_groups``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from warden.access import schema
from warden.access.claims import map_groups
from warden.access.config import TrustRule
from warden.access.remote import ExternalTokenError, Issuers, RemoteError
from warden.access.store import AccessStore

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SUBJECT_TOKEN_TYPES = frozenset({JWT_TYPE, ID_TOKEN_TYPE})
MAX_SUBJECT_TOKEN = 16 * 1024


class ExchangeRefused(Exception):
    """The subject token was not accepted; the message is safe to return."""


@dataclass(frozen=True, slots=True)
class Exchanged:
    rule: str
    subject: str
    groups: frozenset[str]
    ttl: float | None
    token_id: str | None


class TokenExchange:
    def __init__(
        self,
        rules: Sequence[TrustRule],
        issuers: Issuers,
        store: AccessStore,
        *,
        leeway: float,
    ) -> None:
        self.rules = list(rules)
        self._issuers = issuers
        self._store = store
        self._leeway = leeway

    async def exchange(self, subject_token: str) -> Exchanged:
        if len(subject_token) > MAX_SUBJECT_TOKEN:
            raise ExchangeRefused("the subject token is too large")
        try:
            unverified = jwt.decode(subject_token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise ExchangeRefused("the subject token is not a JWT") from None
        issuer = unverified.get("iss")
        candidates = [rule for rule in self.rules if rule.issuer == issuer]
        if not candidates:
            raise ExchangeRefused("no trust rule accepts tokens from this issuer")
        reason = ""
        for rule in candidates:
            try:
                claims = await self._issuers.verify(
                    subject_token,
                    issuer=rule.issuer,
                    audience=rule.audience,
                    algorithms=list(rule.algorithms),
                    leeway=self._leeway,
                    jwks_uri=rule.jwks_uri,
                )
            except ExternalTokenError as exc:
                # A rule whose signature check passed explains more than one that failed.
                if not reason.startswith("no trust rule"):
                    reason = str(exc)
                continue
            except RemoteError as exc:
                raise ExchangeRefused(f"the issuer could not be checked: {exc}") from None
            if not rule.matches(claims):
                reason = "no trust rule matches this token"
                continue
            return await self._accept(rule, claims)
        raise ExchangeRefused(reason or "no trust rule matches this token")

    async def _accept(self, rule: TrustRule, claims: dict[str, Any]) -> Exchanged:
        value = claims.get(rule.subject_claim)
        if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            raise ExchangeRefused(f"the token has no usable {rule.subject_claim!r} claim")
        token_id = claims.get("jti")
        if rule.single_use:
            if not isinstance(token_id, str) or not token_id:
                raise ExchangeRefused(
                    f"trust rule {rule.name!r} is single-use and the token has no jti"
                )
            expires = int(claims["exp"]) + int(self._leeway) + 1
            if not await self._store.run(self._remember, rule.issuer, token_id, expires):
                raise ExchangeRefused("this token was already exchanged (replay)")
        groups = set(rule.groups) | map_groups(claims, rule.claim_groups).groups
        return Exchanged(
            rule=rule.name,
            subject=f"{rule.name}:{value}",
            groups=frozenset(groups),
            ttl=rule.ttl,
            token_id=token_id if isinstance(token_id, str) else None,
        )

    def _remember(self, issuer: str, token_id: str, expires_at: int) -> bool:
        key = hashlib.sha256(f"exchange\0{issuer}\0{token_id}".encode()).hexdigest()
        with self._store.write() as conn:
            return self._store.insert_new(
                conn, schema.seen, key=key, kind="exchange", expires_at=expires_at
            )
