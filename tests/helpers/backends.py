"""Storage backends for tests: every storage test runs on SQLite and PostgreSQL.

PostgreSQL comes from ``$WARDEN_TEST_PG_URL`` (default the local server,
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each test gets its
own schema (``search_path`` in the URL), dropped afterwards, so parallel runs
never collide. An unreachable server fails the test, never skips it: run
``scripts/ensure-postgres.sh`` and export the URL it prints.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

PG_URL_ENV = "WARDEN_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


def pg_base_url() -> str:
    url = os.environ.get(PG_URL_ENV) or DEFAULT_PG_URL
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@contextmanager
def store_url_for(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/warden.db"
        return
    base = pg_base_url()
    schema = f"warden_test_{uuid.uuid4().hex[:16]}"
    engine = create_engine(base, poolclass=NullPool)
    problem = ""
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        problem = str(exc.orig).strip().splitlines()[0]
    if problem:
        engine.dispose()
        pytest.fail(
            f"PostgreSQL at {base} is unreachable ({problem}). Run "
            f"scripts/ensure-postgres.sh and export {PG_URL_ENV}=<the URL it prints>.",
            pytrace=False,
        )
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
