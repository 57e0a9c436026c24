"""Raw payloads sealed under each key-encryption key source, on SQLite and
PostgreSQL: a key file, an environment variable, Vault's transit engine; and
rotation, within a source and from one source to another."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.audit.fake_vault import FakeVault, serve
from tests.audit.helpers import event_rows, exchange
from warden.audit import crypto, queries, schema
from warden.audit.appender import LockedAppender
from warden.audit.checkpoints import load_or_create_signer
from warden.audit.recorder import Recorder
from warden.audit.reveal import KeyUnavailable, reveal
from warden.audit.store import Store
from warden.audit.verify import verify
from warden.pipeline.record import RecordKind
from warden.pipeline.types import Identity

TOKEN = "s.test-root-token"
AUDITOR = Identity("carol", frozenset({"auditor"}), "local-cli")


@pytest.fixture
def vault() -> FakeVault:
    return FakeVault(TOKEN)


@pytest.fixture
def vault_url(vault: FakeVault, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    with serve(vault) as url:
        yield url


def keys_from(spec: str | list[str]) -> crypto.KeyProvider:
    keys = crypto.load_key_provider(spec)
    assert keys is not None
    return keys


async def record_raw(store: Store, keys: crypto.KeyProvider, session: str, raw: Any) -> int:
    async with Recorder(store, mode="strict", instance_id="gw-1", raw_key=keys) as recorder:
        ex = exchange(f"ex-{session}", session)
        await recorder.record(ex, RecordKind.REQUEST, {"body": "[REDACTED:aws-access-key]"})
        await recorder.record_raw(ex, RecordKind.REQUEST, raw)
        await recorder.settle(ex)
    (row,) = [r for r in event_rows(store) if r.kind == "raw" and r.session_id == session]
    return int(row.id)


def reveal_with(store: Store, keys: crypto.KeyProvider, event_id: int) -> Any:
    appender = LockedAppender(store, signer=load_or_create_signer(store.state_dir))
    return reveal(
        store, event_id, actor=AUDITOR, reason="incident 42", keys=keys, appender=appender
    ).payload


def wrapped_keys(store: Store) -> list[tuple[str, bytes]]:
    table = schema.data_keys
    with store.engine.connect() as conn:
        rows = conn.execute(select(table.c.kek_id, table.c.wrapped).order_by(table.c.created_at))
        return [(row.kek_id, bytes(row.wrapped)) for row in rows]


@pytest.mark.parametrize("source", ["file", "env", "vault-transit"])
async def test_each_key_source_seals_and_reveals(
    store: Store,
    source: str,
    tmp_path: Path,
    vault: FakeVault,
    vault_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kek = crypto.generate_kek_text()
    (tmp_path / "kek").write_text(kek)
    monkeypatch.setenv("MY_KEK", kek)
    spec = {
        "file": f"file:{tmp_path / 'kek'}",
        "env": "env:MY_KEK",
        "vault-transit": f"vault-transit:{vault_url}/warden-audit",
    }[source]
    keys = keys_from(spec)
    raw = {"body": {"messages": [{"role": "user", "content": "AKIAIOSFODNN7EXAMPLE"}]}}
    event_id = await record_raw(store, keys, "s-1", raw)
    ((kek_id, wrapped),) = wrapped_keys(store)
    assert kek_id == keys.key_id
    if source == "vault-transit":
        assert wrapped.startswith(b"vault:v1:")
        assert [r.path for r in vault.requests] == ["/v1/transit/encrypt/warden-audit"]
    assert reveal_with(store, keys, event_id) == raw
    assert [e.payload["action"] for e in queries.admin_events(store)] == ["raw.reveal"]
    assert verify(store).ok


async def test_rotation_in_vault_and_from_a_key_file_to_vault(
    store: Store, tmp_path: Path, vault: FakeVault, vault_url: str
) -> None:
    kek_file = tmp_path / "kek"
    kek_file.write_text(crypto.generate_kek_text())
    file_spec = f"file:{kek_file}"
    vault_spec = f"vault-transit:{vault_url}/warden-audit"

    # 1. A deployment starts with a key file.
    first = await record_raw(store, keys_from(file_spec), "s-file", {"n": 1})
    # 2. It moves to Vault, keeping the file to unwrap what it wrapped.
    ring = keys_from([vault_spec, file_spec])
    second = await record_raw(store, ring, "s-vault-1", {"n": 2})
    # 3. Vault rotates its key: new data keys are wrapped by version 2.
    vault.rotate("warden-audit")
    third = await record_raw(store, ring, "s-vault-2", {"n": 3})

    kek_ids = [kek for kek, _ in wrapped_keys(store)]
    assert kek_ids == [keys_from(file_spec).key_id, ring.key_id, ring.key_id]
    assert [w[:9] for _, w in wrapped_keys(store)[1:]] == [b"vault:v1:", b"vault:v2:"]
    assert [reveal_with(store, ring, e) for e in (first, second, third)] == [
        {"n": 1},
        {"n": 2},
        {"n": 3},
    ]
    # Without the old file the old record cannot be read, and says why.
    with pytest.raises(KeyUnavailable, match="not available"):
        reveal_with(store, keys_from(vault_spec), first)
    assert reveal_with(store, keys_from(vault_spec), second) == {"n": 2}


async def test_a_rewritten_wrapped_key_does_not_unwrap(
    store: Store, vault: FakeVault, vault_url: str
) -> None:
    keys = keys_from(f"vault-transit:{vault_url}/warden-audit")
    event_id = await record_raw(store, keys, "s-1", {"n": 1})
    forged = b"vault:v1:" + base64.b64encode(b"\x00" * 60)
    with store.engine.begin() as conn:
        conn.execute(schema.data_keys.update().values(wrapped=forged))
    with pytest.raises(KeyUnavailable, match="message authentication failed"):
        reveal_with(store, keys, event_id)
    # The attempt was recorded all the same.
    assert [e.payload["action"] for e in queries.admin_events(store)] == ["raw.reveal"]
