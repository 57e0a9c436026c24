"""Running one component's Alembic migrations from code.

Each component of the store (audit, approvals, access) keeps its own
migration stream and version table, so they evolve independently in one
database. Every process that opens the store upgrades it; concurrent starts
are serialised by a PostgreSQL advisory lock or SQLite's write lock.

When a stream is already at its head (every start but the first) the
upgrade is one query and no Alembic at all: Alembic and its script
machinery take about 11 MB of memory that a long-running gateway would
keep for nothing, so it is imported only when there is something to migrate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config


@dataclass(frozen=True, slots=True)
class Stream:
    """One component's migrations."""

    migrations: Path
    version_table: str
    head: str
    """The newest revision in ``migrations/versions`` (each component's
    tests hold it to Alembic's head)."""
    lock: str
    """Names the PostgreSQL advisory lock (its first 8 bytes)."""


def lock_key(name: str) -> int:
    """A stable advisory-lock key for a component (8 bytes of its name)."""
    return int.from_bytes(name.encode()[:8].ljust(8, b"_"), "big", signed=True)


def alembic_config(migrations: Path) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations))
    return config


def head_revision(migrations: Path) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(migrations)).get_current_head()


def current_revision(engine: Engine, version_table: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": version_table})
        return context.get_current_revision()


def at_head(engine: Engine, stream: Stream) -> bool:
    """Whether ``stream`` is at its head, read without Alembic (a database
    without the stream's version table is not)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT version_num FROM {stream.version_table}")).all()
    except DBAPIError:  # no such table: the stream never ran here
        return False
    return [tuple(row) for row in rows] == [(stream.head,)]


def upgrade(engine: Engine, stream: Stream, *, revision: str = "head") -> None:
    """Bring ``stream`` to ``revision`` (default: its head)."""
    if revision in ("head", stream.head) and at_head(engine, stream):
        return
    from alembic import command

    config = alembic_config(stream.migrations)
    with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(stream.lock)})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def connection_from(config: Config, component: str) -> Connection:
    connection = config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(f"run the {component} migrations through warden.storage.migrations")
    return connection
