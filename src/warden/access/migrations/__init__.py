"""Alembic migrations of the access store (its own stream and version table)."""
