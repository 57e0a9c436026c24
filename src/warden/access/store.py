"""Opening the access store: engine, migrations, and the one clock.

The access store shares the database with the audit store (by default the
SQLite file ``<state_dir>/warden.db``) but owns its tables (``access_*``)
and its Alembic stream, recorded in ``warden_access_alembic_version``.

* ``sqlite:///path/warden.db``: the embedded default, WAL mode.
* ``postgresql://user@host/db``: production and several replicas. Every
  replica reads revocations, signing keys and grants from it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine

from warden.storage import engine as storage_engine
from warden.storage import migrations

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "warden_access_alembic_version"
STREAM = migrations.Stream(MIGRATIONS, VERSION_TABLE, head="access_0001", lock="wardenac")

Clock = Callable[[], float]
"""Seconds since the epoch. Everything in ``warden.access`` takes time from one."""

T = TypeVar("T")


def system_clock() -> float:
    return time.time()


def normalise_url(url: str) -> URL:
    return storage_engine.normalise_url(url, what="access store")


def create_access_engine(url: str) -> Engine:
    return storage_engine.open_engine(url, what="access store", pool_size=4)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the access tables to ``revision``; concurrent starts are serialised."""
    migrations.upgrade(engine, STREAM, revision=revision)


def current_revision(engine: Engine) -> str | None:
    return migrations.current_revision(engine, VERSION_TABLE)


class AccessStore:
    """The open access store. Synchronous; the service calls it in threads."""

    def __init__(self, engine: Engine, clock: Clock = system_clock) -> None:
        self.engine = engine
        self.clock = clock

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def now(self) -> int:
        return int(self.clock())

    def insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT with ``on_conflict_do_nothing`` for this backend."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def insert_new(self, conn: Connection, table: Table, **values: Any) -> bool:
        """Insert a row unless its primary key exists; ``True`` if this call inserted it.

        (``rowcount`` of ``ON CONFLICT DO NOTHING`` is not reliable across
        drivers, so the answer comes from ``RETURNING``.)
        """
        key = next(iter(table.primary_key.columns))
        statement = self.insert(table).values(**values).on_conflict_do_nothing().returning(key)
        return conn.execute(statement).first() is not None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction that holds the write lock from its first statement."""
        with (
            self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn,
            conn.begin(),
        ):
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """Run a blocking store call off the event loop."""
        return await asyncio.to_thread(func, *args)

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"AccessStore({self.engine.url.render_as_string(hide_password=True)!r})"


def open_access_store(
    url: str, *, clock: Clock = system_clock, migrate: bool = True
) -> AccessStore:
    """Open (and by default migrate) the access store at ``url``."""
    engine = create_access_engine(url)
    try:
        if migrate:
            upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return AccessStore(engine, clock)


def default_store_url(state_dir: Path) -> str:
    return f"sqlite:///{state_dir / 'warden.db'}"


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def loads_list(value: str | None) -> list[str]:
    if not value:
        return []
    data = json.loads(value)
    return [str(item) for item in data] if isinstance(data, list) else []
