"""RowInserter: many rows in few statements, the same rows on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from tests.helpers.backends import BACKENDS, store_url_for
from warden.storage.engine import open_engine
from warden.storage.rows import RowInserter

metadata = MetaData()
items = Table(
    "rows_test_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("hits", Integer, nullable=False),
)


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with store_url_for(request.param, tmp_path) as url:
        made = open_engine(url)
        metadata.create_all(made)
        try:
            yield made
        finally:
            metadata.drop_all(made)
            made.dispose()


def insert_into(engine: Engine) -> postgresql.Insert | sqlite.Insert:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(items)


def upsert(engine: Engine) -> object:
    stmt = insert_into(engine)
    return stmt.on_conflict_do_update(
        index_elements=["id"], set_={"hits": items.c.hits + stmt.excluded.hits}
    )


def stored(engine: Engine) -> list[tuple[int, str, int]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(items).order_by(items.c.id))]


def test_rows_in_chunks_land_whole_in_any_column_order(engine: Engine) -> None:
    # Columns given in another order than the table's, and a chunk that
    # leaves a short last statement.
    insert = RowInserter(engine, items.insert(), ("name", "hits", "id"), chunk=2)
    with engine.begin() as conn:
        insert(conn, [(f"n{i}", i * 10, i) for i in range(1, 6)])
    assert stored(engine) == [(i, f"n{i}", i * 10) for i in range(1, 6)]


def test_batches_of_every_size_share_a_few_statements(engine: Engine) -> None:
    # The driver caches the statements it prepares: one per batch size
    # would hold a large prepared INSERT for each size a recorder meets.
    statements: set[str] = set()

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.add(statement)

    insert = RowInserter(engine, items.insert(), ("id", "name", "hits"), chunk=500)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        first = 1
        for count in (*range(1, 40), 255, 256, 499, 500, 501, 777, 1000, 1234):
            with engine.begin() as conn:
                insert(conn, [(i, f"n{i}", i) for i in range(first, first + count)])
            first += count
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    inserts = {s for s in statements if s.lstrip().upper().startswith("INSERT")}
    assert len(inserts) <= 10  # 500, then 256, 128, ..., 1
    assert [row[0] for row in stored(engine)] == list(range(1, first))


def test_an_upsert_keeps_its_conflict_clause(engine: Engine) -> None:
    insert = RowInserter(engine, upsert(engine), ("id", "name", "hits"), chunk=500)
    with engine.begin() as conn:
        insert(conn, [(1, "a", 1), (2, "b", 1)])
    with engine.begin() as conn:
        insert(conn, [(2, "b", 5), (3, "c", 1)])
    assert stored(engine) == [(1, "a", 1), (2, "b", 6), (3, "c", 1)]


def test_a_statement_with_parameters_past_its_values_is_refused(engine: Engine) -> None:
    # A bound value in the ON CONFLICT clause would be numbered wrongly
    # once the VALUES group repeats.
    bumped = insert_into(engine).on_conflict_do_update(
        index_elements=["id"], set_={"hits": items.c.hits + 1}
    )
    with pytest.raises(ValueError, match="cannot repeat"):
        RowInserter(engine, bumped, ("id", "name", "hits"))
