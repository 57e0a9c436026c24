from collections.abc import Iterator

import pytest

from tests.fakes.provider import Credentials, FakeProvider, serve
from tests.helpers.gateway import GATEWAY_TOKEN, gateway_config, run_gateway


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def upstream(provider: FakeProvider) -> Iterator[str]:
    with serve(provider) as url:
        yield url


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Upstream keys live in the gateway's environment, as in production."""
    creds = Credentials()
    values = {
        "TEST_WARDEN_TOKEN": GATEWAY_TOKEN,
        "TEST_ANTHROPIC_KEY": creds.anthropic_key,
        "TEST_OPENAI_KEY": creds.openai_key,
        "TEST_AZURE_KEY": creds.azure_key,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def gateway(upstream: str, env: dict[str, str]) -> Iterator[str]:
    with run_gateway(gateway_config(upstream), env=env) as (url, _app):
        yield url
