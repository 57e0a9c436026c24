"""Alembic environment for the audit store.

Migrations run programmatically (:func:`warden.audit.migrate.upgrade`), which
passes an open connection in ``config.attributes["connection"]``; there is no
``alembic.ini`` to find.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from warden.audit.schema import metadata

VERSION_TABLE = "audit_alembic_version"


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run audit migrations through warden.audit.migrate.upgrade()")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("the audit store has no offline (SQL script) migrations")
run_migrations_online()
