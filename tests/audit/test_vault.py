"""The Vault transit key provider, against a faithful fake of Vault's HTTP API."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.audit.fake_vault import FakeVault, serve
from warden.audit import crypto
from warden.audit.crypto import KeyProviderError, KeyRing, UnknownKeyError, load_key_provider
from warden.audit.vault import VaultTransitKeyProvider
from warden.config.model import StoreConfig

TOKEN = "s.test-root-token"


@pytest.fixture
def vault() -> FakeVault:
    return FakeVault(TOKEN)


@pytest.fixture
def vault_url(vault: FakeVault, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    monkeypatch.delenv("VAULT_NAMESPACE", raising=False)
    monkeypatch.delenv("VAULT_CACERT", raising=False)
    with serve(vault) as url:
        yield url


def provider(url: str, suffix: str = "") -> VaultTransitKeyProvider:
    return VaultTransitKeyProvider.from_spec(f"vault-transit:{url}/warden-audit{suffix}")


def test_vault_wraps_and_unwraps_data_keys(vault: FakeVault, vault_url: str) -> None:
    keys = provider(vault_url)
    data_key = crypto.new_data_key()
    wrapped = keys.wrap(data_key)
    assert wrapped.startswith(b"vault:v1:") and data_key not in wrapped
    assert keys.unwrap(wrapped, keys.key_id) == data_key
    assert keys.key_id == "vault-transit:transit/warden-audit"
    encrypt, decrypt = vault.requests
    assert encrypt.path == "/v1/transit/encrypt/warden-audit"
    assert decrypt.path == "/v1/transit/decrypt/warden-audit"
    assert encrypt.headers["x-vault-token"] == TOKEN
    assert base64.b64decode(encrypt.body["plaintext"]) == data_key
    assert decrypt.body == {"ciphertext": wrapped.decode()}


def test_a_rotated_vault_key_still_unwraps_old_data_keys(vault: FakeVault, vault_url: str) -> None:
    keys = provider(vault_url)
    old = keys.wrap(b"o" * 32)
    vault.rotate("warden-audit")
    new = keys.wrap(b"n" * 32)
    assert new.startswith(b"vault:v2:")
    assert keys.unwrap(old, keys.key_id) == b"o" * 32
    assert keys.unwrap(new, keys.key_id) == b"n" * 32
    # Retiring old versions in Vault is Vault's call, and it is enforced.
    vault.keys["warden-audit"].min_decryption_version = 2
    with pytest.raises(KeyProviderError, match="disallowed by policy"):
        keys.unwrap(old, keys.key_id)


def test_errors_name_the_problem_and_never_the_token(
    vault: FakeVault, vault_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = provider(vault_url)
    wrapped = keys.wrap(b"d" * 32)
    with pytest.raises(UnknownKeyError):
        keys.unwrap(wrapped, crypto.kek_id(b"a" * 32))
    with pytest.raises(KeyProviderError, match="invalid ciphertext"):
        keys.unwrap(b"not-a-vault-ciphertext", keys.key_id)
    with pytest.raises(KeyProviderError, match="encryption key not found"):
        other = VaultTransitKeyProvider.from_spec(f"vault-transit:{vault_url}/other-key")
        other.unwrap(wrapped, other.key_id)
    monkeypatch.setenv("VAULT_TOKEN", "s.wrong")
    with pytest.raises(KeyProviderError, match="HTTP 403: permission denied") as denied:
        keys.wrap(b"d" * 32)
    assert "s.wrong" not in str(denied.value)
    monkeypatch.delenv("VAULT_TOKEN")
    with pytest.raises(KeyProviderError, match=r"no Vault token \(env:VAULT_TOKEN\)"):
        keys.wrap(b"d" * 32)


def test_an_unreachable_vault_is_a_key_provider_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    with serve(FakeVault()) as url:
        pass  # now nothing listens there
    keys = VaultTransitKeyProvider.from_spec(f"vault-transit:{url}/k?timeout=2")
    with pytest.raises(KeyProviderError, match="cannot reach Vault"):
        keys.wrap(b"d" * 32)


def test_redirects_are_not_followed(vault: FakeVault, vault_url: str) -> None:
    elsewhere = FakeVault()
    with serve(elsewhere) as other:
        vault.redirect_to = f"{other}/v1/transit/encrypt/warden-audit"
        with pytest.raises(KeyProviderError, match="HTTP 307"):
            provider(vault_url).wrap(b"d" * 32)
    assert elsewhere.requests == []


def test_a_token_file_is_read_on_every_call(
    vault: FakeVault, vault_url: str, tmp_path: Path
) -> None:
    token = tmp_path / "vault-token"
    token.write_text("s.expired\n")
    keys = provider(vault_url, f"?token_file={token}")
    with pytest.raises(KeyProviderError, match="403"):
        keys.wrap(b"d" * 32)
    token.write_text(f"{TOKEN}\n")  # renewed by a Vault agent
    assert keys.unwrap(keys.wrap(b"d" * 32), keys.key_id) == b"d" * 32


def test_a_custom_mount_and_a_namespace(vault_url: str) -> None:
    vault = FakeVault(TOKEN, mount="kms/transit")
    with serve(vault) as url:
        keys = VaultTransitKeyProvider.from_spec(
            f"vault-transit:{url}/kms/transit/audit?namespace=team-a&token_env=MY_TOKEN",
            environ={},
        )
        with pytest.MonkeyPatch.context() as env:
            env.setenv("MY_TOKEN", TOKEN)
            assert keys.unwrap(keys.wrap(b"d" * 32), keys.key_id) == b"d" * 32
    assert keys.key_id == "vault-transit:kms/transit/audit"
    assert vault.requests[0].path == "/v1/kms/transit/encrypt/audit"
    assert vault.requests[0].headers["x-vault-namespace"] == "team-a"


def test_long_key_ids_fit_the_column() -> None:
    keys = VaultTransitKeyProvider("https://vault:8200", "k" * 100)
    assert len(keys.key_id) <= 64 and keys.key_id.startswith("vault-transit:")


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("vault-transit:https://vault:8200", "expected vault-transit:"),
        ("vault-transit:ftp://vault/key", "expected vault-transit:"),
        ("vault-transit:https://vault:8200/key?tokn=x", "unknown parameter"),
        ("vault-transit:https://vault:8200/key?token_env=A&token_file=/b", "not both"),
        ("vault-transit:https://vault:8200/key?timeout=soon", "timeout"),
        ("vault-transit:https://vault:8200/key?timeout=0", "positive"),
    ],
)
def test_bad_vault_specs_are_refused(spec: str, problem: str) -> None:
    with pytest.raises(KeyProviderError, match=problem):
        load_key_provider(spec)


def test_a_key_ring_moves_from_a_key_file_to_vault(vault_url: str, tmp_path: Path) -> None:
    kek = tmp_path / "kek"
    kek.write_text(crypto.generate_kek_text())
    old = load_key_provider(f"file:{kek}")
    assert old is not None
    old_wrapped = old.wrap(b"o" * 32)
    ring = load_key_provider([f"vault-transit:{vault_url}/warden-audit", f"file:{kek}"])
    assert isinstance(ring, KeyRing)
    assert ring.key_id == "vault-transit:transit/warden-audit"
    new_wrapped = ring.wrap(b"n" * 32)
    assert new_wrapped.startswith(b"vault:v1:")
    assert ring.unwrap(old_wrapped, old.key_id) == b"o" * 32
    assert ring.unwrap(new_wrapped, ring.key_id) == b"n" * 32
    with pytest.raises(UnknownKeyError, match="not available"):
        ring.unwrap(old_wrapped, "retired")


@pytest.mark.parametrize(
    "raw_key",
    [
        "file:/etc/warden/kek",
        "env:WARDEN_KEK",
        "vault-transit:https://vault:8200/warden-audit",
        ["vault-transit:http://127.0.0.1:8200/transit/warden-audit", "file:/etc/warden/kek"],
    ],
)
def test_the_config_accepts_every_key_source(raw_key: str | list[str]) -> None:
    assert StoreConfig(raw_key=raw_key).raw_key == raw_key


@pytest.mark.parametrize("raw_key", ["vault:thing", "vault-transit:vault:8200/k", [], "kms:x"])
def test_the_config_refuses_unknown_key_sources(raw_key: str | list[str]) -> None:
    with pytest.raises(ValidationError):
        StoreConfig(raw_key=raw_key)
