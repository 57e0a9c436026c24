"""People sign in with the company IdP: authorization code + PKCE, and its attacks.

The IdP is oidc-provider-mock, a real OpenID provider; Entra-style ``groups``
and ``roles`` claims (and Entra's group-overage indication) are set on its
users exactly as Entra would put them in the ID token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.access.idp import IDP_WARNINGS, Idp, query, run_idp
from tests.access.support import AuditSink, Clock, auth_server, identity_config
from warden.access.logins import Logins
from warden.access.oidc import code_challenge
from warden.access.service import AccessService
from warden.web.auth_api import LOGIN_COOKIE, SESSION_COOKIE

pytestmark = [pytest.mark.filterwarnings(w) for w in IDP_WARNINGS]

Client = TestClient[web.Request, web.Application]
SRE_GROUP_ID = "8f7c5a2e-1d7b-4a51-9a4e-0d6f3b2c1a90"
ENTRA_CLAIMS = {
    "name": "Alice Example",
    "groups": [SRE_GROUP_ID, "00000000-0000-0000-0000-000000000001"],
    "roles": ["Warden.Approver"],
}
OVERAGE_CLAIMS = {
    "name": "Bob Busy",
    "_claim_names": {"groups": "src1"},
    "_claim_sources": {
        "src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/b/getMemberObjects"}
    },
    "roles": ["Warden.Reader"],
}


@pytest.fixture(scope="module")
def idp() -> Iterator[Idp]:
    with run_idp() as running:
        yield running


def oidc_identity(idp: Idp, **extra: Any) -> Any:
    return identity_config(
        oidc={"issuer": idp.url, "client_id": "warden-test", "client_secret": {"env": "HOME"}},
        groups=[{"claim": "roles"}, {"claim": "groups", "values": {SRE_GROUP_ID: "sre"}}],
        overage_groups=["groups-unknown"],
        local_accounts={"enabled": False, "bootstrap": False},
        **extra,
    )


@pytest.fixture
async def gateway(
    idp: Idp, store_url: str, tmp_path: Path, clock: Clock, audit: AuditSink
) -> AsyncIterator[tuple[Client, AccessService]]:
    async with auth_server(
        oidc_identity(idp), store_url=store_url, state_dir=tmp_path / "s", clock=clock, audit=audit
    ) as pair:
        yield pair


async def start_login(client: Client, path: str = "/auth/login") -> str:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 303, await response.text()
    return response.headers["Location"]


async def callback(client: Client, location: str) -> tuple[int, str]:
    parts = urlsplit(location)
    assert parts.path == "/auth/callback"
    response = await client.get(f"{parts.path}?{parts.query}", allow_redirects=False)
    return response.status, await response.text()


def set_login_cookie(client: Client, value: str) -> None:
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({LOGIN_COOKIE: value})


def session_token(client: Client) -> str | None:
    for cookie in client.session.cookie_jar:
        if cookie.key == SESSION_COOKIE:
            return cookie.value
    return None


async def test_sign_in_maps_entra_groups_and_roles(
    gateway: tuple[Client, AccessService], idp: Idp, audit: AuditSink
) -> None:
    client, service = gateway
    await idp.set_user("alice@example.com", ENTRA_CLAIMS)
    location = await idp.authorize(await start_login(client), "alice@example.com")
    status, page = await callback(client, location)
    assert status == 200, page
    assert "signed in as Alice Example" in page
    token = session_token(client)
    assert token is not None
    who = await service.identify(token)
    assert who is not None
    assert who.subject == "alice@example.com"
    assert who.groups == frozenset({"sre", "Warden.Approver"})
    assert who.auth_method == "oidc"
    [(kind, actor, payload)] = audit.events
    assert (kind, actor, payload["overage"]) == ("access.login", "alice@example.com", False)
    assert token not in json.dumps(audit.events)


async def test_group_overage_maps_to_the_fallback_and_is_logged(
    gateway: tuple[Client, AccessService], idp: Idp, caplog: pytest.LogCaptureFixture
) -> None:
    client, service = gateway
    await idp.set_user("bob@example.com", OVERAGE_CLAIMS)
    location = await idp.authorize(await start_login(client), "bob@example.com")
    with caplog.at_level(logging.WARNING, logger="warden.access"):
        status, page = await callback(client, location)
    assert status == 200, page
    token = session_token(client)
    assert token is not None
    who = await service.identify(token)
    assert who is not None
    assert who.groups == frozenset({"Warden.Reader", "groups-unknown"})
    [record] = [r for r in caplog.records if "overflowed" in r.getMessage()]
    assert record.__dict__["fields"] == {"subject": "bob@example.com"}
    assert token not in caplog.text


async def test_state_nonce_and_pkce_are_on_the_wire(
    gateway: tuple[Client, AccessService], idp: Idp
) -> None:
    client, service = gateway
    authorize = await start_login(client)
    params = query(authorize)
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    login = await service.store.run(Logins(service.store).consume, params["state"], "oidc")
    assert login is not None
    assert params["nonce"] == login.nonce
    assert params["code_challenge"] == code_challenge(login.code_verifier)
    # The IdP saw the verifier only at the token endpoint, for this state's code.
    client2 = client  # the same browser starts again (the first sign-in is spent)
    authorize = await start_login(client2)
    location = await idp.authorize(authorize, "carol@example.com")
    status, _ = await callback(client2, location)
    assert status == 200
    sent = idp.token_requests[-1]
    assert sent["grant_type"] == "authorization_code"
    assert code_challenge(sent["code_verifier"]) == query(authorize)["code_challenge"]
    assert sent["redirect_uri"] == f"{service.issuer}/auth/callback"


async def test_a_replayed_callback_is_refused(
    gateway: tuple[Client, AccessService], idp: Idp
) -> None:
    client, _ = gateway
    location = await idp.authorize(await start_login(client), "dave@example.com")
    assert (await callback(client, location))[0] == 200
    set_login_cookie(client, query(location)["state"])
    status, page = await callback(client, location)
    assert status == 400 and "already used" in page


async def test_a_callback_in_another_browser_is_refused(
    gateway: tuple[Client, AccessService], idp: Idp
) -> None:
    """Login CSRF: the attacker's own code and state, delivered to the victim's browser."""
    attacker, _ = gateway
    location = await idp.authorize(await start_login(attacker), "mallory@example.com")
    attacker.session.cookie_jar.clear()
    status, page = await callback(attacker, location)
    assert status == 400 and "another browser" in page
    set_login_cookie(attacker, "x" * 43)
    status, page = await callback(attacker, location)
    assert status == 400 and "another browser" in page


async def test_an_injected_code_fails_the_nonce_check(
    gateway: tuple[Client, AccessService], idp: Idp
) -> None:
    """The attacker's code (its own nonce) delivered with the victim's state."""
    client, _ = gateway
    victim_authorize = await start_login(client)
    victim_state = query(victim_authorize)["state"]
    attacker_authorize = await start_login(client)
    attacker_redirect = await idp.authorize(attacker_authorize, "mallory@example.com")
    code = query(attacker_redirect)["code"]
    set_login_cookie(client, victim_state)
    status, page = await callback(client, f"/auth/callback?code={code}&state={victim_state}")
    assert status == 400 and "nonce does not match" in page
    assert session_token(client) is None


async def test_a_response_from_another_issuer_is_refused(
    gateway: tuple[Client, AccessService], idp: Idp
) -> None:
    client, _ = gateway
    location = await idp.authorize(await start_login(client), "erin@example.com")
    status, page = await callback(client, location + "&iss=https%3A%2F%2Fevil.example.com")
    assert status == 400 and "mix-up" in page


async def test_an_idp_error_ends_the_sign_in(
    gateway: tuple[Client, AccessService], idp: Idp
) -> None:
    client, _ = gateway
    location = await idp.authorize(await start_login(client), "x", deny=True)
    status, page = await callback(client, location)
    assert status == 400 and "access_denied" in page


@pytest.mark.parametrize(
    "target", ["https://evil.example.com/", "//evil.example.com/x", "/\\evil.example.com"]
)
async def test_return_to_never_leaves_the_gateway(
    gateway: tuple[Client, AccessService], idp: Idp, target: str
) -> None:
    client, _ = gateway
    authorize = await start_login(client, f"/auth/login?return_to={target}")
    location = await idp.authorize(authorize, "frank@example.com")
    parts = urlsplit(location)
    response = await client.get(f"{parts.path}?{parts.query}", allow_redirects=False)
    assert response.status == 200  # a page, not a redirect to the target


async def test_return_to_a_local_path_redirects(
    gateway: tuple[Client, AccessService], idp: Idp
) -> None:
    client, _ = gateway
    authorize = await start_login(client, "/auth/login?return_to=/admin/")
    location = await idp.authorize(authorize, "gina@example.com")
    parts = urlsplit(location)
    response = await client.get(f"{parts.path}?{parts.query}", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/admin/"
