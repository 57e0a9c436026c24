"""``warden approvals`` against a store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from tests.helpers.backends import BACKENDS, store_url_for
from warden.approvals.store import ApprovalStore
from warden.cli import main


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, ApprovalStore]]:
    with store_url_for(request.param, tmp_path) as url:
        store = ApprovalStore(create_engine(url, poolclass=NullPool))
        store.migrate()
        yield url, store
        store.engine.dispose()


def make(store: ApprovalStore) -> str:
    return store.create(
        exchange_id="ex",
        session_id="s",
        connection="claude",
        subject="alice",
        groups=("dev",),
        rule="shell-rm-rf",
        reason="deletes files",
        channel="content/0",
        context='{"command": "rm -rf /srv"}',
        timeout=60,
        instance_id="i",
    ).id


def test_list_show_approve(
    store: tuple[str, ApprovalStore], capsys: pytest.CaptureFixture[str]
) -> None:
    url, approvals = store
    request_id = make(approvals)
    assert main(["approvals", "--store", url, "list", "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["id"] == request_id
    assert main(["approvals", "--store", url, "show", request_id]) == 0
    out = capsys.readouterr().out
    assert "shell-rm-rf" in out and "rm -rf /srv" in out
    assert main(["approvals", "--store", url, "approve", request_id, "--as", "alice"]) == 1
    assert "own request" in capsys.readouterr().out
    assert main(["approvals", "--store", url, "approve", request_id, "--as", "bob"]) == 0
    assert "approved by bob" in capsys.readouterr().out
    assert main(["approvals", "--store", url, "deny", request_id, "--as", "carol"]) == 1


def test_unknown_request(
    store: tuple[str, ApprovalStore], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = store
    assert main(["approvals", "--store", url, "show", "apr_nope"]) == 1
