"""Vaults and the at-rest cipher."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from warden.detect.vault import TOKEN, MemoryVault, MemoryVaults, VaultCipher


def test_cipher_round_trip_and_binding() -> None:
    cipher = VaultCipher.generate()
    sealed = cipher.seal("hunter2 \ud800", name="t:a:1")
    assert b"hunter2" not in sealed
    assert cipher.open(sealed, name="t:a:1") == "hunter2 \ud800"
    with pytest.raises(InvalidTag):
        cipher.open(sealed, name="t:a:2")  # moved to another entry
    with pytest.raises(InvalidTag):
        cipher.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), name="t:a:1")
    with pytest.raises(InvalidTag):
        VaultCipher.generate().open(sealed, name="t:a:1")
    assert cipher.seal("x", name="n") != cipher.seal("x", name="n")  # fresh nonce


def test_cipher_needs_a_256_bit_key() -> None:
    with pytest.raises(ValueError):
        VaultCipher(b"short")


@pytest.mark.parametrize("cipher", [None, VaultCipher.generate()])
def test_memory_vault_tokens(cipher: VaultCipher | None) -> None:
    vault = MemoryVault(cipher=cipher)
    token = vault.tokenize("aws-key", "AKIAEXAMPLE")
    assert token == vault.tokenize("aws-key", "AKIAEXAMPLE")
    assert token != vault.tokenize("aws-key", "AKIAOTHER")
    match = TOKEN.fullmatch(token)
    assert match is not None
    assert vault.lookup(match.group(1), match.group(2)) == "AKIAEXAMPLE"
    assert vault.lookup("other-rule", match.group(2)) is None
    if cipher is not None:
        assert all(isinstance(v, bytes) for v in vault._values.values())


def test_token_ids_depend_on_the_vault_key() -> None:
    assert MemoryVault().tokenize("r", "v") != MemoryVault().tokenize("r", "v")
    assert MemoryVault(key=b"1" * 32).tokenize("r", "v") == MemoryVault(key=b"1" * 32).tokenize(
        "r", "v"
    )


def test_thinking_is_kept_by_its_masked_text() -> None:
    vault = MemoryVault()
    vault.remember_thinking("masked [REDACTED:x]", "original sk-secret")
    assert vault.recall_thinking("masked [REDACTED:x]") == "original sk-secret"
    assert vault.recall_thinking("something else") is None


def test_memory_vault_is_bounded() -> None:
    vault = MemoryVault(max_entries=3)
    tokens = [vault.tokenize("r", str(i)) for i in range(5)]
    assert len(vault) == 3
    first = TOKEN.fullmatch(tokens[0])
    assert first is not None and vault.lookup("r", first.group(2)) is None


def test_vaults_per_session_are_separate_and_bounded() -> None:
    vaults = MemoryVaults(max_sessions=2)
    a = vaults.for_session("a")
    assert vaults.for_session("a") is a
    assert vaults.for_session("b") is not a
    vaults.for_session("c")
    assert vaults.for_session("a") is not a  # evicted
