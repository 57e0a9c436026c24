"""Helpers for the end-to-end tests: the gateway process, clean client environments, leak checks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.fakes.provider import Credentials, FakeProvider

HERE = Path(__file__).resolve().parent
BIN = HERE / "node_modules" / ".bin"
READY_WITHIN = 60.0  # seconds `warden serve` may take to answer /readyz before we give up

# Environment variables a client must never inherit from the test process: anything
# that could point it at a real provider or hand it a real key.
LEAKY = (
    "ANTHROPIC_",
    "OPENAI_",
    "AZURE_",
    "CLAUDE_",
    "CODEX_",
    "WARDEN_",
    "FAKE_",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a client process: its own HOME, nothing leaky inherited."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY)}
    keep.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), NO_COLOR="1")
    keep.update(extra)
    return keep


@dataclass
class Gateway:
    url: str
    token: str
    log: Path
    process: subprocess.Popen[bytes]

    def base(self, connection: str) -> str:
        return f"{self.url}/{connection}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def gateway_config(port: int, state: Path, upstream: str, creds: Credentials) -> str:
    return f"""\
listen: 127.0.0.1:{port}
state_dir: {state}
tokens:
  - name: dev
    subject: dev
    groups: [developers]
    env: WARDEN_TOKEN
connections:
  claude:
    type: anthropic
    upstream: {upstream}
    credential: {{env: FAKE_ANTHROPIC_KEY}}
  openai:
    type: openai
    upstream: {upstream}
    credential: {{env: FAKE_OPENAI_KEY}}
  azure:
    type: azure-openai
    upstream: {upstream}
    api_version: "2024-10-21"
    entra:
      tenant_id: {creds.azure_tenant}
      client_id: {creds.azure_client_id}
      client_secret: {{env: FAKE_AZURE_CLIENT_SECRET}}
      authority: {upstream}
  azure-key:
    type: azure-openai
    upstream: {upstream}
    api_version: "2024-10-21"
    credential: {{env: FAKE_AZURE_KEY}}
  claude-quickstart:
    type: anthropic
    upstream: {upstream}
    credential: {{env: FAKE_ANTHROPIC_KEY}}
    policy: quickstart
policies:
  quickstart: {json.dumps(quickstart_policy())}
"""


def quickstart_policy() -> dict[str, object]:
    """The default policy of examples/quickstart.yaml, as `make run` serves it."""
    config = yaml.safe_load((HERE.parents[1] / "examples" / "quickstart.yaml").read_text())
    policy: dict[str, object] = config["policies"]["default"]
    return policy


def warden_executable() -> Path:
    exe = Path(sys.executable).parent / "warden"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: install the project (`make test` does it)", pytrace=False)
    return exe


def wait_ready(gateway: Gateway) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            pytest.fail(
                f"warden serve exited with {gateway.process.returncode}:\n{gateway.log_text()}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(gateway.url + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    pytest.fail(
        f"warden serve not ready after {READY_WITHIN}s:\n{gateway.log_text()}", pytrace=False
    )


def node_bin(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.fail(
            f"{path} is missing. Run `make test` (it runs `npm ci --prefix tests/e2e`), "
            "or `npm ci --prefix tests/e2e` yourself.",
            pytrace=False,
        )
    return path


def assert_only_gateway_token_upstream(provider: FakeProvider, gateway: Gateway) -> None:
    """The provider saw its real key on every request and never the gateway token."""
    seen = provider.recorder.requests
    assert seen, "the provider received nothing"
    assert not provider.recorder.anywhere(gateway.token), "the gateway token reached upstream"
    creds = provider.credentials
    for request in seen:
        if request.path.endswith("/oauth2/v2.0/token"):
            assert request.contains(creds.azure_client_secret), "token request without the secret"
            continue
        presented = {
            request.header("x-api-key"),
            request.header("api-key"),
            (request.header("authorization") or "").removeprefix("Bearer "),
        }
        real = {creds.anthropic_key, creds.openai_key, creds.azure_key, *provider.entra.issued}
        assert presented & real, f"{request.method} {request.path} carried no real credential"


def assert_never_held(secrets_: list[str], *places: Path | str | dict[str, str]) -> None:
    """None of `secrets_` appears in a client's environment, output or files."""
    for place in places:
        if isinstance(place, dict):
            texts = [f"{k}={v}" for k, v in place.items()]
        elif isinstance(place, Path):
            texts = [p.read_text(errors="replace") for p in place.rglob("*") if p.is_file()]
        else:
            texts = [place]
        for secret in secrets_:
            assert not any(secret in t for t in texts), f"a real credential leaked into {place!r}"


def real_secrets(provider: FakeProvider) -> list[str]:
    creds = provider.credentials
    return [
        creds.anthropic_key,
        creds.openai_key,
        creds.azure_key,
        creds.azure_client_secret,
        *provider.entra.issued,
    ]
