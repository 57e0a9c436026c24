"""Signing keys: private halves 0600 on the replica, public halves published."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.access.support import Clock
from warden.access.keys import KEY_DIR, KeyRing, PublishedKeys, public_jwk, thumbprint
from warden.access.store import AccessStore


def ring(store: AccessStore, state: Path, rotation: float = 3600) -> KeyRing:
    return KeyRing(store, state, rotation=rotation, max_ttl=3600, leeway=30, owner="test")


def test_key_file_is_private_and_kid_is_the_thumbprint(store: AccessStore, tmp_path: Path) -> None:
    key = ring(store, tmp_path).current()
    assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / KEY_DIR).stat().st_mode) == 0o700
    assert key.kid == thumbprint(public_jwk(key.private.public_key()))
    published = PublishedKeys(store)
    published.reload()
    [jwk] = published.jwks()["keys"]
    assert jwk == {
        **public_jwk(key.private.public_key()),
        "kid": key.kid,
        "alg": "EdDSA",
        "use": "sig",
    }
    assert "d" not in jwk  # never the private part


def test_a_restart_keeps_the_key(store: AccessStore, tmp_path: Path) -> None:
    first = ring(store, tmp_path).current()
    again = ring(store, tmp_path).current()
    assert again.kid == first.kid


def test_rotation_keeps_the_old_public_key_until_its_tokens_expire(
    store: AccessStore, tmp_path: Path, clock: Clock
) -> None:
    keys = ring(store, tmp_path, rotation=600)
    old = keys.current()
    clock.advance(601)
    new = keys.current()
    assert new.kid != old.kid
    assert not old.path.exists()
    assert [p.name for p in (tmp_path / KEY_DIR).iterdir()] == [new.path.name]
    published = PublishedKeys(store)
    published.reload()
    assert {k["kid"] for k in published.jwks()["keys"]} == {old.kid, new.kid}
    clock.advance(old.expires_at - store.now())
    published.reload()
    assert published.get(old.kid) is None
    assert published.get(new.kid) is not None
    assert published.prune() == 1


def test_replicas_publish_to_one_key_set(store: AccessStore, tmp_path: Path) -> None:
    a = ring(store, tmp_path / "a").current()
    b = ring(store, tmp_path / "b").current()
    published = PublishedKeys(store)
    published.reload()
    assert published.get(a.kid) is not None and published.get(b.kid) is not None
