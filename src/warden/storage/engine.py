"""Opening the store's database: one recipe for every component.

SQLite gets WAL, ``synchronous=NORMAL``, a busy timeout, and transaction
control taken over from the ``sqlite3`` module (SQLAlchemy's recipe), so DDL
is transactional and ``BEGIN IMMEDIATE`` is possible through the
``sqlite_begin`` execution option. PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url


def normalise_url(url: str, *, what: str = "store") -> URL:
    """The URL with psycopg 3 as the PostgreSQL driver; refuses anything that
    cannot hold the store (other databases, SQLite in memory)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported {what} {backend!r}: use sqlite:/// or postgresql://")
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise ValueError(f"the {what} needs an SQLite file: sqlite:///path/to/warden.db")
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # Takes effect only when the file is created (before WAL writes its
        # first page): 16 KiB pages take a quarter of the WAL frames, and so
        # of the writes, that 4 KiB pages take for the audit writer's batches.
        cursor.execute("PRAGMA page_size=16384")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def open_engine(url: str, *, what: str = "store", pool_size: int = 8) -> Engine:
    parsed = normalise_url(url, what=what)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)
