"""Alembic environment for the approvals table (run from code only)."""

from __future__ import annotations

from alembic import context

from warden.approvals.schema import VERSION_TABLE, metadata
from warden.storage.migrations import connection_from

if context.is_offline_mode():
    raise RuntimeError("the approvals table has no offline (SQL script) migrations")
connection = connection_from(context.config, "approvals")
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
