"""Alembic environment for the access store.

Migrations run programmatically (:func:`warden.access.store.upgrade`), which
passes an open connection in ``config.attributes["connection"]``. The version
table is the access store's own, so this stream never collides with the
audit store's migrations in the same database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from warden.access.schema import metadata

VERSION_TABLE = "warden_access_alembic_version"


def _ours(name: str | None, type_: str, parent_names: object) -> bool:
    """Only the access_* tables are this stream's; the audit store's are not."""
    return type_ != "table" or str(name).startswith("access_")


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run access migrations through warden.access.store.upgrade()")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        include_name=lambda name, type_, parent: (
            type_ != "table" or str(name).startswith("access_")
        ),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("the access store has no offline (SQL script) migrations")
run_migrations_online()
