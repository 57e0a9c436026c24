from __future__ import annotations

import base64
from pathlib import Path

import pytest

from warden.audit import crypto
from warden.audit.crypto import KeyProviderError, LocalKeyProvider, load_key_provider


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_wrap_and_unwrap_a_data_key() -> None:
    provider = LocalKeyProvider([b"a" * 32])
    data_key = crypto.new_data_key()
    wrapped = provider.wrap(data_key)
    assert data_key not in wrapped
    assert provider.unwrap(wrapped, provider.key_id) == data_key


def test_old_keys_still_unwrap_after_rotation() -> None:
    old = LocalKeyProvider([b"a" * 32])
    wrapped = old.wrap(b"d" * 32)
    rotated = LocalKeyProvider([b"b" * 32, b"a" * 32])
    assert rotated.key_id != old.key_id
    assert rotated.unwrap(wrapped, old.key_id) == b"d" * 32


def test_a_wrong_or_unknown_key_is_refused() -> None:
    wrapped = LocalKeyProvider([b"a" * 32]).wrap(b"d" * 32)
    other = LocalKeyProvider([b"b" * 32])
    with pytest.raises(KeyProviderError):
        other.unwrap(wrapped, other.key_id)
    with pytest.raises(KeyProviderError):
        other.unwrap(wrapped, "unknown")


def test_key_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "kek"
    path.write_text(f"# current\n{b64(b'a' * 32)}\n\n{b64(b'b' * 32)}\n")
    from_file = LocalKeyProvider.from_file(path)
    assert from_file.key_id == crypto.kek_id(b"a" * 32)
    assert load_key_provider(f"file:{path}") is not None
    monkeypatch.setenv("MY_KEK", b64(b"c" * 32))
    provider = load_key_provider("env:MY_KEK")
    assert provider is not None and provider.key_id == crypto.kek_id(b"c" * 32)
    monkeypatch.delenv(crypto.KEK_ENV, raising=False)
    monkeypatch.delenv(crypto.KEK_FILE_ENV, raising=False)
    assert load_key_provider(None) is None
    monkeypatch.setenv(crypto.KEK_FILE_ENV, str(path))
    assert load_key_provider(None) is not None


@pytest.mark.parametrize("text", ["", "not base64!", b64(b"short")])
def test_malformed_keys_are_refused(text: str) -> None:
    with pytest.raises(KeyProviderError):
        LocalKeyProvider.from_text(text)


def test_bad_specs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyProviderError):
        load_key_provider("vault:thing")
    with pytest.raises(KeyProviderError):
        load_key_provider(f"file:{tmp_path}/missing")


def test_generated_keys_load() -> None:
    assert LocalKeyProvider.from_text(crypto.generate_kek_text()).key_id


def test_ciphertext_is_bound_to_its_event() -> None:
    key = crypto.new_data_key()
    nonce, sealed = crypto.encrypt(key, b"secret", crypto.raw_aad("c", 1))
    assert crypto.decrypt(key, nonce, sealed, crypto.raw_aad("c", 1)) == b"secret"
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):
        crypto.decrypt(key, nonce, sealed, crypto.raw_aad("c", 2))
