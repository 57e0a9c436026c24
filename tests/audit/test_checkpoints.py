from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from warden.audit.checkpoints import (
    KEY_FILE,
    Checkpoint,
    SigningKeyError,
    load_or_create_signer,
    load_public_pem,
    load_trusted_keys,
)


def test_the_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    signer = load_or_create_signer(tmp_path / "state")
    path = tmp_path / "state" / KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_or_create_signer(tmp_path / "state")
    assert again.key_id == signer.key_id


def test_a_readable_key_file_is_refused(tmp_path: Path) -> None:
    load_or_create_signer(tmp_path)
    os.chmod(tmp_path / KEY_FILE, 0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_or_create_signer(tmp_path)


def test_sign_and_verify(tmp_path: Path) -> None:
    signer = load_or_create_signer(tmp_path)
    point = Checkpoint.sign(signer, "gw-1", 10, "ab" * 32, 123)
    public = load_public_pem(signer.public_pem)
    assert point.verify(public)
    assert Checkpoint.from_record(point.as_record()) == point
    for changed in (
        Checkpoint("gw-2", 10, point.hash, 123, point.key_id, point.signature),
        Checkpoint("gw-1", 11, point.hash, 123, point.key_id, point.signature),
        Checkpoint("gw-1", 10, "cd" * 32, 123, point.key_id, point.signature),
        Checkpoint("gw-1", 10, point.hash, 124, point.key_id, point.signature),
        Checkpoint("gw-1", 10, point.hash, 123, point.key_id, "bm90IGEgc2ln"),
    ):
        assert not changed.verify(public)
    assert not point.verify(Ed25519PrivateKey.generate().public_key())


def test_trusted_keys_from_public_and_private_pem(tmp_path: Path) -> None:
    signer = load_or_create_signer(tmp_path)
    from_private = load_trusted_keys(tmp_path / KEY_FILE)
    public_file = tmp_path / "keys.pem"
    other = load_or_create_signer(tmp_path / "other")
    public_file.write_text(signer.public_pem + other.public_pem)
    from_public = load_trusted_keys(public_file)
    assert set(from_private) == {signer.key_id}
    assert set(from_public) == {signer.key_id, other.key_id}
    empty = tmp_path / "empty.pem"
    empty.write_text("nothing")
    with pytest.raises(SigningKeyError):
        load_trusted_keys(empty)
