"""`warden login`, `warden token` (Claude Code's apiKeyHelper), `warden logout`."""

from __future__ import annotations

import argparse
import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.access.issuer import CiIssuer, serve_issuer
from tests.access.support import identity_config
from tests.access.threaded import LoopThread, browser_sign_in, threaded_gateway
from tests.helpers.backends import BACKENDS, store_url_for
from warden.access import client
from warden.access.service import AccessService
from warden.cli import login as login_cli

PASSWORD = "correct horse battery"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="warden")
    sub = parser.add_subparsers(dest="command", required=True)
    login_cli.register(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture(params=BACKENDS)
def gateway(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, AccessService, LoopThread]]:
    monkeypatch.setenv("WARDEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WARDEN_GATEWAY", raising=False)
    with store_url_for(request.param, tmp_path) as url:
        identity = identity_config(local_accounts={"enabled": True, "bootstrap": False})
        with threaded_gateway(identity, store_url=url, state_dir=tmp_path / "state") as running:
            _, service, loop = running

            async def add() -> None:
                await service.store.run(
                    lambda: service.accounts.add("erin", PASSWORD, groups=["dev"])
                )

            loop.run(add())
            yield running


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`warden login` opens the browser; here the browser signs in as erin at once."""
    opened: list[str] = []

    def open_and_sign_in(url: str) -> bool:
        opened.append(url)
        assert "Your terminal is signed in" in browser_sign_in(url, "erin", PASSWORD)
        return True

    monkeypatch.setattr(login_cli.webbrowser, "open", open_and_sign_in)
    monkeypatch.setattr(login_cli, "sleep", lambda seconds: None)
    return opened


def credentials(tmp_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "home" / "credentials.json").read_text())
    return data


def test_login_then_token(
    gateway: tuple[str, AccessService, LoopThread],
    browser: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, service, loop = gateway
    assert run("login", "--gateway", url) == 0
    err = capsys.readouterr().err
    assert f"{url}/auth/device?user_code=" in err and "as erin (groups: dev)" in err
    assert browser == [err.split("open ", 1)[1].split()[0]]
    path = tmp_path / "home" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    stored = credentials(tmp_path)
    assert stored["default"] == url
    entry = stored["gateways"][url]
    assert entry["refresh_token"].startswith("wrt_")

    assert run("token") == 0  # the default gateway is the last one signed in to
    token = capsys.readouterr().out.strip()
    assert token == entry["access_token"]
    who = loop.run(service.identify(token))
    assert who is not None and who.subject == "erin"


def test_token_refreshes_before_expiry(
    gateway: tuple[str, AccessService, LoopThread],
    browser: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, service, loop = gateway
    assert run("login", "--gateway", url) == 0
    stored = credentials(tmp_path)
    old = stored["gateways"][url]
    old["expires_at"] = int(time.time()) + 30  # less than a minute left
    (tmp_path / "home" / "credentials.json").write_text(json.dumps(stored))
    capsys.readouterr()
    assert run("token", "--gateway", url) == 0
    fresh = capsys.readouterr().out.strip()
    assert fresh != old["access_token"]
    assert loop.run(service.identify(fresh)) is not None
    new = credentials(tmp_path)["gateways"][url]
    assert new["refresh_token"] != old["refresh_token"]
    assert stat.S_IMODE((tmp_path / "home" / "credentials.json").stat().st_mode) == 0o600


def test_logout_ends_the_session(
    gateway: tuple[str, AccessService, LoopThread],
    browser: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, _service, _loop = gateway
    assert run("login", "--gateway", url) == 0
    refresh = credentials(tmp_path)["gateways"][url]["refresh_token"]
    assert run("logout", "--gateway", url) == 0
    assert url not in credentials(tmp_path)["gateways"]
    assert run("token", "--gateway", url) == 1
    assert "not signed in" in capsys.readouterr().err
    assert client.refresh(url, refresh) is None  # revoked at the gateway too


def test_token_without_login_says_what_to_do(
    gateway: tuple[str, AccessService, LoopThread], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _, _ = gateway
    assert run("token", "--gateway", url) == 1
    assert "run `warden login`" in capsys.readouterr().err


def test_ci_exchanges_its_own_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WARDEN_HOME", str(tmp_path / "home"))
    loop = LoopThread()
    issuer_cm = serve_issuer()
    ci: CiIssuer = loop.run(issuer_cm.__aenter__())
    try:
        identity = identity_config(
            trust=[
                {
                    "name": "gitlab",
                    "issuer": ci.url,
                    "audience": "https://warden.example.com",
                    "subject": "project_path:acme/*",
                    "groups": ["ci"],
                }
            ]
        )
        with (
            store_url_for("sqlite", tmp_path) as store_url,
            threaded_gateway(identity, store_url=store_url, state_dir=tmp_path / "s") as running,
        ):
            url, service, gateway_loop = running
            monkeypatch.setenv(
                "CI_JOB_JWT", ci.mint(ci.claims(sub="project_path:acme/app:ref_type:branch"))
            )
            assert run("token", "--gateway", url, "--subject-token-env", "CI_JOB_JWT") == 0
            token = capsys.readouterr().out.strip()
            who = gateway_loop.run(service.identify(token))
            assert who is not None and who.subject.startswith("gitlab:project_path:acme/app")
            # Cached: a second call in the same job does not exchange (single-use) again.
            assert run("token", "--gateway", url, "--subject-token-env", "CI_JOB_JWT") == 0
            assert capsys.readouterr().out.strip() == token
            monkeypatch.setenv("CI_JOB_JWT", "not-a-jwt")
            (tmp_path / "home" / "credentials.json").unlink()
            assert run("token", "--gateway", url, "--subject-token-env", "CI_JOB_JWT") == 1
            assert "not a JWT" in capsys.readouterr().err
    finally:
        loop.run(issuer_cm.__aexit__(None, None, None))
        loop.stop()
