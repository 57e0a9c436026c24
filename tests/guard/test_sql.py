from __future__ import annotations

import pytest

from warden.guard.model import Findings, Origin, ProblemCode, SqlStatement
from warden.guard.sql import analyze_sql


def statements(text: str, dialect: str | None = None) -> list[SqlStatement]:
    out = Findings()
    analyze_sql(text, out, Origin(), dialect=dialect)
    return [f for f in out.facts if isinstance(f, SqlStatement)]


CASES = [
    # (sql, (statement, object_kind, has_where, alter_actions))
    ("SELECT 1", ("select", None, None, ())),
    ("DROP TABLE users", ("drop", "table", None, ())),
    ("drop schema s cascade", ("drop", "schema", None, ())),
    ("TRUNCATE t", ("truncate", "table", None, ())),
    ("DELETE FROM t", ("delete", None, False, ())),
    ("DELETE FROM t WHERE id = 1", ("delete", None, True, ())),
    ("DELETE FROM t WHERE 1 = 1", ("delete", None, False, ())),
    ("DELETE FROM t WHERE true OR id = 1", ("delete", None, False, ())),
    ("UPDATE t SET a = 1", ("update", None, False, ())),
    ("UPDATE t SET a = 1 WHERE id = 1", ("update", None, True, ())),
    ("ALTER TABLE t DROP COLUMN c", ("alter", "table", None, ("drop_column",))),
    ("ALTER TABLE t ADD COLUMN c int", ("alter", "table", None, ("add_column",))),
    ("GRANT ALL ON t TO bob", ("grant", None, None, ())),
    ("REVOKE ALL ON t FROM bob", ("revoke", None, None, ())),
]


@pytest.mark.parametrize(("sql", "expected"), CASES, ids=[c[0] for c in CASES])
def test_statements(sql: str, expected: tuple[object, ...]) -> None:
    [fact] = statements(sql)
    assert (fact.statement, fact.object_kind, fact.has_where, fact.alter_actions) == expected
    assert not fact.approximate


def test_several_statements_and_nested_ones() -> None:
    kinds = [s.statement for s in statements("SELECT 1; DROP TABLE a; DELETE FROM b")]
    assert kinds == ["select", "drop", "delete"]
    nested = statements("WITH gone AS (DELETE FROM t RETURNING id) SELECT * FROM gone")
    assert ("delete", False) in [(s.statement, s.has_where) for s in nested]


def test_string_literals_are_data() -> None:
    assert [s.statement for s in statements("SELECT 'DROP TABLE users; DELETE FROM t'")] == [
        "select"
    ]


def test_opaque_commands_get_a_keyword_scan() -> None:
    found = statements("DO $$ BEGIN DELETE FROM audit; DROP TABLE x; END $$")
    approximate = [(s.statement, s.object_kind, s.has_where) for s in found if s.approximate]
    assert ("drop", "table", None) in approximate
    assert ("delete", None, False) in approximate


def test_dialect_hint_and_fallback() -> None:
    assert [s.statement for s in statements("DELETE t FROM t", dialect="mysql")] == ["delete"]


def test_unparsable_sql_is_a_problem_with_approximate_facts() -> None:
    out = Findings()
    analyze_sql("DROP TABLE ((( users", out, Origin())
    assert [p.code for p in out.problems] == [ProblemCode.UNPARSABLE]
    assert [(f.statement, f.approximate) for f in out.facts if isinstance(f, SqlStatement)] == [
        ("drop", True)
    ]
