"""The HTTP surface: discovery, JWKS, the JIT API for requesters and approvers, revocation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.access.support import AuditSink, Clock, auth_server, identity_config
from warden.access.config import JitRule
from warden.access.service import AccessService, ConnectionAccess
from warden.config.model import AccessConfig
from warden.web.auth_api import safe_return_to

Client = TestClient[web.Request, web.Application]
CONNECTIONS = {
    "prod-db": ConnectionAccess(AccessConfig(groups=["dev"]), JitRule(approvers=["sre-leads"]))
}


@pytest.fixture
async def gateway(
    store_url: str, tmp_path: Path, clock: Clock, audit: AuditSink
) -> AsyncIterator[tuple[Client, AccessService]]:
    async with auth_server(
        identity_config(),
        store_url=store_url,
        state_dir=tmp_path / "s",
        clock=clock,
        audit=audit,
        connections=CONNECTIONS,
    ) as pair:
        yield pair


async def bearer(service: AccessService, subject: str, *groups: str) -> dict[str, str]:
    token, _ = await service.issue(subject, frozenset(groups), ("oidc",))
    return {"Authorization": f"Bearer {token}"}


async def test_jwks_verifies_issued_tokens(gateway: tuple[Client, AccessService]) -> None:
    client, service = gateway
    token, _ = await service.issue("alice", frozenset(), ("oidc",))
    jwks = await (await client.get("/.well-known/jwks.json")).json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience="warden")
    assert claims["iss"] == service.issuer
    meta = await (await client.get("/.well-known/oauth-authorization-server")).json()
    assert meta["token_endpoint"] == f"{service.issuer}/auth/token"
    assert meta["jwks_uri"] == f"{service.issuer}/.well-known/jwks.json"


async def test_whoami(gateway: tuple[Client, AccessService]) -> None:
    client, service = gateway
    assert (await client.get("/auth/whoami")).status == 401
    body = await (await client.get("/auth/whoami", headers=await bearer(service, "a", "x"))).json()
    assert body == {
        "subject": "a",
        "groups": ["x"],
        "auth_method": "oidc",
        "display_name": None,
        "admin": False,
    }


async def test_request_and_approve_over_http(
    gateway: tuple[Client, AccessService], audit: AuditSink
) -> None:
    client, service = gateway
    alice = await bearer(service, "alice", "dev")
    lead = await bearer(service, "lead", "sre-leads")
    created = await client.post(
        "/auth/access-requests",
        json={"connection": "prod-db", "duration": "30m", "reason": "incident"},
        headers=alice,
    )
    assert created.status == 201, await created.text()
    request: dict[str, Any] = await created.json()
    assert (request["status"], request["duration"]) == ("pending", 1800)

    own = await client.post(f"/admin/api/access-requests/{request['id']}/approve", headers=alice)
    assert own.status == 403
    listed = await client.get("/admin/api/access-requests?status=pending", headers=lead)
    assert [r["id"] for r in (await listed.json())["requests"]] == [request["id"]]
    approved = await client.post(
        f"/admin/api/access-requests/{request['id']}/approve",
        json={"comment": "go"},
        headers=lead,
    )
    body = await approved.json()
    assert approved.status == 200 and body["granted"] and body["status"] == "approved"
    mine = await (await client.get("/auth/access-requests", headers=alice)).json()
    assert mine["requests"][0]["status"] == "approved"
    assert "access.grant" in audit.kinds()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"connection": "prod-db", "duration": "forever", "reason": "x"}, 400),
        ({"connection": 7, "reason": "x"}, 400),
        ({"connection": "nope", "reason": "x"}, 404),
    ],
)
async def test_bad_requests(
    gateway: tuple[Client, AccessService], body: dict[str, Any], status: int
) -> None:
    client, service = gateway
    response = await client.post(
        "/auth/access-requests", json=body, headers=await bearer(service, "alice", "dev")
    )
    assert response.status == status


async def test_only_admins_revoke(gateway: tuple[Client, AccessService]) -> None:
    client, service = gateway
    victim_token, claims = await service.issue("bob", frozenset(), ("oidc",))
    refused = await client.post(
        "/admin/api/revocations", json={"jti": claims.jti}, headers=await bearer(service, "x")
    )
    assert refused.status == 403
    admin = await bearer(service, "root", "admin")
    done = await client.post(
        "/admin/api/revocations", json={"jti": claims.jti, "reason": "stolen"}, headers=admin
    )
    assert done.status == 200
    assert await service.identify(victim_token) is None
    later, _ = await service.issue("carol", frozenset(), ("oidc",))
    done = await client.post("/admin/api/revocations", json={"subject": "carol"}, headers=admin)
    assert done.status == 200 and await service.identify(later) is None


async def test_oversized_and_repeated_forms_are_refused(
    gateway: tuple[Client, AccessService],
) -> None:
    client, _ = gateway
    big = await client.post("/auth/token", data={"grant_type": "x" * 70000})
    assert big.status == 400 and (await big.json())["error"] == "invalid_request"
    twice = await client.post(
        "/auth/token",
        data="grant_type=refresh_token&grant_type=refresh_token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (await twice.json())["error"] == "invalid_request"
    unknown = await client.post("/auth/token", data={"grant_type": "password"})
    assert (await unknown.json())["error"] == "unsupported_grant_type"


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("/admin/", "/admin/"),
        ("/a?b=c", "/a?b=c"),
        ("https://evil.example.com", None),
        ("//evil.example.com", None),
        ("/\\evil.example.com", None),
        ("/x\r\nSet-Cookie: a=b", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_return_to(value: str | None, safe: str | None) -> None:
    assert safe_return_to(value) == safe
