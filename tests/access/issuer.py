"""A small OIDC issuer for the exchange tests: discovery and a JWKS whose keys
the test controls (rotate them, count fetches), and a ``mint`` to sign tokens
as a CI platform would. It is a protocol peer, not a stand-in for Warden."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass
class CiIssuer:
    url: str = ""
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    jwks_fetches: int = 0
    discovery_issuer: str | None = None

    def add_key(self) -> str:
        kid = uuid.uuid4().hex[:12]
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return kid

    def rotate(self) -> str:
        self.keys.clear()
        return self.add_key()

    @property
    def kid(self) -> str:
        return next(iter(self.keys))

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": self.url,
            "aud": "https://warden.example.com",
            "sub": "repo:acme/app:ref:refs/heads/main",
            "repository_owner": "acme",
            "jti": uuid.uuid4().hex,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def mint(self, claims: dict[str, Any] | None = None, *, kid: str | None = None) -> str:
        kid = kid or self.kid
        return jwt.encode(
            claims or self.claims(), self.keys[kid], algorithm="RS256", headers={"kid": kid}
        )

    def public_jwk(self, kid: str) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}

    async def _discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"issuer": self.discovery_issuer or self.url, "jwks_uri": f"{self.url}/jwks"}
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        return web.json_response({"keys": [self.public_jwk(kid) for kid in self.keys]})


@asynccontextmanager
async def serve_issuer() -> AsyncIterator[CiIssuer]:
    issuer = CiIssuer()
    issuer.add_key()
    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", issuer._discovery)
    app.router.add_get("/jwks", issuer._jwks)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    issuer.url = str(server.make_url("")).rstrip("/")
    try:
        yield issuer
    finally:
        await server.close()
