"""``warden audit``: verify, reveal, purge, checkpoints, keygen."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audit.helpers import conversation, exchange, execute
from tests.helpers.backends import BACKENDS, store_url_for
from warden.audit import queries
from warden.audit.crypto import LocalKeyProvider
from warden.audit.recorder import Recorder
from warden.audit.store import open_store_sync
from warden.cli import audit as audit_cli
from warden.pipeline.record import RecordKind


def warden(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="warden")
    commands = parser.add_subparsers(dest="command", required=True)
    audit_cli.register(commands)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_url_for(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def env(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | Path]:
    state = tmp_path / "state"
    monkeypatch.setenv("WARDEN_STORE", store_url)
    monkeypatch.setenv("WARDEN_STATE_DIR", str(state))
    kek = tmp_path / "kek"
    assert warden("audit", "keygen", str(kek)) == 0
    return {"url": store_url, "state": state, "kek": kek}


async def record(env: dict[str, str | Path], *, raw: bool = False) -> None:
    store = open_store_sync(str(env["url"]), state_dir=Path(env["state"]))
    keys = LocalKeyProvider.from_file(env["kek"]) if raw else None
    try:
        async with Recorder(store, instance_id="gw-1", raw_key=keys) as recorder:
            ex = exchange()
            await conversation(recorder, ex)
            if raw:
                await recorder.record_raw(ex, RecordKind.REQUEST, {"body": "AKIAIOSFODNN7EXAMPLE"})
    finally:
        store.close()


async def test_verify_passes_then_names_the_tampered_event(
    env: dict[str, str | Path], capsys: pytest.CaptureFixture[str]
) -> None:
    await record(env)
    assert warden("audit", "verify") == 0
    assert "verified 7 events in 1 chain(s)" in capsys.readouterr().out
    store = open_store_sync(str(env["url"]), state_dir=Path(env["state"]))
    execute(store, "UPDATE audit_events SET payload = '{}' WHERE seq = 4")
    store.close()
    assert warden("audit", "verify") == 1
    out = capsys.readouterr().out
    assert "TAMPERED first problem: edited: event 4 (chain gw-1, seq 4)" in out
    assert warden("audit", "verify", "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["chains"][0]["problems"][0]["kind"] == "edited"


async def test_checkpoints_export_as_anchors(
    env: dict[str, str | Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await record(env)
    anchors = tmp_path / "anchors.jsonl"
    assert warden("audit", "checkpoints", "-o", str(anchors)) == 0
    (line,) = anchors.read_text().splitlines()
    assert json.loads(line)["seq"] == 7 and "public_key" in json.loads(line)
    key = Path(env["state"]) / "audit-signing.key"
    assert warden("audit", "verify", "--anchors", str(anchors), "--trust-key", str(key)) == 0
    assert "1 anchor(s)" in capsys.readouterr().out


async def test_reveal_needs_an_auditor_a_reason_and_a_key(
    env: dict[str, str | Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await record(env, raw=True)
    store = open_store_sync(str(env["url"]), state_dir=Path(env["state"]))
    (raw,) = [e for e in queries.session_events(store, "sess-1") if e.kind == "raw"]
    store.close()
    with pytest.raises(SystemExit):
        warden("audit", "reveal", str(raw.id), "--reason", "x")  # --as is required
    capsys.readouterr()
    monkeypatch.delenv("WARDEN_AUDIT_KEK", raising=False)
    monkeypatch.delenv("WARDEN_AUDIT_KEK_FILE", raising=False)
    assert warden("audit", "reveal", str(raw.id), "--reason", "x", "--as", "carol") == 1
    assert "no key-encryption key" in capsys.readouterr().err
    key = f"file:{env['kek']}"
    argv = ("audit", "reveal", str(raw.id), "--reason", "INC-7", "--as", "carol", "--key", key)
    assert warden(*argv, "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"body": "AKIAIOSFODNN7EXAMPLE"}
    store = open_store_sync(str(env["url"]), state_dir=Path(env["state"]))
    (audit,) = queries.admin_events(store)
    store.close()
    assert audit.payload["actor"] == "carol"
    assert audit.payload["details"]["reason"] == "INC-7"
    assert audit.payload["details"]["auth_method"].startswith("local-cli:")
    assert warden("audit", "reveal", "1", "--reason", "x", "--as", "carol", "--key", key) == 1
    assert "not a raw payload" in capsys.readouterr().err


async def test_purge_leaves_a_verifiable_chain(
    env: dict[str, str | Path], capsys: pytest.CaptureFixture[str]
) -> None:
    await record(env)
    assert warden("audit", "purge") == 1
    assert "nothing to purge" in capsys.readouterr().err
    assert warden("audit", "purge", "--days", "0", "--connection", "other=30", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["events"] == 7 and result["sessions"] == 1
    assert warden("audit", "verify") == 0


def test_keygen_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "kek"
    assert warden("audit", "keygen", str(path)) == 0
    assert path.stat().st_mode & 0o777 == 0o600
    LocalKeyProvider.from_file(path)
    assert warden("audit", "keygen", str(path)) == 1


def test_a_missing_store_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WARDEN_STORE", raising=False)
    assert warden("audit", "verify") == 1
    assert "no audit store at var/warden.db" in capsys.readouterr().err
    assert not (tmp_path / "var").exists()
