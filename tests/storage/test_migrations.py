"""Each component's migrations: the head each one declares, and an upgrade
that costs no Alembic once the database is current (on both backends)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.helpers.backends import BACKENDS, store_url_for
from warden.access import store as access_store
from warden.approvals import store as approvals_store
from warden.audit import migrate as audit_migrate
from warden.storage import migrations
from warden.storage.engine import open_engine

STREAMS = {
    "audit": audit_migrate.STREAM,
    "access": access_store.STREAM,
    "approvals": approvals_store.STREAM,
}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_url_for(request.param, tmp_path) as made:
        yield made


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    made = open_engine(url)
    try:
        yield made
    finally:
        made.dispose()


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_the_declared_head_is_alembics(name: str) -> None:
    stream = STREAMS[name]
    assert stream.head == migrations.head_revision(stream.migrations)


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_a_stream_is_at_head_only_once_upgraded(engine: Engine, name: str) -> None:
    stream = STREAMS[name]
    assert not migrations.at_head(engine, stream)
    migrations.upgrade(engine, stream)
    assert migrations.at_head(engine, stream)
    assert migrations.current_revision(engine, stream.version_table) == stream.head
    migrations.upgrade(engine, stream)  # current: nothing to do
    assert migrations.current_revision(engine, stream.version_table) == stream.head


def test_a_version_row_other_than_the_head_is_not_current(engine: Engine) -> None:
    stream = audit_migrate.STREAM
    migrations.upgrade(engine, stream)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {stream.version_table} SET version_num = 'elsewhere'"))
    assert not migrations.at_head(engine, stream)


def test_reopening_a_current_store_imports_no_alembic(
    engine: Engine, url: str, tmp_path: Path
) -> None:
    for stream in STREAMS.values():
        migrations.upgrade(engine, stream)
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from warden.access.store import open_access_store
        from warden.approvals.store import ApprovalStore
        from warden.audit.store import open_store_sync

        store = open_store_sync({url!r}, state_dir=Path({str(tmp_path)!r}))
        open_access_store({url!r}).close()
        ApprovalStore(store.engine).migrate()
        store.close()
        print(sorted(name for name in sys.modules if name.split(".")[0] == "alembic"))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
