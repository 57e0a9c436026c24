"""`warden accounts add|passwd|list|disable|enable` on the configured store."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from warden.access.accounts import Accounts
from warden.access.store import open_access_store
from warden.cli import accounts as accounts_cli


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="warden")
    sub = parser.add_subparsers(dest="command", required=True)
    accounts_cli.register(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "warden.yaml"
    path.write_text(
        f"""
state_dir: {tmp_path / "state"}
connections:
  claude:
    type: anthropic
    upstream: https://api.anthropic.com
    credential: {{env: ANTHROPIC_API_KEY}}
"""
    )
    return path


def test_add_list_passwd_disable(
    config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    c = str(config)
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert (
        run(
            "accounts",
            "add",
            "erin",
            "--group",
            "dev",
            "--name",
            "Erin",
            "--password-stdin",
            "-c",
            c,
        )
        == 0
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert run("accounts", "add", "erin", "--password-stdin", "-c", c) == 1
    assert "exists already" in capsys.readouterr().err
    assert run("accounts", "list", "-c", c) == 0
    assert capsys.readouterr().out == "erin\tgroups: dev\tErin\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert run("accounts", "passwd", "erin", "--password-stdin", "-c", c) == 1
    assert "at least 12" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("another long secret\n"))
    assert run("accounts", "passwd", "erin", "--password-stdin", "-c", c) == 0
    assert run("accounts", "disable", "erin", "-c", c) == 0
    store = open_access_store(f"sqlite:///{tmp_path / 'state' / 'warden.db'}")
    try:
        accounts = Accounts(store)
        assert accounts.authenticate("erin", "another long secret") is None
        store.close()
        assert run("accounts", "enable", "erin", "-c", c) == 0
        store = open_access_store(f"sqlite:///{tmp_path / 'state' / 'warden.db'}")
        assert Accounts(store).authenticate("erin", "another long secret") is not None
    finally:
        store.close()
