"""Many rows into one table, fast: a compiled INSERT whose VALUES group repeats.

Written here rather than left to SQLAlchemy's ``executemany`` because the
audit writer inserts thousands of rows a second from a thread that shares
the interpreter lock with the event loop; see :class:`RowInserter`.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection, Engine


class RowInserter:
    """Runs an INSERT as multi-row ``INSERT … VALUES (…), (…), … [ON CONFLICT …]``
    on SQLite, as the driver's pipelined ``executemany`` on PostgreSQL.

    One statement per ``chunk`` rows (the rest in powers of two, so a few
    statements serve every batch size), sent straight to the driver: SQLite's
    driver releases the GIL around every statement it steps, so an
    ``executemany`` of 2,000 rows handed the GIL back and forth with the
    event loop 2,000 times per batch, and SQLAlchemy's per-row parameter
    processing cost as much again. The statement is compiled once by
    SQLAlchemy for the engine's dialect; only its VALUES group is repeated.
    Rows are tuples in ``columns`` order (no two rows of one call may hit
    the same conflict target: PostgreSQL refuses that in one statement).
    """

    _NAMED = re.compile(r"%\((\w+)\)s")

    def __init__(
        self, engine: Engine, stmt: Any, columns: Sequence[str], *, chunk: int = 500
    ) -> None:
        dialect = engine.dialect
        compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
        sql = compiled.string
        style = dialect.paramstyle
        if style == "qmark":
            names = list(compiled.positiontup or ())
        elif style == "pyformat":
            names = self._NAMED.findall(sql)
            sql = self._NAMED.sub("%s", sql)
        else:
            raise ValueError(f"unsupported DB-API parameter style {style!r}")
        at = sql.index(" VALUES (") + len(" VALUES ")
        close = sql.index(")", at) + 1
        self._head, self._row, self._tail = sql[:at], sql[at:close], sql[close:]
        if "?" in self._tail or "%s" in self._tail or sorted(names) != sorted(columns):
            raise ValueError(f"cannot repeat the VALUES of {sql!r}")
        order = [list(columns).index(name) for name in names]
        self._order = None if order == list(range(len(columns))) else order
        # SQLite before 3.32 allowed 999 parameters a statement; PostgreSQL 65,535.
        limit = 65535
        if dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 32):
            limit = 999
        self._chunk = max(1, min(chunk, limit // len(columns)))
        self._sql: dict[int, str] = {}
        # psycopg pipelines an executemany of one-row statements, which is
        # faster than one statement with thousands of bound parameters.
        self._many = dialect.name == "postgresql"

    def __call__(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        order = self._order
        if self._many:
            one = self._head + self._row + self._tail
            if order is None:
                conn.exec_driver_sql(one, [tuple(row) for row in rows])
            else:
                conn.exec_driver_sql(one, [tuple(row[i] for i in order) for row in rows])
            return
        at = 0
        for size in self._sizes(len(rows)):
            part = rows[at : at + size]
            at += size
            sql = self._sql.get(size)
            if sql is None:
                sql = self._head + ", ".join([self._row] * size) + self._tail
                self._sql[size] = sql
            if order is None:
                params = tuple(itertools.chain.from_iterable(part))
            else:
                params = tuple(row[i] for row in part for i in order)
            conn.exec_driver_sql(sql, params)

    def _sizes(self, count: int) -> list[int]:
        """How many rows each statement takes: whole chunks, then the rest
        in powers of two, largest first.

        So one inserter runs at most a dozen distinct statements however
        its batches vary in size. SQLite's driver keeps the last 128
        statements it prepared, and a prepared many-row INSERT is large: a
        batch size of its own for each batch (what a recorder's batches
        are) held tens of megabytes of prepared statements, and prepared
        a new one for almost every batch."""
        chunk = self._chunk
        sizes = [chunk] * (count // chunk)
        rest = count % chunk
        while rest:
            size = 1 << (rest.bit_length() - 1)
            sizes.append(size)
            rest -= size
        return sizes
