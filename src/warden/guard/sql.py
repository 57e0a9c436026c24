"""SQL analysis with sqlglot: what each statement does, not what it looks like.

The text is parsed with the dialect hint (from the client: ``mysql -e``,
``sqlite3``...), then PostgreSQL, then sqlglot's generic dialect. Each
statement, and each data-changing statement nested in it (a ``DELETE`` inside a
``WITH``), becomes a :class:`SqlStatement`. A ``WHERE`` that is always true
(``WHERE 1=1``, ``WHERE true``) counts as no ``WHERE``.

Text no dialect can parse, and statements sqlglot only knows as an opaque
command (``DO $$ ... $$``, ``DROP OWNED``), get a keyword scan that finds
``DROP``, ``TRUNCATE``, ``DELETE``, ``UPDATE``, ``GRANT``, ``REVOKE`` and
``ALTER ... DROP`` and reports them as approximate; unparsable text is also a
:class:`Problem`, so the pack's fail-safe action applies.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import sqlglot
from sqlglot import exp

from warden.guard.model import Findings, Origin, ProblemCode, SqlStatement

# sqlglot logs the statement text when it falls back to an opaque command;
# that text may hold secrets and nothing unmasked is logged.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

_FALLBACK_DIALECTS = ("postgres", "")

_STRINGS_AND_COMMENTS = re.compile(r"'(?:[^']|'')*'|\$([A-Za-z_]*)\$|--[^\n]*|/\*.*?\*/", re.DOTALL)
_KEYWORDS = (
    (re.compile(r"\bDROP\s+(?:TEMP(?:ORARY)?\s+)?([A-Z_]+)", re.I), "drop"),
    (re.compile(r"\bTRUNCATE\b", re.I), "truncate"),
    (re.compile(r"\bDELETE\s+FROM\b", re.I), "delete"),
    (re.compile(r"\bUPDATE\s+\S+\s+SET\b", re.I), "update"),
    (re.compile(r"\bGRANT\b", re.I), "grant"),
    (re.compile(r"\bREVOKE\b", re.I), "revoke"),
    (re.compile(r"\bALTER\s+TABLE\b[^;]*?\bDROP\s+(COLUMN|CONSTRAINT)?", re.I), "alter"),
)
_WHERE = re.compile(r"\bWHERE\b", re.I)


def analyze_sql(text: str, out: Findings, origin: Origin, *, dialect: str | None = None) -> None:
    statements = _parse(text, dialect)
    if statements is None:
        out.problem(ProblemCode.UNPARSABLE, "SQL the parser could not parse", origin)
        _keyword_scan(text, out, origin)
        return
    for statement in statements:
        if statement is not None:
            _statement(statement, out, origin)


def _parse(text: str, dialect: str | None) -> list[Any] | None:
    tried: list[str] = []
    for candidate in (dialect or "", *_FALLBACK_DIALECTS):
        if candidate in tried:
            continue
        tried.append(candidate)
        try:
            return list(sqlglot.parse(text, read=candidate or None))
        except Exception:
            continue
    return None


def _statement(root: Any, out: Findings, origin: Origin) -> None:
    if isinstance(root, exp.Command):
        keyword = str(root.this or "").strip().lower()
        out.facts.append(SqlStatement(statement=keyword or "command", origin=origin))
        _keyword_scan(root.sql(), out, origin)
        return
    seen = False
    for node in root.walk():
        fact = _describe(node, origin)
        if fact is not None:
            out.facts.append(fact)
            seen = seen or node is root
    if not seen:
        out.facts.append(
            SqlStatement(statement=type(root).__name__.lower(), origin=origin, tables=_tables(root))
        )


def _describe(node: Any, origin: Origin) -> SqlStatement | None:
    if isinstance(node, exp.Drop):
        if isinstance(node.parent, exp.Alter):
            return None
        kind = str(node.args.get("kind") or "").lower() or None
        return SqlStatement("drop", object_kind=kind, tables=_tables(node), origin=origin)
    if isinstance(node, exp.TruncateTable):
        return SqlStatement("truncate", object_kind="table", tables=_tables(node), origin=origin)
    if isinstance(node, exp.Delete | exp.Update):
        where = node.args.get("where")
        has_where = where is not None and not _always_true(where.this)
        return SqlStatement(
            "delete" if isinstance(node, exp.Delete) else "update",
            has_where=has_where,
            tables=_tables(node),
            origin=origin,
        )
    if isinstance(node, exp.Alter):
        kind = str(node.args.get("kind") or "").lower() or None
        actions = tuple(_alter_action(a) for a in node.args.get("actions") or ())
        return SqlStatement(
            "alter", object_kind=kind, alter_actions=actions, tables=_tables(node), origin=origin
        )
    if isinstance(node, exp.Grant):
        return SqlStatement("grant", origin=origin)
    if isinstance(node, exp.Revoke):
        return SqlStatement("revoke", origin=origin)
    if isinstance(node, exp.Select | exp.Insert | exp.Create | exp.Merge) and node.parent is None:
        kind = str(node.args.get("kind") or "").lower() or None
        name = type(node).__name__.lower()
        return SqlStatement(name, object_kind=kind, tables=_tables(node), origin=origin)
    return None


def _alter_action(action: Any) -> str:
    if isinstance(action, exp.Drop):
        return "drop_" + str(action.args.get("kind") or "column").lower()
    if isinstance(action, exp.ColumnDef):
        return "add_column"
    name = type(action).__name__
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _tables(node: Any) -> tuple[str, ...]:
    names = []
    for table in node.find_all(exp.Table):
        name = table.name
        if name and name not in names:
            names.append(name)
    return tuple(names)


def _always_true(condition: Any) -> bool:
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.Boolean):
        return bool(condition.this)
    if isinstance(condition, exp.Literal):
        return not condition.is_string and condition.this not in ("0", "0.0")
    if isinstance(condition, exp.EQ | exp.Is):
        left, right = condition.this, condition.expression
        return (
            isinstance(left, exp.Literal)
            and isinstance(right, exp.Literal)
            and left.sql() == right.sql()
        )
    if isinstance(condition, exp.Or):
        return _always_true(condition.this) or _always_true(condition.expression)
    return False


def _keyword_scan(text: str, out: Findings, origin: Origin) -> None:
    """Approximate facts for SQL the parser cannot take apart."""
    cleaned = _STRINGS_AND_COMMENTS.sub(" ", text)
    for chunk in cleaned.split(";"):
        for pattern, statement in _KEYWORDS:
            for match in pattern.finditer(chunk):
                if statement == "drop":
                    out.facts.append(
                        SqlStatement(
                            "drop",
                            object_kind=match.group(1).lower(),
                            approximate=True,
                            origin=origin,
                        )
                    )
                elif statement in ("delete", "update"):
                    has_where = _WHERE.search(chunk, match.end()) is not None
                    out.facts.append(
                        SqlStatement(
                            statement, has_where=has_where, approximate=True, origin=origin
                        )
                    )
                elif statement == "alter":
                    action = "drop_" + (match.group(1) or "column").lower()
                    out.facts.append(
                        SqlStatement(
                            "alter",
                            object_kind="table",
                            alter_actions=(action,),
                            approximate=True,
                            origin=origin,
                        )
                    )
                else:
                    out.facts.append(SqlStatement(statement, approximate=True, origin=origin))
