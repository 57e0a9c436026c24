"""`warden request` and `warden access list|approve|deny|revoke`, end to end."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.access.support import identity_config
from tests.access.threaded import LoopThread, browser_sign_in, threaded_gateway
from tests.helpers.backends import store_url_for
from warden.access.config import JitRule
from warden.access.service import AccessService, ConnectionAccess
from warden.cli import login as login_cli
from warden.cli import request as request_cli
from warden.config.model import AccessConfig
from warden.pipeline.types import Identity

PASSWORD = "correct horse battery"
CONNECTIONS = {
    "prod-db": ConnectionAccess(
        AccessConfig(groups=["dev"]), JitRule(approvers=["sre-leads"], approvals=1)
    )
}


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="warden")
    sub = parser.add_subparsers(dest="command", required=True)
    login_cli.register(sub)
    request_cli.register(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture
def gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, AccessService, LoopThread]]:
    monkeypatch.delenv("WARDEN_GATEWAY", raising=False)
    monkeypatch.setattr(login_cli, "sleep", lambda seconds: None)
    identity = identity_config(local_accounts={"enabled": True, "bootstrap": False})
    with (
        store_url_for("sqlite", tmp_path) as url,
        threaded_gateway(
            identity, store_url=url, state_dir=tmp_path / "s", connections=CONNECTIONS
        ) as running,
    ):
        _, service, loop = running

        async def accounts() -> None:
            await service.store.run(lambda: service.accounts.add("erin", PASSWORD, groups=["dev"]))
            await service.store.run(
                lambda: service.accounts.add("lee", PASSWORD, groups=["sre-leads"])
            )

        loop.run(accounts())
        yield running


ERIN = Identity("erin", frozenset({"dev"}))


def may_use(service: AccessService, loop: LoopThread, who: Identity) -> bool:
    conn = CONNECTIONS["prod-db"]
    allowed, _ = loop.run(service.may_use(who, "prod-db", conn.access, conn.jit))
    return allowed


def sign_in_as(user: str, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARDEN_HOME", str(tmp_path / user))
    monkeypatch.setattr(
        login_cli.webbrowser, "open", lambda link: bool(browser_sign_in(link, user, PASSWORD))
    )
    assert run("login", "--gateway", url) == 0


def test_request_approve_and_use(
    gateway: tuple[str, AccessService, LoopThread],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, service, loop = gateway
    sign_in_as("erin", url, tmp_path, monkeypatch)
    capsys.readouterr()
    assert run("request", "prod-db", "--for", "30m", "--reason", "incident 4711") == 0
    out = capsys.readouterr().out
    request_id = out.split()[0]
    assert request_id.startswith("req_") and "pending" in out and "incident 4711" in out

    assert run("access", "approve", request_id) == 1
    assert "erin is not an approver for 'prod-db'" in capsys.readouterr().err

    sign_in_as("lee", url, tmp_path, monkeypatch)
    capsys.readouterr()
    assert run("access", "list") == 0
    assert request_id in capsys.readouterr().out
    assert run("access", "approve", request_id, "--comment", "go ahead") == 0
    out, err = capsys.readouterr()
    assert "approved" in out and "Granted until" in err

    assert may_use(service, loop, ERIN)
    assert run("access", "revoke", request_id) == 0
    assert not may_use(service, loop, ERIN)


def test_bad_duration_and_unknown_connection(
    gateway: tuple[str, AccessService, LoopThread],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, _, _ = gateway
    sign_in_as("erin", url, tmp_path, monkeypatch)
    assert run("request", "prod-db", "--for", "a while", "--reason", "x") == 2
    assert run("request", "nope", "--reason", "x") == 1
    assert "no connection named 'nope'" in capsys.readouterr().err
