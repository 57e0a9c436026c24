"""How people and machines get gateway tokens.

* **Web sign-in** (:meth:`Flows.begin` then :meth:`oidc_callback`,
  :meth:`saml_acs` or :meth:`local_login`): a sign-in row in the store
  carries state, nonce, PKCE verifier or SAML request id; the web layer
  binds it to the browser with a cookie. A sign-in that carries a device
  ``user_code`` approves that device (``warden login``); otherwise it yields
  a gateway token for the browser session.
* **Device flow** (:meth:`device_start`, :meth:`device_token`): RFC 8628.
  Its tokens come with a refresh token (:meth:`refresh`), rotated on use.
* **Token exchange** (:meth:`exchange`): RFC 8693 for CI and workloads.

Each success is audited with the subject, method, groups and token id,
never the token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from warden.access.claims import GroupResult
from warden.access.config import IdentityConfig
from warden.access.device import DeviceGrant, DeviceIdentity, PollResult
from warden.access.exchange import Exchanged
from warden.access.logins import LoginState
from warden.access.oidc import LoginFailed, OidcClient, SignedIn
from warden.access.service import AccessService, Issued
from warden.access.sessions import RefreshReuse

if TYPE_CHECKING:
    from warden.access.saml import SamlServiceProvider

log = logging.getLogger("warden.access")

CLI_CLIENT_ID = "warden-cli"


@dataclass(frozen=True, slots=True)
class Begun:
    state: str
    method: str
    redirect: str | None
    """Where to send the browser; ``None`` for the local password form."""


@dataclass(frozen=True, slots=True)
class Finished:
    person: SignedIn
    login: LoginState
    issued: Issued | None
    """The browser session's token; ``None`` when the sign-in approved a device."""
    device_approved: bool = False


def available_methods(config: IdentityConfig) -> list[str]:
    methods: list[str] = []
    if config.oidc is not None:
        methods.append("oidc")
    if config.saml is not None:
        methods.append("saml")
    if config.local_accounts.enabled:
        methods.append("local")
    return methods


class Flows:
    def __init__(self, service: AccessService) -> None:
        self.service = service

    @property
    def config(self) -> IdentityConfig:
        return self.service.config

    def oidc(self) -> OidcClient:
        if self.config.oidc is None:
            raise LoginFailed("OIDC sign-in is not configured")
        return OidcClient(
            self.config.oidc,
            self.service.issuers,
            redirect_uri=f"{self.service.issuer}/auth/callback",
        )

    def saml(self) -> SamlServiceProvider:
        # Imported here: python3-saml and xmlsec cost 8 MB a process that
        # never signs anyone in with SAML would carry for nothing.
        from warden.access.saml import SamlServiceProvider

        if self.config.saml is None:
            raise LoginFailed("SAML sign-in is not configured")
        return SamlServiceProvider(
            self.config.saml,
            self.service.issuer,
            self.service.store,
            rules=list(self.config.groups),
            overage_groups=list(self.config.overage_groups),
        )

    # -- web sign-in ----------------------------------------------------------

    async def begin(
        self, method: str | None, *, user_code: str | None = None, return_to: str | None = None
    ) -> Begun:
        methods = available_methods(self.config)
        if not methods:
            raise LoginFailed("no sign-in method is configured")
        chosen = method or methods[0]
        if chosen not in methods:
            raise LoginFailed(f"sign-in method {chosen!r} is not available here")
        service = self.service
        login = await service.store.run(
            lambda: service.logins.start(chosen, user_code=user_code, return_to=return_to)
        )
        if chosen == "oidc":
            return Begun(login.state, chosen, await self.oidc().authorization_url(login))
        if chosen == "saml":
            url, request_id = self.saml().login_url(login.state)
            await service.store.run(service.logins.set_request_id, login.state, request_id)
            return Begun(login.state, chosen, url)
        return Begun(login.state, chosen, None)

    async def oidc_callback(self, state: str, code: str, issuer_param: str | None) -> Finished:
        login = await self._consume(state, "oidc")
        person = await self.oidc().complete(
            login,
            code=code,
            issuer_param=issuer_param,
            leeway=self.config.leeway,
            rules=list(self.config.groups),
            overage_groups=list(self.config.overage_groups),
        )
        return await self._finish(person, login)

    async def saml_acs(self, relay_state: str, saml_response: str) -> Finished:
        login = await self._consume(relay_state, "saml")
        sp = self.saml()
        person = await self.service.store.run(sp.complete, login, saml_response)
        return await self._finish(person, login)

    async def local_login(self, state: str, username: str, password: str) -> Finished:
        if not self.config.local_accounts.enabled:
            raise LoginFailed("local accounts are turned off")
        login = await self._consume(state, "local")
        account = await self.service.store.run(
            self.service.accounts.authenticate, username.strip().lower(), password
        )
        if account is None:
            await self.service.audited("access.login.fail", username[:64], {"method": "pwd"})
            raise LoginFailed("wrong user name or password")
        person = SignedIn(
            subject=account.username,
            display_name=account.display_name,
            groups=_groups(account.groups),
            method="pwd",
        )
        return await self._finish(person, login)

    async def _consume(self, state: str, method: str) -> LoginState:
        login = await self.service.store.run(self.service.logins.consume, state, method)
        if login is None:
            raise LoginFailed("this sign-in is unknown, expired or already used; start again")
        return login

    async def _finish(self, person: SignedIn, login: LoginState) -> Finished:
        service = self.service
        if person.groups.overage:
            log.warning(
                "the IdP's groups claim overflowed (Entra group overage); "
                "using overage_groups instead",
                extra={"fields": {"subject": person.subject}},
            )
        payload = {
            "subject": person.subject,
            "method": person.method,
            "groups": sorted(person.groups.groups),
            "overage": person.groups.overage,
        }
        if login.user_code:
            identity = DeviceIdentity(
                subject=person.subject,
                groups=tuple(sorted(person.groups.groups)),
                amr=(person.method,),
                display_name=person.display_name,
            )
            await service.audited(
                "access.login", person.subject, {**payload, "device": login.user_code}
            )
            code = login.user_code
            ok = await service.store.run(lambda: service.devices.decide(code, identity))
            if not ok:
                raise LoginFailed("the device code expired or was used; run `warden login` again")
            return Finished(person, login, None, device_approved=True)
        token, claims = await service.issue(
            person.subject,
            person.groups.groups,
            (person.method,),
            display_name=person.display_name,
        )
        await service.audited("access.login", person.subject, {**payload, "jti": claims.jti})
        return Finished(person, login, Issued(token, claims))

    async def deny_device(self, user_code: str, actor: str) -> bool:
        ok = await self.service.store.run(lambda: self.service.devices.decide(user_code, None))
        if ok:
            await self.service.audited("access.device.deny", actor, {"user_code": user_code})
        return ok

    # -- device flow ----------------------------------------------------------

    async def device_start(self, client_id: str) -> DeviceGrant:
        return await self.service.store.run(self.service.devices.start, client_id)

    async def device_pending(self, user_code: str) -> bool:
        return await self.service.store.run(self.service.devices.pending, user_code)

    async def device_token(
        self, device_code: str, client_id: str
    ) -> tuple[PollResult, Issued | None]:
        service = self.service
        result, who = await service.store.run(service.devices.poll, device_code, client_id)
        if result is not PollResult.APPROVED or who is None:
            return result, None
        token, claims = await service.issue(
            who.subject, who.groups, who.amr, display_name=who.display_name
        )
        refresh, _session = await service.store.run(
            lambda: service.sessions.create(
                who.subject, who.groups, who.amr, who.display_name, self.config.session_ttl
            )
        )
        await service.audited(
            "access.token.issue",
            who.subject,
            {"grant": "device_code", "jti": claims.jti, "groups": sorted(who.groups)},
        )
        return result, Issued(token, claims, refresh)

    async def refresh(self, refresh_token: str) -> Issued | None:
        service = self.service
        try:
            rotated = await service.store.run(service.sessions.rotate, refresh_token)
        except RefreshReuse as reuse:
            await service.audited(
                "access.refresh.reuse",
                reuse.session.subject,
                {"session": reuse.session.family, "action": "session revoked"},
            )
            return None
        if rotated is None:
            return None
        new_refresh, session = rotated
        token, claims = await service.issue(
            session.subject, session.groups, session.amr, display_name=session.display_name
        )
        await service.audited(
            "access.token.issue",
            session.subject,
            {"grant": "refresh_token", "jti": claims.jti, "session": session.family},
        )
        return Issued(token, claims, new_refresh)

    async def sign_out(self, refresh_token: str) -> None:
        session = await self.service.store.run(self.service.sessions.revoke, refresh_token)
        if session is not None:
            await self.service.audited(
                "access.logout", session.subject, {"session": session.family}
            )

    # -- token exchange -------------------------------------------------------

    async def exchange(self, subject_token: str) -> Issued:
        service = self.service
        exchanged: Exchanged = await service.exchanger.exchange(subject_token)
        token, claims = await service.issue(
            exchanged.subject,
            exchanged.groups,
            ("token-exchange",),
            display_name=exchanged.rule,
            ttl=exchanged.ttl,
        )
        await service.audited(
            "access.exchange",
            exchanged.subject,
            {
                "rule": exchanged.rule,
                "groups": sorted(exchanged.groups),
                "jti": claims.jti,
                "subject_token_id": exchanged.token_id,
            },
        )
        return Issued(token, claims)


def _groups(groups: tuple[str, ...]) -> GroupResult:
    return GroupResult(frozenset(groups))
