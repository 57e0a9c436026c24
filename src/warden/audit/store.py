"""Opening the audit store: engine, dialect quirks, migrations.

One URL selects the backend:

* ``sqlite:///var/warden.db`` (relative to the current directory) or
  ``sqlite:////abs/path.db``: the embedded default, in WAL mode with
  ``synchronous=NORMAL``; a ``kill -9`` of the gateway keeps every committed
  batch.
* ``postgresql://user@host/db`` (``postgresql+psycopg://`` is implied): for
  production and for several replicas writing to one database, each to its
  own chain.

The engine is synchronous. The recorder's writer thread owns the only hot
write path; readers (CLI, admin API) run queries in threads and never block
it (WAL on SQLite, MVCC on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine

from warden.audit import migrate
from warden.storage import engine as storage_engine

DEFAULT_URL = "sqlite:///var/warden.db"
STORE_ENV = "WARDEN_STORE"
STATE_DIR_ENV = "WARDEN_STATE_DIR"
DEFAULT_STATE_DIR = "var"


def now_us() -> int:
    """Microseconds since the Unix epoch: the store's one time unit."""
    return time.time_ns() // 1000


def resolve_store_url(explicit: str | None) -> str:
    """``--store`` if given, else ``$WARDEN_STORE``, else ``sqlite:///var/warden.db``."""
    return explicit or os.environ.get(STORE_ENV) or DEFAULT_URL


def resolve_state_dir(explicit: str | os.PathLike[str] | None) -> Path:
    """``--state-dir`` if given, else ``$WARDEN_STATE_DIR``, else ``var``."""
    return Path(explicit or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def instance_id_for(state_dir: Path) -> str:
    """A stable id for this gateway replica, kept in ``<state_dir>/instance-id``.

    It names the replica's chain, so a restart resumes the same chain. Give
    each replica its own state directory (or pass an explicit id): two live
    processes with one id would contend for one chain.
    """
    path = state_dir / "instance-id"
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        value = ""
    if value:
        return value
    state_dir.mkdir(parents=True, exist_ok=True)
    value = f"{socket.gethostname()}-{secrets.token_hex(4)}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def normalise_url(url: str) -> URL:
    return storage_engine.normalise_url(url, what="audit store")


def create_store_engine(url: str) -> Engine:
    return storage_engine.open_engine(url, what="audit store", pool_size=8)


class Store:
    """An open audit store: the engine plus where the local state lives."""

    def __init__(self, engine: Engine, *, state_dir: Path) -> None:
        self.engine = engine
        self.state_dir = state_dir

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT with ``on_conflict_do_nothing/do_update`` for this backend."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    @contextmanager
    def begin_write(self) -> Iterator[Connection]:
        """A write transaction that holds the write lock from its first statement."""
        with (
            self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn,
            conn.begin(),
        ):
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"


def open_store_sync(url: str, *, state_dir: Path, migrate_schema: bool = True) -> Store:
    """Open (and by default migrate) the store at ``url``."""
    engine = create_store_engine(url)
    try:
        if migrate_schema:
            migrate.upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, state_dir=Path(state_dir))


async def open_store(url: str, *, state_dir: Path) -> Store:
    """Open the store and run its migrations, off the event loop."""
    return await asyncio.to_thread(open_store_sync, url, state_dir=state_dir)
