"""Token exchange (RFC 8693) for CI jobs and workloads, and the attacks on it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.access.issuer import CiIssuer, serve_issuer
from tests.access.support import AuditSink, Clock, auth_server, identity_config
from warden.access.exchange import GRANT_TYPE, JWT_TYPE
from warden.access.service import AccessService

Client = TestClient[web.Request, web.Application]
AUDIENCE = "https://warden.example.com"


@pytest.fixture
async def ci() -> AsyncIterator[CiIssuer]:
    async with serve_issuer() as issuer:
        yield issuer


@pytest.fixture
async def gateway(
    ci: CiIssuer, store_url: str, tmp_path: Path, clock: Clock, audit: AuditSink
) -> AsyncIterator[tuple[Client, AccessService]]:
    identity = identity_config(
        trust=[
            {
                "name": "github",
                "issuer": ci.url,
                "audience": AUDIENCE,
                "subject": "repo:acme/*:ref:refs/heads/main",
                "claims": {"repository_owner": "acme"},
                "groups": ["ci"],
                "claim_groups": [{"claim": "environment", "prefix": "env-"}],
                "ttl": "15m",
            },
            {
                "name": "k8s",
                "issuer": ci.url,
                "audience": "warden-k8s",
                "subject": "system:serviceaccount:agents:*",
                "groups": ["workloads"],
                "single_use": False,
            },
        ]
    )
    async with auth_server(
        identity, store_url=store_url, state_dir=tmp_path / "s", clock=clock, audit=audit
    ) as pair:
        yield pair


async def exchange(client: Client, token: str, **extra: str) -> tuple[int, dict[str, Any]]:
    form = {"grant_type": GRANT_TYPE, "subject_token": token, "subject_token_type": JWT_TYPE}
    form.update(extra)
    response = await client.post("/auth/token", data=form)
    body: dict[str, Any] = await response.json()
    if response.status == 200:
        assert response.headers["Cache-Control"] == "no-store"
    return response.status, body


async def test_a_ci_token_becomes_a_gateway_token(
    gateway: tuple[Client, AccessService], ci: CiIssuer, audit: AuditSink
) -> None:
    client, service = gateway
    subject_token = ci.mint(ci.claims(environment="prod"))
    status, body = await exchange(client, subject_token)
    assert status == 200, body
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert body["token_type"] == "Bearer"
    assert 895 <= body["expires_in"] <= 900
    who = await service.identify(body["access_token"])
    assert who is not None
    assert who.subject == "github:repo:acme/app:ref:refs/heads/main"
    assert who.groups == frozenset({"ci", "env-prod"})
    assert who.auth_method == "token-exchange"
    [(kind, actor, payload)] = audit.events
    assert kind == "access.exchange" and actor == who.subject and payload["rule"] == "github"
    assert body["access_token"] not in json.dumps(audit.events)
    assert subject_token not in json.dumps(audit.events)


async def test_the_second_rule_matches_by_audience_and_allows_reuse(
    gateway: tuple[Client, AccessService], ci: CiIssuer
) -> None:
    client, service = gateway
    token = ci.mint(ci.claims(aud="warden-k8s", sub="system:serviceaccount:agents:runner"))
    for _ in range(2):
        status, body = await exchange(client, token)
        assert status == 200, body
    who = await service.identify(body["access_token"])
    assert who is not None and who.groups == frozenset({"workloads"})


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "https://other.example.com"}, "wrong audience"),
        ({"sub": "repo:evil/app:ref:refs/heads/main"}, "no trust rule matches"),
        ({"sub": "repo:acme/app:ref:refs/heads/feature"}, "no trust rule matches"),
        ({"repository_owner": "evil"}, "no trust rule matches"),
        ({"repository_owner": None}, "no trust rule matches"),
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"nbf": int(time.time()) + 600}, "not valid yet"),
        ({"iat": None}, "required claim"),
        ({"iss": "https://token.actions.githubusercontent.com"}, "no trust rule accepts"),
        ({"jti": None}, "single-use and the token has no jti"),
    ],
)
async def test_tokens_outside_the_rules_are_refused(
    gateway: tuple[Client, AccessService], ci: CiIssuer, claims: dict[str, Any], reason: str
) -> None:
    client, _ = gateway
    status, body = await exchange(client, ci.mint(ci.claims(**claims)))
    assert status == 400
    assert body["error"] == "invalid_grant"
    assert reason in body["error_description"]


async def test_replay_of_a_single_use_token_is_refused(
    gateway: tuple[Client, AccessService], ci: CiIssuer
) -> None:
    client, _ = gateway
    token = ci.mint()
    assert (await exchange(client, token))[0] == 200
    status, body = await exchange(client, token)
    assert status == 400 and "replay" in body["error_description"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_alg_none_and_hmac_confusion_are_refused(
    gateway: tuple[Client, AccessService], ci: CiIssuer
) -> None:
    client, _ = gateway
    claims = ci.claims()
    header = _b64(json.dumps({"alg": "none", "kid": ci.kid}).encode())
    unsigned = f"{header}.{_b64(json.dumps(claims).encode())}."
    status, body = await exchange(client, unsigned)
    assert status == 400 and "algorithm 'none'" in body["error_description"]
    public_pem = (
        ci.keys[ci.kid]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for secret in (public_pem, json.dumps(ci.public_jwk(ci.kid)).encode()):
        header = _b64(json.dumps({"alg": "HS256", "kid": ci.kid}).encode())
        signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        status, body = await exchange(client, f"{signing_input}.{_b64(mac)}")
        assert status == 400 and "algorithm 'HS256'" in body["error_description"]


async def test_a_token_signed_by_another_key_is_refused(
    gateway: tuple[Client, AccessService], ci: CiIssuer
) -> None:
    client, _ = gateway
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(ci.claims(), attacker, algorithm="RS256", headers={"kid": ci.kid})
    status, body = await exchange(client, forged)
    assert status == 400 and "bad signature" in body["error_description"]


async def test_key_rotation_is_followed_but_unknown_kids_cannot_amplify(
    gateway: tuple[Client, AccessService], ci: CiIssuer, clock: Clock
) -> None:
    client, _ = gateway
    assert (await exchange(client, ci.mint()))[0] == 200
    assert ci.jwks_fetches == 1
    clock.advance(31)  # past the re-fetch gap
    ci.rotate()
    assert (await exchange(client, ci.mint()))[0] == 200
    assert ci.jwks_fetches == 2
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for n in range(5):
        token = jwt.encode(ci.claims(), attacker, algorithm="RS256", headers={"kid": f"x{n}"})
        status, body = await exchange(client, token)
        assert status == 400 and "not in the issuer's key set" in body["error_description"]
    assert ci.jwks_fetches == 2  # no re-fetch within the gap, whatever the kid


async def test_a_discovery_document_naming_another_issuer_is_refused(
    gateway: tuple[Client, AccessService], ci: CiIssuer
) -> None:
    client, _ = gateway
    ci.discovery_issuer = "https://evil.example.com"
    status, body = await exchange(client, ci.mint())
    assert status == 400 and "names another issuer" in body["error_description"]


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"subject_token_type": "urn:ietf:params:oauth:token-type:saml2"}, "invalid_request"),
        (
            {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
            "invalid_request",
        ),
        ({"actor_token": "x"}, "invalid_request"),
        ({"audience": "https://elsewhere.example.com"}, "invalid_target"),
    ],
)
async def test_malformed_exchange_requests(
    gateway: tuple[Client, AccessService], ci: CiIssuer, extra: dict[str, str], error: str
) -> None:
    client, _ = gateway
    status, body = await exchange(client, ci.mint(), **extra)
    assert (status, body["error"]) == (400, error)
