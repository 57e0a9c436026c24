"""Shared helpers of the access tests: a clock to move, an audit sink, configs."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from warden.access.config import IdentityConfig
from warden.access.service import AccessService, ConnectionAccess
from warden.web.auth_api import add_routes


class Clock:
    """Time that stands still until the test moves it, so nothing depends on how
    fast the machine is. It starts at the real time because PyJWT checks the
    tokens' ``exp`` against the real clock."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class AuditSink:
    """Collects admin events, as the audit recorder would store them."""

    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    fail: bool = False

    async def admin_event(self, kind: str, actor: str, payload: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("audit store unavailable")
        self.events.append((kind, actor, payload))

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.events]


def identity_config(**values: Any) -> IdentityConfig:
    values.setdefault("local_accounts", {"bootstrap": False})
    return IdentityConfig.model_validate(values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def auth_server(
    identity: IdentityConfig,
    *,
    store_url: str,
    state_dir: Path,
    clock: Clock,
    audit: AuditSink | None = None,
    connections: dict[str, ConnectionAccess] | None = None,
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], AccessService]]:
    """Warden's auth routes on a real socket, at the URL that is their issuer."""
    port = free_port()
    service = AccessService(
        identity,
        issuer=f"http://127.0.0.1:{port}",
        state_dir=state_dir,
        store_url=store_url,
        audit=audit,
        clock=clock,
        connections=connections,
    )
    app = web.Application()
    add_routes(app, service)
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(app, host="127.0.0.1", port=port)
    )
    await client.start_server()
    try:
        yield client, service
    finally:
        await client.close()
