"""The access service wired into the gateway: gateway tokens and JIT grants on the data path."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anthropic
import openai
import pytest
from aiohttp import web

from tests.access.support import free_port
from tests.access.threaded import LoopThread, browser_sign_in
from tests.fakes.provider import Credentials, FakeProvider, serve
from warden.access import client
from warden.access.accounts import Accounts
from warden.access.store import open_access_store
from warden.config.loader import parse_config
from warden.server.app import create_app

PASSWORD = "correct horse battery"
MSG = [{"role": "user", "content": "hi"}]


def config(upstream: str, state: Path) -> str:
    # A fixed port: the gateway's issuer URL (the default is http://<listen>) is
    # what the device flow shows the person.
    return f"""
listen: 127.0.0.1:{free_port()}
state_dir: {state}
identity:
  local_accounts: {{bootstrap: false}}
connections:
  claude:
    type: anthropic
    upstream: {upstream}
    credential: {{env: TEST_ANTHROPIC_KEY}}
    access: {{groups: [dev]}}
  prod:
    type: openai
    upstream: {upstream}
    credential: {{env: TEST_OPENAI_KEY}}
    access:
      groups: [dev]
      jit: {{approvers: [sre-leads]}}
"""


@contextmanager
def run_gateway(text: str, env: dict[str, str]) -> Iterator[str]:
    """The whole gateway (create_app), listening where its config says."""
    config = parse_config(text, env=env)
    app = create_app(config)
    runner = web.AppRunner(app)
    loop = LoopThread()
    host, port = config.host_port

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, host, port).start()

    loop.run(start())
    try:
        yield f"http://{host}:{port}"
    finally:
        loop.run(runner.cleanup())
        loop.stop()


def test_gateway_tokens_and_jit_on_the_data_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = Credentials()
    env = {"TEST_ANTHROPIC_KEY": creds.anthropic_key, "TEST_OPENAI_KEY": creds.openai_key}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WARDEN_HOME", str(tmp_path / "home"))
    state = tmp_path / "state"
    store = open_access_store(f"sqlite:///{state / 'warden.db'}")
    Accounts(store).add("erin", PASSWORD, groups=["dev"])
    Accounts(store).add("lee", PASSWORD, groups=["sre-leads"])
    store.close()
    provider = FakeProvider()
    with serve(provider) as upstream, run_gateway(config(upstream, state), env) as url:

        def login(user: str) -> str:
            monkeypatch.setenv("WARDEN_HOME", str(tmp_path / user))
            entry = client.device_login(
                url,
                show=lambda text: None,
                open_browser=lambda link: browser_sign_in(link, user, PASSWORD),
                sleep=lambda s: None,
            )
            return str(entry["access_token"])

        erin = login("erin")
        lee = login("lee")
        sdk = anthropic.Anthropic(base_url=url + "/claude", api_key=erin, max_retries=0)
        reply = sdk.messages.create(model="claude-x", max_tokens=10, messages=MSG)
        assert reply.content
        with pytest.raises(anthropic.AuthenticationError):
            anthropic.Anthropic(
                base_url=url + "/claude", api_key=erin[:-3] + "AAA", max_retries=0
            ).messages.create(model="claude-x", max_tokens=10, messages=MSG)
        with pytest.raises(anthropic.PermissionDeniedError):
            anthropic.Anthropic(
                base_url=url + "/claude", api_key=lee, max_retries=0
            ).messages.create(model="claude-x", max_tokens=10, messages=MSG)

        prod = openai.OpenAI(base_url=url + "/prod/v1", api_key=erin, max_retries=0)
        with pytest.raises(openai.PermissionDeniedError, match="warden request prod"):
            prod.chat.completions.create(model="gpt-x", messages=MSG)
        created = client.call(
            f"{url}/auth/access-requests",
            token=erin,
            method="POST",
            body={"connection": "prod", "duration": "30m", "reason": "incident"},
        )
        assert created.status == 201, created.body
        listed = client.call(f"{url}/admin/api/access-requests?status=pending", token=lee)
        assert listed.status == 200 and listed.body["requests"][0]["id"] == created.body["id"]
        approved = client.call(
            f"{url}/admin/api/access-requests/{created.body['id']}/approve",
            token=lee,
            method="POST",
            body={},
        )
        assert approved.status == 200 and approved.body["granted"]
        assert prod.chat.completions.create(model="gpt-x", messages=MSG).choices
