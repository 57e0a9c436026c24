"""Running one component's Alembic migrations from code.

Each component of the store (audit, approvals, access) keeps its own
migration stream and version table, so they evolve independently in one
database. Every process that opens the store upgrades it; concurrent starts
are serialised by a PostgreSQL advisory lock or SQLite's write lock.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine


def lock_key(name: str) -> int:
    """A stable advisory-lock key for a component (8 bytes of its name)."""
    return int.from_bytes(name.encode()[:8].ljust(8, b"_"), "big", signed=True)


def alembic_config(migrations: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    return config


def head_revision(migrations: Path) -> str | None:
    return ScriptDirectory.from_config(alembic_config(migrations)).get_current_head()


def current_revision(engine: Engine, version_table: str) -> str | None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": version_table})
        return context.get_current_revision()


def upgrade(engine: Engine, migrations: Path, *, lock: str, revision: str = "head") -> None:
    config = alembic_config(migrations)
    with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(lock)})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def connection_from(config: Config, component: str) -> Connection:
    connection = config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(f"run the {component} migrations through warden.storage.migrations")
    return connection
