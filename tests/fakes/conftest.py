from collections.abc import Iterator

import pytest

from tests.fakes.provider import FakeProvider, serve


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def url(provider: FakeProvider) -> Iterator[str]:
    """The fake served from a background thread, so sync and async clients both work."""
    with serve(provider) as base_url:
        yield base_url
