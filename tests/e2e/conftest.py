"""Fixtures for driving real clients through a real `warden serve` against the fake provider.

    fake_provider  the FakeProvider (script it, read what it received); reset per test
    fake_url       its base URL (served from a background thread for the whole session)
    gateway        `warden serve` in front of the fake: `.url`, `.token`, `.base(connection)`
    claude_bin, codex_bin  the pinned CLIs in tests/e2e/node_modules (`npm ci --prefix tests/e2e`)

The gateway holds the REAL provider credentials (only in its own environment);
clients are given only the gateway token. Tests assert both halves.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import (
    LEAKY,
    Gateway,
    free_port,
    gateway_config,
    node_bin,
    wait_ready,
    warden_executable,
)
from tests.fakes.provider import Credentials, FakeProvider, serve

FAILED = pytest.StashKey[bool]()


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    if call.when == "call":
        item.stash[FAILED] = call.excinfo is not None


@pytest.fixture(scope="session")
def _fake_server() -> Iterator[tuple[FakeProvider, str]]:
    provider = FakeProvider(
        Credentials(
            anthropic_key="sk-ant-api03-REAL-upstream-" + secrets.token_hex(8),
            openai_key="sk-proj-REAL-upstream-" + secrets.token_hex(8),
            azure_key="REAL-azure-key-" + secrets.token_hex(8),
            azure_client_secret="REAL-client-secret-" + secrets.token_hex(8),
        )
    )
    with serve(provider) as url:
        yield provider, url


@pytest.fixture
def fake_provider(_fake_server: tuple[FakeProvider, str]) -> Iterator[FakeProvider]:
    provider = _fake_server[0]
    provider.reset()
    yield provider
    provider.reset()


@pytest.fixture
def fake_url(_fake_server: tuple[FakeProvider, str]) -> str:
    return _fake_server[1]


@pytest.fixture(scope="session")
def _gateway(
    _fake_server: tuple[FakeProvider, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    provider, upstream = _fake_server
    creds = provider.credentials
    root = tmp_path_factory.mktemp("gateway")
    port = free_port()
    config = root / "warden.yaml"
    config.write_text(gateway_config(port, root / "state", upstream, creds))
    token = "wdn-e2e-" + secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY)}
    env.update(
        WARDEN_TOKEN=token,
        FAKE_ANTHROPIC_KEY=creds.anthropic_key,
        FAKE_OPENAI_KEY=creds.openai_key,
        FAKE_AZURE_KEY=creds.azure_key,
        FAKE_AZURE_CLIENT_SECRET=creds.azure_client_secret,
    )
    log = root / "warden.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(warden_executable()), "serve", "-c", str(config)],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    gateway = Gateway(f"http://127.0.0.1:{port}", token, log, process)
    try:
        wait_ready(gateway)
        yield gateway
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def gateway(
    _gateway: Gateway, fake_provider: FakeProvider, request: pytest.FixtureRequest
) -> Iterator[Gateway]:
    """The session's gateway; its log lines from a failing test are printed with the failure."""
    start = len(_gateway.log_text())
    yield _gateway
    if request.node.stash.get(FAILED, False):
        print(f"--- warden serve log during this test ({_gateway.log}) ---")
        print(_gateway.log_text()[start:])
    if _gateway.process.poll() is not None:
        pytest.fail(f"warden serve died:\n{_gateway.log_text()}", pytrace=False)


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    return node_bin("claude")


@pytest.fixture(scope="session")
def codex_bin() -> Path:
    return node_bin("codex")
