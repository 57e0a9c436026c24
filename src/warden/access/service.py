"""The access service: who is calling, and may they use this connection now.

One object per gateway process ties the access package together:

* ``identify(credential)``: a gateway JWT (verified against the published
  keys, not revoked) or, as a fallback, a static service token;
* ``may_use(identity, connection, access, jit)``: the connection's access
  list (deny wins) and, for a ``jit`` connection, an active grant;
* issuing gateway tokens (sign-in, device flow, refresh, token exchange:
  :mod:`warden.access.flows`), just-in-time requests and decisions,
  revocation, local accounts;
* a background sync that re-reads revocations, published keys and grants
  from the store every ``sync_interval`` (so several replicas agree within
  that time), closes grants whose time is up, and prunes old rows.

Every administrative step (sign-ins, exchanges, revocations, access
requests, decisions, grants and their expiry, account changes) goes to the
audit log through ``admin_event``; if the audit log cannot record a step
that changes access, the step is undone or refused (fail closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from sqlalchemy import delete

from warden.access import schema
from warden.access.accounts import Accounts
from warden.access.authorize import allowed
from warden.access.config import IdentityConfig, JitRule
from warden.access.device import DeviceCodes
from warden.access.exchange import TokenExchange
from warden.access.grants import AccessRequest, Decided, GrantError, Grants, Problem, Status
from warden.access.keys import KeyRing, PublishedKeys
from warden.access.logins import Logins
from warden.access.remote import Issuers
from warden.access.sessions import Sessions
from warden.access.static import StaticTokens
from warden.access.store import AccessStore, Clock, open_access_store, system_clock
from warden.access.tokens import (
    GatewayClaims,
    InvalidToken,
    Revocations,
    TokenIssuer,
    TokenVerifier,
    looks_like_jwt,
)
from warden.config.model import AccessConfig
from warden.pipeline.types import Identity

log = logging.getLogger("warden.access")

_PRUNE_EVERY = 60
_KEY_RELOAD_GAP = 5.0
_GRANT_MISS_GAP = 1.0


class AuditLog(Protocol):
    """Where administrative actions go (the audit recorder implements it)."""

    async def admin_event(self, kind: str, actor: str, payload: dict[str, Any]) -> None: ...


class AuditFailed(Exception):
    """An access change could not be audited, so it was refused or undone."""


@dataclass(frozen=True, slots=True)
class ConnectionAccess:
    """What the service needs to know about a connection."""

    access: AccessConfig
    jit: JitRule | None = None


@dataclass(frozen=True, slots=True)
class Issued:
    access_token: str
    claims: GatewayClaims
    refresh_token: str | None = None

    def as_oauth(self, now: float) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": max(0, int(self.claims.expires_at - now)),
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


def default_issuer(listen: str) -> str:
    """``http://<listen>``, with a wildcard address replaced by the loopback."""
    host, _, port = listen.rpartition(":")
    if host in ("0.0.0.0", "", "[::]", "::"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def identity_from(claims: GatewayClaims) -> Identity:
    return Identity(
        subject=claims.subject,
        groups=claims.groups,
        auth_method="+".join(claims.amr) or "gateway-token",
        display_name=claims.display_name,
    )


def print_once(text: str) -> None:
    """How the first-start admin password reaches the operator: the terminal, never a log."""
    print(text, file=sys.stderr, flush=True)


class AccessService:
    def __init__(
        self,
        identity: IdentityConfig,
        *,
        issuer: str,
        state_dir: Path,
        store_url: str,
        static_tokens: StaticTokens | None = None,
        connections: Mapping[str, ConnectionAccess] | None = None,
        admin_groups: Sequence[str] = ("admin",),
        audit: AuditLog | None = None,
        clock: Clock = system_clock,
        http: aiohttp.ClientSession | None = None,
        announce: Callable[[str], None] = print_once,
    ) -> None:
        self.config = identity
        self.issuer = issuer.rstrip("/")
        self.state_dir = Path(state_dir)
        self.store_url = store_url
        self.static = static_tokens or StaticTokens({})
        self.connections: dict[str, ConnectionAccess] = dict(connections or {})
        self.admin_groups = frozenset(admin_groups)
        self.audit = audit
        self.clock = clock
        self._http = http
        self._own_http = http is None
        self._announce = announce
        self._store: AccessStore | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._grants_cache: dict[tuple[str, str], tuple[int, str]] = {}
        self._grant_misses: dict[tuple[str, str], float] = {}
        self._last_key_reload = float("-inf")

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        store = await asyncio.to_thread(open_access_store, self.store_url, clock=self.clock)
        self._store = store
        if self._http is None:
            # shared by every sign-in: no identity provider's cookie may carry over
            self._http = aiohttp.ClientSession(trust_env=False, cookie_jar=aiohttp.DummyCookieJar())
        self.issuers = Issuers(self._http, self.clock)
        self.keyring = KeyRing(
            store,
            self.state_dir,
            rotation=self.config.key_rotation,
            max_ttl=self._max_ttl(),
            leeway=self.config.leeway,
        )
        self.published = PublishedKeys(store)
        self.revocations = Revocations(store)
        self.issuer_of_tokens = TokenIssuer(self.keyring, self.issuer, store)
        self.verifier = TokenVerifier(
            self.published, self.revocations, issuer=self.issuer, leeway=self.config.leeway
        )
        self.logins = Logins(store)
        self.devices = DeviceCodes(store)
        self.sessions = Sessions(store)
        self.grants = Grants(store)
        self.accounts = Accounts(store)
        self.exchanger = TokenExchange(
            self.config.trust, self.issuers, store, leeway=self.config.leeway
        )
        await store.run(self.keyring.current)
        await self._reload()
        await self._bootstrap()
        self._sync_task = asyncio.create_task(self._sync_forever(), name="warden-access-sync")

    async def close(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync_task
            self._sync_task = None
        if self._own_http and self._http is not None:
            await self._http.close()
            self._http = None
        if self._store is not None:
            self._store.close()
            self._store = None

    @property
    def store(self) -> AccessStore:
        if self._store is None:
            raise RuntimeError("the access service is not started")
        return self._store

    def reconfigure(
        self,
        identity: IdentityConfig,
        *,
        static_tokens: StaticTokens | None = None,
        connections: Mapping[str, ConnectionAccess] | None = None,
        admin_groups: Sequence[str] | None = None,
    ) -> None:
        """Apply a reloaded config (the issuer, state dir and store stay)."""
        self.config = identity
        if static_tokens is not None:
            self.static = static_tokens
        if connections is not None:
            self.connections = dict(connections)
        if admin_groups is not None:
            self.admin_groups = frozenset(admin_groups)
        if self._store is not None:
            self.keyring.configure(
                rotation=identity.key_rotation, max_ttl=self._max_ttl(), leeway=identity.leeway
            )
            self.verifier.leeway = identity.leeway
            self.exchanger = TokenExchange(
                identity.trust, self.issuers, self._store, leeway=identity.leeway
            )

    def _max_ttl(self) -> float:
        ttls = [self.config.token_ttl] + [r.ttl for r in self.config.trust if r.ttl]
        return max(ttls)

    # -- who is calling -------------------------------------------------------

    async def identify(self, credential: str) -> Identity | None:
        """A gateway token, else a static service token, else ``None``."""
        claims = await self.verify(credential)
        if claims is not None:
            return identity_from(claims)
        return self.static.identify(credential)

    async def verify(self, credential: str) -> GatewayClaims | None:
        if not looks_like_jwt(credential):
            return None
        try:
            return self.verifier.verify(credential)
        except InvalidToken:
            pass
        # A key another replica published a moment ago: reload once, rate-limited.
        now = self.clock()
        if self.verifier.unknown_kid(credential) is None:
            return None
        if now - self._last_key_reload < _KEY_RELOAD_GAP:
            return None
        self._last_key_reload = now
        await self.store.run(self.published.reload)
        try:
            return self.verifier.verify(credential)
        except InvalidToken:
            return None

    # -- may they use this connection ----------------------------------------

    async def may_use(
        self,
        identity: Identity,
        connection: str,
        access: AccessConfig,
        jit: JitRule | None = None,
    ) -> tuple[bool, str]:
        """The access list (deny wins), then, for a ``jit`` connection, a grant."""
        if not allowed(access, identity):
            return False, f"{identity.subject} may not use connection {connection!r}"
        if jit is None:
            return True, "access list"
        grant = await self._active_grant(identity.subject, connection)
        if grant is not None:
            return True, f"just-in-time grant {grant}"
        return False, (
            f"connection {connection!r} needs just-in-time access: ask for it with "
            f'`warden request {connection} --for 1h --reason "..."` and wait for an approver'
        )

    async def _active_grant(self, subject: str, connection: str) -> str | None:
        key = (subject, connection)
        now = self.clock()
        cached = self._grants_cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        if now - self._grant_misses.get(key, float("-inf")) < _GRANT_MISS_GAP:
            return None
        self._grant_misses[key] = now
        found = await self.store.run(self.grants.active, subject, connection)
        if found is None or found.expires_at is None:
            self._grants_cache.pop(key, None)
            return None
        self._grants_cache[key] = (found.expires_at, found.id)
        return found.id

    # -- issuing --------------------------------------------------------------

    async def issue(
        self,
        subject: str,
        groups: frozenset[str] | tuple[str, ...],
        amr: tuple[str, ...],
        *,
        display_name: str | None = None,
        ttl: float | None = None,
    ) -> tuple[str, GatewayClaims]:
        lifetime = min(ttl or self.config.token_ttl, self._max_ttl())
        return await self.store.run(
            lambda: self.issuer_of_tokens.issue(
                subject, groups, amr, lifetime, display_name=display_name
            )
        )

    # -- revocation -----------------------------------------------------------

    async def revoke_token(self, claims: GatewayClaims, actor: str, reason: str) -> None:
        await self.store.run(
            lambda: self.revocations.revoke_token(
                claims.jti,
                subject=claims.subject,
                expires_at=claims.expires_at + int(self.config.leeway) + 1,
                actor=actor,
                reason=reason,
            )
        )
        await self.audited(
            "access.token.revoke", actor, {"jti": claims.jti, "subject": claims.subject}
        )

    async def revoke_jti(self, jti: str, actor: str, reason: str) -> None:
        """Revoke a token id not at hand (from the audit log): kept a full token lifetime."""
        expires = self.store.now() + int(self._max_ttl() + self.config.leeway) + 1
        await self.store.run(
            lambda: self.revocations.revoke_token(
                jti, subject=None, expires_at=expires, actor=actor, reason=reason
            )
        )
        await self.audited("access.token.revoke", actor, {"jti": jti, "reason": reason})

    async def revoke_subject(self, subject: str, actor: str, reason: str) -> None:
        """Every token and sign-in session of ``subject`` ends now."""
        await self.store.run(
            lambda: self.revocations.revoke_subject(subject, actor=actor, reason=reason)
        )
        sessions = await self.store.run(self.sessions.revoke_subject, subject)
        await self.audited(
            "access.subject.revoke",
            actor,
            {"subject": subject, "reason": reason, "sessions": sessions},
        )

    # -- just-in-time access --------------------------------------------------

    def connection(self, name: str) -> ConnectionAccess:
        found = self.connections.get(name)
        if found is None:
            raise GrantError(Problem.NOT_FOUND, f"no connection named {name!r}")
        return found

    async def request_access(
        self, identity: Identity, connection: str, duration: float | None, reason: str
    ) -> AccessRequest:
        conn = self.connection(connection)
        if conn.jit is None:
            raise GrantError(
                Problem.INVALID, f"connection {connection!r} does not need just-in-time access"
            )
        if not allowed(conn.access, identity):
            raise GrantError(
                Problem.FORBIDDEN, f"{identity.subject} may not use connection {connection!r}"
            )
        rule = conn.jit
        wanted = duration if duration is not None else rule.default_duration
        request = await self.store.run(
            lambda: self.grants.request(identity, connection, rule, wanted, reason)
        )
        try:
            await self.audited("access.request", identity.subject, request.as_json())
        except AuditFailed:
            await self.store.run(self.grants.revoke, request.id)
            raise
        return request

    async def decide(
        self, request_id: str, approver: Identity, *, approve: bool, comment: str = ""
    ) -> Decided:
        current = await self.store.run(self.grants.get, request_id)
        rule = self.connections.get(current.connection)
        decided = await self.store.run(
            lambda: self.grants.decide(
                request_id,
                approver,
                approve=approve,
                rule=rule.jit if rule else None,
                comment=comment,
            )
        )
        kind = "access.approve" if approve else "access.deny"
        payload = {"request": request_id, "connection": current.connection, "comment": comment}
        try:
            await self.audited(kind, approver.subject, payload)
            if decided.granted:
                await self.audited("access.grant", approver.subject, decided.request.as_json())
        except AuditFailed:
            if decided.granted:
                await self.store.run(self.grants.revoke, request_id)
            raise
        if decided.granted and decided.request.expires_at is not None:
            key = (decided.request.subject, decided.request.connection)
            self._grants_cache[key] = (decided.request.expires_at, request_id)
        return decided

    async def revoke_grant(self, request_id: str, actor: Identity) -> AccessRequest:
        current = await self.store.run(self.grants.get, request_id)
        is_owner = actor.subject == current.subject
        rule = self.connections.get(current.connection)
        approver = (
            rule is not None
            and rule.jit is not None
            and bool(set(rule.jit.approvers) & actor.groups)
        )
        if not (is_owner or approver or self.is_admin(actor)):
            raise GrantError(Problem.FORBIDDEN, "only the requester or an approver may revoke")
        revoked = await self.store.run(self.grants.revoke, request_id)
        self._grants_cache.pop((revoked.subject, revoked.connection), None)
        await self.audited(
            "access.revoke", actor.subject, {"request": request_id, "status": current.status}
        )
        return revoked

    async def list_requests(
        self, viewer: Identity, *, statuses: tuple[Status, ...] = (), mine: bool = False
    ) -> list[AccessRequest]:
        """``mine``: the viewer's own; otherwise what the viewer may decide on."""
        if mine:
            return await self.store.run(
                lambda: self.grants.search(statuses=statuses, subject=viewer.subject)
            )
        names = None
        if not self.is_admin(viewer):
            names = [
                name
                for name, conn in self.connections.items()
                if conn.jit is not None and set(conn.jit.approvers) & viewer.groups
            ]
        return await self.store.run(
            lambda: self.grants.search(statuses=statuses, connections=names)
        )

    def is_admin(self, identity: Identity) -> bool:
        return bool(self.admin_groups & identity.groups)

    # -- audit ----------------------------------------------------------------

    async def audited(self, kind: str, actor: str, payload: dict[str, Any]) -> None:
        log.info(kind, extra={"fields": {"actor": actor, **_loggable(payload)}})
        if self.audit is None:
            return
        try:
            await self.audit.admin_event(kind, actor, payload)
        except Exception as exc:
            log.error(
                "audit failed; the access change is refused", extra={"fields": {"kind": kind}}
            )
            raise AuditFailed(f"the audit log could not record {kind}") from exc

    # -- background -----------------------------------------------------------

    async def _bootstrap(self) -> None:
        local = self.config.local_accounts
        if not (local.enabled and local.bootstrap):
            return
        groups = sorted(self.admin_groups)
        password = await self.store.run(self.accounts.bootstrap, local.bootstrap_user, groups)
        if password is None:
            return
        await self.audited("access.account.bootstrap", "warden", {"username": local.bootstrap_user})
        self._announce(
            "\n".join(
                [
                    "",
                    "Warden created the first administrator account (shown only this once):",
                    f"  user:     {local.bootstrap_user}",
                    f"  password: {password}",
                    f"Sign in with `warden login`; change it with "
                    f"`warden accounts passwd {local.bootstrap_user}`.",
                    "",
                ]
            )
        )

    async def _reload(self) -> None:
        def work() -> list[AccessRequest]:
            self.published.reload()
            self.revocations.reload()
            return self.grants.all_active()

        active = await self.store.run(work)
        cache: dict[tuple[str, str], tuple[int, str]] = {}
        for grant in active:
            if grant.expires_at is None:
                continue
            key = (grant.subject, grant.connection)
            if key not in cache or cache[key][0] < grant.expires_at:
                cache[key] = (grant.expires_at, grant.id)
        self._grants_cache = cache
        self._grant_misses.clear()

    async def sync_once(self, *, prune: bool = False) -> None:
        """One round of the background sync (tests call it directly)."""
        await self._reload()
        closed = await self.store.run(self.grants.close_due)
        for request in closed:
            kind = "access.grant.expire" if request.status is Status.EXPIRED else "access.lapse"
            with contextlib.suppress(AuditFailed):
                await self.audited(
                    kind, "warden", {"request": request.id, "connection": request.connection}
                )
        if prune:
            await self.store.run(self._prune)

    def _prune(self) -> None:
        self.logins.prune()
        self.devices.prune()
        self.sessions.prune()
        self.revocations.prune()
        self.published.prune()
        with self.store.write() as conn:
            conn.execute(delete(schema.seen).where(schema.seen.c.expires_at <= self.store.now()))

    async def _sync_forever(self) -> None:
        rounds = 0
        while True:
            await asyncio.sleep(self.config.sync_interval)
            rounds += 1
            try:
                await self.sync_once(prune=rounds % _PRUNE_EVERY == 0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("access sync failed; will retry")


def _loggable(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in ("reason", "comment", "votes")}
