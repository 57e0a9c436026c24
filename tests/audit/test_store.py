from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from warden.audit import migrate
from warden.audit.schema import metadata
from warden.audit.store import (
    DEFAULT_URL,
    Store,
    instance_id_for,
    normalise_url,
    open_store,
    open_store_sync,
    resolve_store_url,
)


def test_migrations_reach_head(store: Store) -> None:
    assert migrate.current_revision(store.engine) == migrate.head_revision()


def test_migrated_schema_matches_the_metadata(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": migrate.VERSION_TABLE})
        diff = [
            change
            for change in compare_metadata(context, metadata)
            if not (isinstance(change, tuple) and change[0] == "remove_table")
        ]
    assert diff == []


def test_reopening_is_idempotent(store_url: str, state_dir: Path) -> None:
    for _ in range(2):
        reopened = open_store_sync(store_url, state_dir=state_dir)
        assert migrate.current_revision(reopened.engine) == migrate.head_revision()
        reopened.close()


async def test_open_store_is_async(store_url: str, state_dir: Path) -> None:
    opened = await open_store(store_url, state_dir=state_dir)
    try:
        with opened.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 0
    finally:
        opened.close()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    opened = open_store_sync(f"sqlite:///{tmp_path}/a/b/warden.db", state_dir=tmp_path)
    try:
        with opened.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        opened.close()
    assert (tmp_path / "a" / "b" / "warden.db").exists()


def test_a_new_sqlite_store_has_16k_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as made:  # made by an earlier release: 4 KiB pages
        made.execute("PRAGMA page_size=4096")
        made.execute("PRAGMA journal_mode=WAL")
        made.execute("CREATE TABLE t (x)")
    for path, size in ((tmp_path / "new.db", 16384), (old, 4096)):
        opened = open_store_sync(f"sqlite:///{path}", state_dir=tmp_path)
        try:
            with opened.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA page_size").scalar() == size
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        finally:
            opened.close()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///var/warden.db", "sqlite"),
    ],
)
def test_normalise_url(url: str, driver: str) -> None:
    assert normalise_url(url).drivername == driver


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://u@h/db"])
def test_normalise_url_refuses(url: str) -> None:
    with pytest.raises(ValueError):
        normalise_url(url)


def test_resolve_store_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WARDEN_STORE", raising=False)
    assert resolve_store_url(None) == DEFAULT_URL
    monkeypatch.setenv("WARDEN_STORE", "postgresql://x@y/z")
    assert resolve_store_url(None) == "postgresql://x@y/z"
    assert resolve_store_url("sqlite:///other.db") == "sqlite:///other.db"


def test_instance_id_is_created_once(tmp_path: Path) -> None:
    first = instance_id_for(tmp_path / "state")
    assert first == instance_id_for(tmp_path / "state")
    assert first == (tmp_path / "state" / "instance-id").read_text().strip()
    assert first != instance_id_for(tmp_path / "other")


def test_store_repr_hides_the_password(tmp_path: Path) -> None:
    engine = create_engine("postgresql+psycopg://u:secret@h/db")
    assert "secret" not in repr(Store(engine, state_dir=tmp_path))
    engine.dispose()
