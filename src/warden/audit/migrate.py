"""The audit store's Alembic migrations (see :mod:`warden.storage.migrations`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from warden.storage import migrations

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "audit_alembic_version"
STREAM = migrations.Stream(MIGRATIONS, VERSION_TABLE, head="0001", lock="wardenau")


def head_revision() -> str | None:
    return migrations.head_revision(MIGRATIONS)


def current_revision(engine: Engine) -> str | None:
    return migrations.current_revision(engine, VERSION_TABLE)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest)."""
    migrations.upgrade(engine, STREAM, revision=revision)
