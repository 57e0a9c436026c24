"""Sign-in with the company IdP: OpenID Connect authorization code + PKCE.

Generic OIDC with discovery: Entra ID, Okta, Google Workspace, Keycloak.

* The authorization request carries ``state`` (bound to the browser by a
  cookie, checked by the web layer), a ``nonce`` and a PKCE ``S256``
  challenge; the verifier never leaves the gateway until the code exchange.
* The callback's ``iss`` parameter (RFC 9207), when the IdP sends it, must
  be the configured issuer (mix-up defence).
* The ID token is validated by :meth:`Issuers.verify` (pinned algorithms,
  JWKS of the discovered issuer, ``iss``, ``aud`` = client id, ``exp``,
  ``iat``), then ``nonce`` must equal the sign-in's nonce and, with several
  audiences, ``azp`` must be the client id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

from warden.access.claims import GroupResult, claim_values, map_groups
from warden.access.config import ClaimRule, OidcConfig, check_remote_url
from warden.access.logins import LoginState
from warden.access.remote import ExternalTokenError, Issuers, RemoteError
from warden.httpio import read_up_to

MAX_TOKEN_RESPONSE = 256 * 1024


class LoginFailed(Exception):
    """The sign-in could not be completed; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    subject: str
    display_name: str | None
    groups: GroupResult
    method: str


def code_challenge(verifier: str) -> str:
    """PKCE S256 (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def person(
    claims: dict[str, Any],
    *,
    subject_claim: str,
    name_claim: str | None,
    rules: list[ClaimRule],
    overage_groups: list[str],
    method: str,
) -> SignedIn:
    """Who signed in, from validated claims (OIDC) or attributes (SAML)."""
    subjects = claim_values(claims, subject_claim)
    if not subjects or not subjects[0]:
        raise LoginFailed(f"the IdP did not send the {subject_claim!r} claim")
    names = claim_values(claims, name_claim) if name_claim else []
    return SignedIn(
        subject=subjects[0],
        display_name=names[0] if names else None,
        groups=map_groups(claims, rules, overage_groups=overage_groups),
        method=method,
    )


def client_basic_auth(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: both parts form-urlencoded, then HTTP Basic."""
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class OidcClient:
    def __init__(self, config: OidcConfig, issuers: Issuers, *, redirect_uri: str) -> None:
        self.config = config
        self._issuers = issuers
        self.redirect_uri = redirect_uri

    async def authorization_url(self, login: LoginState) -> str:
        discovery = await self._issuers.discovery(self.config.issuer)
        endpoint = discovery.get("authorization_endpoint")
        if not isinstance(endpoint, str):
            raise RemoteError("the IdP's discovery document has no authorization_endpoint")
        check_remote_url(endpoint)
        params = {
            **self.config.extra_params,
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": login.state,
            "nonce": login.nonce,
            "code_challenge": code_challenge(login.code_verifier),
            "code_challenge_method": "S256",
        }
        separator = "&" if "?" in endpoint else "?"
        return endpoint + separator + urlencode(params)

    async def complete(
        self,
        login: LoginState,
        *,
        code: str,
        issuer_param: str | None,
        leeway: float,
        rules: list[ClaimRule],
        overage_groups: list[str],
    ) -> SignedIn:
        """Exchange the code and validate the ID token; raise LoginFailed."""
        if issuer_param is not None and issuer_param != self.config.issuer:
            raise LoginFailed("the authorization response names another issuer (mix-up)")
        if not code or len(code) > 4096:
            raise LoginFailed("the authorization response has no code")
        tokens = await self._redeem(code, login.code_verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise LoginFailed("the IdP sent no ID token")
        try:
            claims = await self._issuers.verify(
                id_token,
                issuer=self.config.issuer,
                audience=self.config.client_id,
                algorithms=list(self.config.algorithms),
                leeway=leeway,
            )
        except (ExternalTokenError, RemoteError) as exc:
            raise LoginFailed(f"the ID token was refused: {exc}") from None
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce, login.nonce):
            raise LoginFailed("the ID token's nonce does not match this sign-in (replay?)")
        audience = claims.get("aud")
        several = isinstance(audience, list) and len(audience) > 1
        if several and claims.get("azp") != self.config.client_id:
            raise LoginFailed("the ID token was issued to another party (azp)")
        return person(
            claims,
            subject_claim=self.config.subject_claim,
            name_claim=self.config.name_claim,
            rules=rules,
            overage_groups=overage_groups,
            method="oidc",
        )

    async def _redeem(self, code: str, verifier: str) -> dict[str, Any]:
        try:
            discovery = await self._issuers.discovery(self.config.issuer)
        except RemoteError as exc:
            raise LoginFailed(str(exc)) from None
        endpoint = discovery.get("token_endpoint")
        if not isinstance(endpoint, str):
            raise LoginFailed("the IdP's discovery document has no token_endpoint")
        check_remote_url(endpoint)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
            "client_id": self.config.client_id,
        }
        headers = {"accept": "application/json"}
        if self.config.client_secret is not None:
            headers["authorization"] = client_basic_auth(
                self.config.client_id, self.config.client_secret.resolve()
            )
        timeout = aiohttp.ClientTimeout(total=self._issuers.timeout)
        try:
            async with self._issuers.session.post(
                endpoint,
                data=form,
                timeout=timeout,
                allow_redirects=False,
                headers=headers,
            ) as response:
                body = await read_up_to(response.content, MAX_TOKEN_RESPONSE + 1)
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LoginFailed(f"the IdP's token endpoint failed ({type(exc).__name__})") from None
        if len(body) > MAX_TOKEN_RESPONSE:
            raise LoginFailed("the IdP's token response is too large")
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if status != 200 or not isinstance(data, dict):
            error = data.get("error") if isinstance(data, dict) else None
            raise LoginFailed(f"the IdP refused the authorization code ({error or status})")
        return data
