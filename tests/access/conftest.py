from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.access.support import AuditSink, Clock, identity_config
from tests.helpers.backends import BACKENDS, store_url_for
from warden.access.service import AccessService
from warden.access.store import AccessStore, open_access_store


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with store_url_for(backend, tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(store_url: str, clock: Clock) -> Iterator[AccessStore]:
    opened = open_access_store(store_url, clock=clock)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def audit() -> AuditSink:
    return AuditSink()


@pytest.fixture
async def service(
    store_url: str, tmp_path: Path, clock: Clock, audit: AuditSink
) -> AsyncIterator[AccessService]:
    svc = AccessService(
        identity_config(),
        issuer="http://127.0.0.1:8080",
        state_dir=tmp_path / "state",
        store_url=store_url,
        audit=audit,
        clock=clock,
    )
    await svc.start()
    try:
        yield svc
    finally:
        await svc.close()
