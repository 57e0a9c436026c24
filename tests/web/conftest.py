"""The store fixtures of the audit tests (every storage test runs on SQLite and PostgreSQL)."""

from tests.audit.conftest import backend, state_dir, store, store_url

__all__ = ["backend", "state_dir", "store", "store_url"]
