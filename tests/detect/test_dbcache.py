"""The on-disk cache of compiled hyperscan databases: hits, misses, damage, pruning."""

from __future__ import annotations

from pathlib import Path

import pytest

from warden.detect import dbcache
from warden.detect.backends import HyperscanPass

PATTERNS = [r"ghp_[A-Za-z0-9]{8}", r"(?i)token=[a-z0-9]{4}\z"]
TEXT = b"x ghp_abcdEFGH1 and TOKEN=ab12"


def ends(cache_dir: Path | None) -> dict[int, list[int]]:
    return HyperscanPass(PATTERNS, [0, 1], cache_dir=cache_dir).ends(TEXT)


def test_a_cached_database_finds_what_a_compiled_one_does(tmp_path: Path) -> None:
    fresh = ends(None)
    assert fresh == {0: [14], 1: [len(TEXT)]}
    assert ends(tmp_path) == fresh  # compiled, then stored
    assert len(list(tmp_path.glob("hs-*.db"))) == 1
    assert ends(tmp_path) == fresh  # loaded


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # cut short
        lambda raw: raw[:-10] + bytes(10),  # payload changed
        lambda raw: b"not a database",
    ],
)
def test_a_damaged_file_is_compiled_again(tmp_path: Path, damage: object) -> None:
    ends(tmp_path)
    [path] = tmp_path.glob("hs-*.db")
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    assert ends(tmp_path) == ends(None)
    assert dbcache.load(tmp_path, path.stem[3:], bytes) is not None  # rewritten whole


def test_an_unusable_directory_means_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert ends(blocker / "sub") == ends(None)  # cannot create it: compiled, nothing stored


def test_keys_cover_what_the_database_is_built_from() -> None:
    base = dbcache.key("block", PATTERNS, [0, 1], "v1")
    assert base == dbcache.key("block", list(PATTERNS), (0, 1), "v1")
    assert base != dbcache.key("block", PATTERNS, [1, 0], "v1")
    assert base != dbcache.key("block", PATTERNS[::-1], [0, 1], "v1")
    assert base != dbcache.key("block", PATTERNS, [0, 1], "v2")


def test_old_databases_are_pruned(tmp_path: Path) -> None:
    for n in range(dbcache._KEEP + 3):
        dbcache.store(tmp_path, f"k{n}", b"payload")
    assert len(list(tmp_path.glob("hs-*.db"))) == dbcache._KEEP


def test_where_the_cache_lives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WARDEN_CACHE_DIR", str(tmp_path))
    assert dbcache.default_dir() == tmp_path
    monkeypatch.setenv("WARDEN_CACHE_DIR", "")
    assert dbcache.default_dir() is None
    monkeypatch.delenv("WARDEN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert dbcache.default_dir() == tmp_path / "warden"
