from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.backends import BACKENDS, store_url_for
from warden.audit.store import Store, open_store_sync


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with store_url_for(backend, tmp_path) as url:
        yield url


@pytest.fixture
def store(store_url: str, state_dir: Path) -> Iterator[Store]:
    opened = open_store_sync(store_url, state_dir=state_dir)
    try:
        yield opened
    finally:
        opened.close()
