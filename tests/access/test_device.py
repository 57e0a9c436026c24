"""`warden login`'s device authorization grant (RFC 8628), refresh, and their attacks."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.access.idp import IDP_WARNINGS, Idp, run_idp
from tests.access.support import AuditSink, Clock, auth_server, identity_config
from warden.access.service import AccessService
from warden.web.auth_api import DEVICE_GRANT

pytestmark = [pytest.mark.filterwarnings(w) for w in IDP_WARNINGS]

Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="module")
def idp() -> Iterator[Idp]:
    with run_idp() as running:
        yield running


@pytest.fixture
async def gateway(
    idp: Idp, store_url: str, tmp_path: Path, clock: Clock, audit: AuditSink
) -> AsyncIterator[tuple[Client, AccessService]]:
    identity = identity_config(
        oidc={"issuer": idp.url, "client_id": "warden-test", "client_secret": {"env": "HOME"}},
        groups=[{"claim": "roles"}],
        session_ttl="8h",
    )
    async with auth_server(
        identity, store_url=store_url, state_dir=tmp_path / "s", clock=clock, audit=audit
    ) as pair:
        yield pair


async def start(client: Client) -> dict[str, Any]:
    response = await client.post("/auth/device/code", data={"client_id": "warden-cli"})
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = await response.json()
    return body


async def poll(client: Client, device_code: str) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        "/auth/token",
        data={"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": "warden-cli"},
    )
    body: dict[str, Any] = await response.json()
    return response.status, body


async def confirm(client: Client, user_code: str, **form: str) -> Any:
    """The person opens the verification page and confirms the code."""
    page = await client.get(f"/auth/device?user_code={user_code}")
    assert page.status == 200
    assert page.headers["X-Frame-Options"] == "DENY"
    html = await page.text()
    assert user_code in html
    csrf = re.search(r"name=csrf value='([^']+)'", html)
    assert csrf is not None
    data = {"csrf": csrf.group(1), "user_code": user_code, "method": "oidc", **form}
    return await client.post("/auth/device", data=data, allow_redirects=False)


async def sign_in(client: Client, idp: Idp, user_code: str, sub: str) -> str:
    response = await confirm(client, user_code)
    assert response.status == 303, await response.text()
    location = await idp.authorize(response.headers["Location"], sub)
    parts = urlsplit(location)
    done = await client.get(f"{parts.path}?{parts.query}", allow_redirects=False)
    text = await done.text()
    assert done.status == 200, text
    return text


async def test_the_whole_device_flow(
    gateway: tuple[Client, AccessService], idp: Idp, clock: Clock, audit: AuditSink
) -> None:
    client, service = gateway
    await idp.set_user("alice@example.com", {"name": "Alice", "roles": ["dev"]})
    grant = await start(client)
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", grant["user_code"])
    assert grant["verification_uri"] == f"{service.issuer}/auth/device"
    assert grant["verification_uri_complete"].endswith(grant["user_code"])
    assert (grant["expires_in"], grant["interval"]) == (600, 5)

    status, body = await poll(client, grant["device_code"])
    assert (status, body["error"]) == (400, "authorization_pending")
    status, body = await poll(client, grant["device_code"])
    assert body["error"] == "slow_down"
    clock.advance(10)
    assert (await poll(client, grant["device_code"]))[1]["error"] == "authorization_pending"

    page = await sign_in(client, idp, grant["user_code"], "alice@example.com")
    assert "Your terminal is signed in as Alice" in page

    status, tokens = await poll(client, grant["device_code"])
    assert status == 200, tokens
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"].startswith("wrt_")
    who = await service.identify(tokens["access_token"])
    assert who is not None and (who.subject, who.groups) == ("alice@example.com", {"dev"})

    status, body = await poll(client, grant["device_code"])
    assert (status, body["error"]) == (400, "invalid_grant")  # used once only
    assert "access.login" in audit.kinds() and "access.token.issue" in audit.kinds()


async def test_refresh_rotates_and_reuse_ends_the_session(
    gateway: tuple[Client, AccessService], idp: Idp, audit: AuditSink
) -> None:
    client, service = gateway
    grant = await start(client)
    await sign_in(client, idp, grant["user_code"], "bob@example.com")
    _, first = await poll(client, grant["device_code"])

    async def refresh(token: str) -> tuple[int, dict[str, Any]]:
        response = await client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": token, "client_id": "warden-cli"},
        )
        body: dict[str, Any] = await response.json()
        return response.status, body

    status, second = await refresh(first["refresh_token"])
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    assert (await service.identify(second["access_token"])) is not None
    # The old refresh token comes back: someone copied it. The whole session ends.
    status, body = await refresh(first["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")
    status, body = await refresh(second["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")
    assert "access.refresh.reuse" in audit.kinds()


async def test_the_session_ends_on_time(
    gateway: tuple[Client, AccessService], idp: Idp, clock: Clock
) -> None:
    client, _ = gateway
    grant = await start(client)
    await sign_in(client, idp, grant["user_code"], "carol@example.com")
    _, tokens = await poll(client, grant["device_code"])
    clock.advance(8 * 3600)
    response = await client.post(
        "/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert (await response.json())["error"] == "invalid_grant"


async def test_sign_out_revokes_the_refresh_token(
    gateway: tuple[Client, AccessService], idp: Idp
) -> None:
    client, _ = gateway
    grant = await start(client)
    await sign_in(client, idp, grant["user_code"], "dan@example.com")
    _, tokens = await poll(client, grant["device_code"])
    assert (
        await client.post("/auth/revoke", data={"token": tokens["refresh_token"]})
    ).status == 200
    response = await client.post(
        "/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert (await response.json())["error"] == "invalid_grant"


async def test_an_expired_device_code(gateway: tuple[Client, AccessService], clock: Clock) -> None:
    client, _ = gateway
    grant = await start(client)
    clock.advance(601)
    status, body = await poll(client, grant["device_code"])
    assert (status, body["error"]) == (400, "expired_token")
    response = await confirm(client, grant["user_code"])
    assert response.status == 400 and "unknown or expired" in await response.text()


async def test_the_person_refuses(gateway: tuple[Client, AccessService], audit: AuditSink) -> None:
    client, _ = gateway
    grant = await start(client)
    response = await confirm(client, grant["user_code"], action="deny")
    assert response.status == 200
    status, body = await poll(client, grant["device_code"])
    assert (status, body["error"]) == (400, "access_denied")
    assert "access.device.deny" in audit.kinds()


async def test_a_cross_site_form_post_cannot_approve_a_device(
    gateway: tuple[Client, AccessService],
) -> None:
    """The attacker's page posts the attacker's user code from the victim's browser."""
    client, _ = gateway
    grant = await start(client)
    client.session.cookie_jar.clear()  # a cross-site POST carries no SameSite=Lax cookie
    response = await client.post(
        "/auth/device",
        data={"csrf": "guess", "user_code": grant["user_code"], "method": "oidc"},
        allow_redirects=False,
    )
    assert response.status == 400 and "expired" in await response.text()


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"client_id": "someone-else", "device_code": "x"}, "invalid_client"),
        ({"client_id": "warden-cli", "device_code": "made-up"}, "invalid_grant"),
    ],
)
async def test_bad_polls(
    gateway: tuple[Client, AccessService], form: dict[str, str], error: str
) -> None:
    client, _ = gateway
    response = await client.post("/auth/token", data={"grant_type": DEVICE_GRANT, **form})
    assert (await response.json())["error"] == error


async def test_unknown_client_gets_no_device_code(gateway: tuple[Client, AccessService]) -> None:
    client, _ = gateway
    response = await client.post("/auth/device/code", data={"client_id": "evil"})
    assert response.status == 401 and (await response.json())["error"] == "invalid_client"


async def test_local_accounts_sign_in_a_device(
    store_url: str, tmp_path: Path, clock: Clock
) -> None:
    identity = identity_config(local_accounts={"enabled": True, "bootstrap": False})
    async with auth_server(
        identity, store_url=store_url, state_dir=tmp_path / "s", clock=clock
    ) as (client, service):
        await service.store.run(
            lambda: service.accounts.add("erin", "correct horse battery", groups=["dev"])
        )
        grant = await start(client)
        response = await confirm(client, grant["user_code"], method="local")
        html = await response.text()
        assert response.status == 200 and "type=password" in html
        state = re.search(r"name=state value='([^']+)'", html)
        assert state is not None
        wrong = await client.post(
            "/auth/login/local",
            data={"state": state.group(1), "username": "erin", "password": "wrong password!"},
        )
        assert wrong.status == 401
        # The failed attempt spent this sign-in: start again.
        response = await confirm(client, grant["user_code"], method="local")
        state = re.search(r"name=state value='([^']+)'", await response.text())
        assert state is not None
        ok = await client.post(
            "/auth/login/local",
            data={"state": state.group(1), "username": "erin", "password": "correct horse battery"},
        )
        assert ok.status == 200 and "terminal is signed in" in await ok.text()
        status, tokens = await poll(client, grant["device_code"])
        assert status == 200
        who = await service.identify(tokens["access_token"])
        assert who is not None and (who.subject, who.auth_method) == ("erin", "pwd")
