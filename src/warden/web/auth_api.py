"""HTTP routes of sign-in, tokens and just-in-time access.

Public (no credential):

* ``GET /.well-known/jwks.json``: every replica's token-verifying keys;
* ``GET /.well-known/oauth-authorization-server``: RFC 8414 metadata;
* ``POST /auth/device/code``, ``GET|POST /auth/device``: RFC 8628;
* ``GET /auth/login``, ``GET /auth/callback`` (OIDC), ``GET|POST
  /auth/login/local``, ``GET /auth/saml/metadata``, ``POST /auth/saml/acs``;
* ``POST /auth/token``: ``device_code``, ``refresh_token`` and RFC 8693
  ``token-exchange`` grants; ``POST /auth/revoke``: end a sign-in session.

The authenticated access API (whoami, JIT requests, revocations) is in
:mod:`warden.web.access_api`, mounted from here.

Token endpoint errors follow RFC 6749 §5.2; every response that carries a
token has ``Cache-Control: no-store``. Bodies are capped before parsing.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from warden.access import pages
from warden.access.device import PollResult, normalise_user_code
from warden.access.exchange import (
    ACCESS_TOKEN_TYPE,
    JWT_TYPE,
    SUBJECT_TOKEN_TYPES,
    ExchangeRefused,
)
from warden.access.exchange import (
    GRANT_TYPE as EXCHANGE_GRANT,
)
from warden.access.flows import CLI_CLIENT_ID, Finished, Flows, available_methods
from warden.access.oidc import LoginFailed
from warden.access.remote import RemoteError
from warden.access.service import AccessService, AuditFailed
from warden.web import access_api
from warden.web.forms import read_form

log = logging.getLogger("warden.access")

SERVICE: web.AppKey[AccessService] = web.AppKey("warden_access")
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
LOGIN_COOKIE = "warden_login"
CSRF_COOKIE = "warden_csrf"
SESSION_COOKIE = "warden_session"
SAML_FORM_LIMIT = 768 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_routes(app: web.Application, service: AccessService) -> None:
    """Mount the routes and tie the service's start and stop to the app's."""
    app[SERVICE] = service
    api = _Api(service, Flows(service))
    r = app.router
    r.add_get("/.well-known/jwks.json", api.jwks)
    r.add_get("/.well-known/oauth-authorization-server", api.metadata)
    r.add_post("/auth/device/code", api.device_code)
    r.add_get("/auth/device", api.device_page)
    r.add_post("/auth/device", api.device_submit)
    r.add_get("/auth/login", api.login)
    r.add_get("/auth/login/local", api.local_form)
    r.add_post("/auth/login/local", api.local_submit)
    r.add_get("/auth/callback", api.oidc_callback)
    r.add_get("/auth/saml/metadata", api.saml_metadata)
    r.add_post("/auth/saml/acs", api.saml_acs)
    r.add_post("/auth/token", api.token)
    r.add_post("/auth/revoke", api.revoke)
    access_api.add_routes(app, service)

    async def start(_app: web.Application) -> None:
        await service.start()

    async def stop(_app: web.Application) -> None:
        await service.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)


def oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    return web.json_response(
        {"error": error, "error_description": description}, status=status, headers=_NO_STORE
    )


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=body, status=status, content_type="text/html", headers=pages.SECURITY_HEADERS
    )


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={**pages.SECURITY_HEADERS, "Location": location})


def safe_return_to(value: str | None) -> str | None:
    """Only a path on this gateway: no scheme, no host, no ``//`` or ``/\\``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ch in value for ch in "\r\n\t"):
        return None
    return value


class _Api:
    def __init__(self, service: AccessService, flows: Flows) -> None:
        self.service = service
        self.flows = flows

    @property
    def secure(self) -> bool:
        return self.service.issuer.startswith("https://")

    # -- discovery ------------------------------------------------------------

    async def jwks(self, request: web.Request) -> web.Response:
        return web.json_response(
            self.service.published.jwks(), headers={"Cache-Control": "public, max-age=60"}
        )

    async def metadata(self, request: web.Request) -> web.Response:
        issuer = self.service.issuer
        return web.json_response(
            {
                "issuer": issuer,
                "token_endpoint": f"{issuer}/auth/token",
                "device_authorization_endpoint": f"{issuer}/auth/device/code",
                "revocation_endpoint": f"{issuer}/auth/revoke",
                "jwks_uri": f"{issuer}/.well-known/jwks.json",
                "grant_types_supported": [DEVICE_GRANT, "refresh_token", EXCHANGE_GRANT],
                "token_endpoint_auth_methods_supported": ["none"],
                "sign_in_methods": available_methods(self.service.config),
            }
        )

    # -- device flow ----------------------------------------------------------

    async def device_code(self, request: web.Request) -> web.Response:
        form = await read_form(request)
        if form is None:
            return oauth_error("invalid_request", "malformed or oversized form")
        if form.get("client_id") != CLI_CLIENT_ID:
            return oauth_error("invalid_client", "unknown client", 401)
        if not available_methods(self.service.config):
            return oauth_error("unsupported_grant_type", "no sign-in method is configured")
        grant = await self.flows.device_start(CLI_CLIENT_ID)
        verification = f"{self.service.issuer}/auth/device"
        return web.json_response(
            {
                "device_code": grant.device_code,
                "user_code": grant.user_code,
                "verification_uri": verification,
                "verification_uri_complete": f"{verification}?user_code={grant.user_code}",
                "expires_in": grant.expires_in,
                "interval": grant.interval,
            },
            headers=_NO_STORE,
        )

    async def device_page(self, request: web.Request) -> web.Response:
        code = normalise_user_code(request.query.get("user_code", ""))
        return self._device_form(code)

    def _device_form(self, code: str, error: str | None = None, status: int = 200) -> web.Response:
        csrf = secrets.token_urlsafe(24)
        response = _html(
            pages.device_entry(
                user_code=code,
                csrf=csrf,
                methods=available_methods(self.service.config),
                error=error,
            ),
            status,
        )
        self._cookie(response, CSRF_COOKIE, csrf, path="/auth/device")
        return response

    async def device_submit(self, request: web.Request) -> web.Response:
        form = await read_form(request)
        if form is None:
            return _html(pages.message("Bad request", "malformed form", error=True), 400)
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(cookie, form.get("csrf", "")):
            return self._device_form("", "This page expired; enter the code again.", 400)
        code = normalise_user_code(form.get("user_code", ""))
        if not code or not await self.flows.device_pending(code):
            return self._device_form(
                "", "That code is unknown or expired. Check it and retry.", 400
            )
        if form.get("action") == "deny":
            await self.flows.deny_device(code, "device-page")
            return _html(pages.message("Sign-in refused", "The terminal was not signed in."))
        return await self._begin(form.get("method"), user_code=code, return_to=None)

    # -- web sign-in ----------------------------------------------------------

    async def login(self, request: web.Request) -> web.Response:
        return await self._begin(
            request.query.get("method"),
            user_code=None,
            return_to=safe_return_to(request.query.get("return_to")),
        )

    async def _begin(
        self, method: str | None, *, user_code: str | None, return_to: str | None
    ) -> web.Response:
        try:
            begun = await self.flows.begin(method, user_code=user_code, return_to=return_to)
        except (LoginFailed, RemoteError) as exc:
            return _html(pages.message("Sign-in unavailable", str(exc), error=True), 400)
        if begun.redirect is None:
            response = _html(pages.password_form(state=begun.state))
        else:
            response = _redirect(begun.redirect)
        # SAML comes back by a cross-site POST: only SameSite=None cookies
        # travel with it, and browsers accept those only when Secure.
        cross_site = self.secure and begun.method == "saml"
        self._cookie(
            response,
            LOGIN_COOKIE,
            begun.state,
            path="/auth",
            samesite="None" if cross_site else "Lax",
        )
        return response

    def _bound(self, request: web.Request, state: str, *, required: bool = True) -> bool:
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not cookie:
            return not required
        return hmac.compare_digest(cookie, state)

    async def local_form(self, request: web.Request) -> web.Response:
        state = request.cookies.get(LOGIN_COOKIE, "")
        if not state:
            return await self._begin("local", user_code=None, return_to=None)
        return _html(pages.password_form(state=state))

    async def local_submit(self, request: web.Request) -> web.Response:
        form = await read_form(request)
        if form is None:
            return _html(pages.message("Bad request", "malformed form", error=True), 400)
        state = form.get("state", "")
        if not self._bound(request, state):
            return self._failed("this sign-in was started in another browser")
        try:
            finished = await self.flows.local_login(
                state, form.get("username", ""), form.get("password", "")
            )
        except LoginFailed as exc:
            return self._failed(str(exc), status=401)
        except AuditFailed as exc:
            return self._failed(str(exc), status=503)
        return self._finished(finished)

    async def oidc_callback(self, request: web.Request) -> web.Response:
        query = request.query
        state = query.get("state", "")
        if "error" in query:
            await self.service.store.run(self.service.logins.consume, state, "oidc")
            return self._failed(f"the IdP refused the sign-in ({query.get('error', '')[:64]})")
        if not state or not self._bound(request, state):
            return self._failed("this sign-in was started in another browser, or not at all")
        try:
            finished = await self.flows.oidc_callback(
                state, query.get("code", ""), query.get("iss")
            )
        except (LoginFailed, RemoteError) as exc:
            return self._failed(str(exc))
        except AuditFailed as exc:
            return self._failed(str(exc), status=503)
        return self._finished(finished)

    async def saml_metadata(self, request: web.Request) -> web.Response:
        try:
            xml = self.flows.saml().metadata()
        except LoginFailed as exc:
            return web.Response(status=404, text=str(exc))
        return web.Response(text=xml, content_type="application/samlmetadata+xml")

    async def saml_acs(self, request: web.Request) -> web.Response:
        form = await read_form(request, SAML_FORM_LIMIT)
        if form is None:
            return self._failed("malformed or oversized SAML response")
        state = form.get("RelayState", "")
        # Over https the login cookie (SameSite=None; Secure) must come back;
        # over plain http (development) browsers drop it on a cross-site POST.
        if not state or not self._bound(request, state, required=self.secure):
            return self._failed("this sign-in was started in another browser, or not at all")
        try:
            finished = await self.flows.saml_acs(state, form.get("SAMLResponse", ""))
        except LoginFailed as exc:
            return self._failed(str(exc))
        except AuditFailed as exc:
            return self._failed(str(exc), status=503)
        return self._finished(finished)

    def _failed(self, text: str, status: int = 400) -> web.Response:
        response = _html(pages.message("Sign-in failed", text, error=True), status)
        response.del_cookie(LOGIN_COOKIE, path="/auth")
        return response

    def _finished(self, finished: Finished) -> web.Response:
        who = finished.person.display_name or finished.person.subject
        if finished.device_approved:
            response = _html(
                pages.message(
                    "Signed in", f"Your terminal is signed in as {who}. You can close this window."
                )
            )
        elif finished.issued is not None:
            target = safe_return_to(finished.login.return_to)
            if target:
                response = _redirect(target)
            else:
                response = _html(pages.message("Signed in", f"You are signed in as {who}."))
            ttl = max(0, finished.issued.claims.expires_at - self.service.store.now())
            self._cookie(response, SESSION_COOKIE, finished.issued.access_token, path="/", age=ttl)
        else:
            response = _html(pages.message("Signed in", f"Signed in as {who}."))
        response.del_cookie(LOGIN_COOKIE, path="/auth")
        return response

    def _cookie(
        self,
        response: web.StreamResponse,
        name: str,
        value: str,
        *,
        path: str,
        age: int = 600,
        samesite: str = "Lax",
    ) -> None:
        response.set_cookie(
            name,
            value,
            path=path,
            max_age=age,
            httponly=True,
            secure=self.secure or samesite == "None",
            samesite=samesite,
        )

    # -- token endpoint -------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        form = await read_form(request)
        if form is None:
            return oauth_error("invalid_request", "malformed or oversized form")
        grant = form.get("grant_type", "")
        try:
            if grant == DEVICE_GRANT:
                return await self._device_grant(form)
            if grant == "refresh_token":
                return await self._refresh_grant(form)
            if grant == EXCHANGE_GRANT:
                return await self._exchange_grant(form)
        except AuditFailed as exc:
            return oauth_error("temporarily_unavailable", str(exc), 503)
        return oauth_error("unsupported_grant_type", f"grant_type {grant[:80]!r} is not supported")

    async def _device_grant(self, form: dict[str, str]) -> web.Response:
        if form.get("client_id") != CLI_CLIENT_ID:
            return oauth_error("invalid_client", "unknown client", 401)
        result, issued = await self.flows.device_token(form.get("device_code", ""), CLI_CLIENT_ID)
        if result is PollResult.APPROVED and issued is not None:
            return web.json_response(issued.as_oauth(self.service.clock()), headers=_NO_STORE)
        descriptions = {
            PollResult.PENDING: "the sign-in in the browser is not finished yet",
            PollResult.SLOW_DOWN: "polling too fast; wait longer between requests",
            PollResult.EXPIRED: "the device code expired; run `warden login` again",
            PollResult.DENIED: "the sign-in was refused in the browser",
            PollResult.INVALID: "unknown or already used device code",
        }
        return oauth_error(result.value, descriptions[result])

    async def _refresh_grant(self, form: dict[str, str]) -> web.Response:
        if form.get("client_id", CLI_CLIENT_ID) != CLI_CLIENT_ID:
            return oauth_error("invalid_client", "unknown client", 401)
        issued = await self.flows.refresh(form.get("refresh_token", ""))
        if issued is None:
            return oauth_error(
                "invalid_grant", "the sign-in ended or the refresh token is unknown; sign in again"
            )
        return web.json_response(issued.as_oauth(self.service.clock()), headers=_NO_STORE)

    async def _exchange_grant(self, form: dict[str, str]) -> web.Response:
        if form.get("subject_token_type") not in SUBJECT_TOKEN_TYPES:
            return oauth_error(
                "invalid_request", f"subject_token_type must be {JWT_TYPE} or the id_token type"
            )
        if form.get("requested_token_type", ACCESS_TOKEN_TYPE) not in (ACCESS_TOKEN_TYPE, JWT_TYPE):
            return oauth_error("invalid_request", "only access tokens are issued")
        if "actor_token" in form:
            return oauth_error("invalid_request", "delegation (actor_token) is not supported")
        for name in ("audience", "resource"):
            if name in form and form[name] not in (self.service.issuer, "warden"):
                return oauth_error("invalid_target", f"{name} must be this gateway")
        try:
            issued = await self.flows.exchange(form.get("subject_token", ""))
        except ExchangeRefused as exc:
            log.info("token exchange refused", extra={"fields": {"reason": str(exc)}})
            return oauth_error("invalid_grant", str(exc))
        return web.json_response(issued.as_oauth(self.service.clock()), headers=_NO_STORE)

    async def revoke(self, request: web.Request) -> web.Response:
        form = await read_form(request)
        if form is None:
            return oauth_error("invalid_request", "malformed or oversized form")
        token = form.get("token", "")
        if token:
            await self.flows.sign_out(token)
        return web.Response(status=200, headers=_NO_STORE)  # RFC 7009: 200 either way
