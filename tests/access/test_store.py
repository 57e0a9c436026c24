"""The access store: its own migration stream, beside the audit store's."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from warden.access import schema
from warden.access.store import (
    VERSION_TABLE,
    current_revision,
    normalise_url,
    open_access_store,
)
from warden.audit.store import open_store_sync


def test_migrations_create_exactly_the_schema(store_url: str) -> None:
    store = open_access_store(store_url)
    try:
        assert current_revision(store.engine) == "access_0001"
        with store.engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_name": lambda name, type_, parent: (
                        type_ != "table" or str(name).startswith("access_")
                    )
                },
            )
            assert compare_metadata(context, schema.metadata) == []
            tables = set(inspect(conn).get_table_names())
        assert VERSION_TABLE in tables
        assert {t for t in tables if t.startswith("access_")} == set(schema.metadata.tables)
    finally:
        store.close()


def test_opening_twice_is_a_no_op(store_url: str) -> None:
    open_access_store(store_url).close()
    store = open_access_store(store_url)
    try:
        assert current_revision(store.engine) == "access_0001"
    finally:
        store.close()


def test_shares_a_database_with_the_audit_store(store_url: str, tmp_path: Path) -> None:
    audit = open_store_sync(store_url, state_dir=tmp_path)
    access = open_access_store(store_url)
    try:
        with access.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
        assert "audit_alembic_version" in tables
        assert VERSION_TABLE in tables
        assert current_revision(access.engine) == "access_0001"
    finally:
        access.close()
        audit.close()


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "mysql://x@y/z", "sqlite:///file:x?mode=memory"]
)
def test_refuses_stores_it_cannot_keep(url: str) -> None:
    with pytest.raises(ValueError):
        normalise_url(url)
