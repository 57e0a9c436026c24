"""Does a condition hold for a fact? One function per fact kind, no surprises.

Shell positional fields are relative to the subcommand matched by the same
condition or, failing that, the nearest enclosing one: with
``subcommand: push``, ``args_*`` see the operands after ``push`` and
``resource_any`` sees the first of them (``TYPE``, ``TYPE/NAME`` or
``TYPE1,TYPE2``, lowercased). Without a subcommand, ``args_*`` see every
operand. Words that look like paths are globbed in all their variants (see
:mod:`warden.guard.globs`).
"""

from __future__ import annotations

from warden.guard.globs import any_glob, escapes_workspace, glob_match, path_variants, word_variants
from warden.guard.model import Fact, FileAccess, ShellCommand, SqlStatement, UrlAccess
from warden.guard.rules import Condition


def matches(condition: Condition, fact: Fact, tool: str, prefix: int = 0) -> bool:
    """``prefix``: operands taken by the subcommand an enclosing condition matched."""
    if isinstance(fact, ShellCommand):
        own = _subcommand(condition, fact)
        if own is None:
            return False
        prefix = own or prefix
    c = condition
    if c.all_ is not None and not all(matches(n, fact, tool, prefix) for n in c.all_):
        return False
    if c.any_ is not None and not any(matches(n, fact, tool, prefix) for n in c.any_):
        return False
    if c.not_ is not None and matches(c.not_, fact, tool, prefix):
        return False
    if condition.tool_any is not None and not any(
        glob_match(p.lower(), tool.lower()) for p in condition.tool_any
    ):
        return False
    if condition.via_any is not None and not set(condition.via_any) & set(fact.origin.via):
        return False
    if condition.approximate is not None:
        approximate = isinstance(fact, ShellCommand | SqlStatement) and fact.approximate
        if approximate != condition.approximate:
            return False
    if isinstance(fact, ShellCommand):
        return _shell(condition, fact, prefix)
    if isinstance(fact, SqlStatement):
        return _sql(condition, fact)
    if isinstance(fact, FileAccess):
        return _file(condition, fact)
    if isinstance(fact, UrlAccess):
        return _url(condition, fact)
    return True


def _subcommand(c: Condition, fact: ShellCommand) -> int | None:
    """How many operands the condition's subcommand takes: 0 without one, None on a mismatch."""
    if c.subcommand is None and c.subcommand_any is None:
        return 0
    candidates = ((c.subcommand,) if c.subcommand is not None else ()) + (c.subcommand_any or ())
    for candidate in candidates:
        words = tuple(candidate.split())
        if fact.operands[: len(words)] == words:
            return len(words)
    return None


def _shell(c: Condition, fact: ShellCommand, prefix: int) -> bool:
    if c.command is not None and not glob_match(c.command, fact.name):
        return False
    if c.command_any is not None and not any_glob(c.command_any, (fact.name,)):
        return False
    rest = fact.operands[prefix:]
    if c.resource_any is not None:
        if not rest:
            return False
        types = {part.split("/")[0].lower() for part in rest[0].split(",")}
        if not types & {r.lower() for r in c.resource_any}:
            return False
    if c.flags_any is not None and not fact.flags.intersection(c.flags_any):
        return False
    if c.flags_all is not None and not fact.flags.issuperset(c.flags_all):
        return False
    if c.flags_none is not None and fact.flags.intersection(c.flags_none):
        return False
    if c.args_any is not None and not set(rest) & set(c.args_any):
        return False
    if c.args_any_glob is not None:
        variants = [v for arg in rest for v in word_variants(arg)]
        if not any_glob(c.args_any_glob, variants):
            return False
    if c.args_count_min is not None and len(rest) < c.args_count_min:
        return False
    if c.args_count_max is not None and len(rest) > c.args_count_max:
        return False
    if c.option_any_glob is not None:
        for name, globs in c.option_any_glob.items():
            values = [v for value in fact.options.get(name, ()) for v in word_variants(value)]
            if not any_glob(globs, values):
                return False
    if c.pipe_to_shell is not None and bool(fact.code_from) != c.pipe_to_shell:
        return False
    if c.code_from_any is not None and not any_glob(c.code_from_any, fact.code_from):
        return False
    return c.fork_bomb is None or fact.forks_itself == c.fork_bomb


def _sql(c: Condition, fact: SqlStatement) -> bool:
    if c.sql_statement_any is not None and fact.statement not in _lower(c.sql_statement_any):
        return False
    if c.sql_object_any is not None and (fact.object_kind or "") not in _lower(c.sql_object_any):
        return False
    if c.sql_where is not None and (fact.has_where is None or fact.has_where != c.sql_where):
        return False
    if c.sql_alter_any is not None and not set(fact.alter_actions) & _lower(c.sql_alter_any):
        return False
    if c.sql_table_any_glob is not None:
        tables = tuple(t.lower() for t in fact.tables)
        if not any_glob(tuple(_lower(c.sql_table_any_glob)), tables):
            return False
    return True


def _file(c: Condition, fact: FileAccess) -> bool:
    if c.path_glob_any is not None and not any_glob(c.path_glob_any, path_variants(fact.path)):
        return False
    if c.escapes_workspace is not None and escapes_workspace(fact.path) != c.escapes_workspace:
        return False
    if c.contains_secret is not None and bool(fact.secrets) != c.contains_secret:
        return False
    return c.secret_any is None or bool(set(fact.secrets) & set(c.secret_any))


def _url(c: Condition, fact: UrlAccess) -> bool:
    if c.url_glob_any is not None and not any_glob(c.url_glob_any, (fact.url,)):
        return False
    return c.host_glob_any is None or any_glob(tuple(_lower(c.host_glob_any)), (fact.host.lower(),))


def _lower(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(v.lower() for v in values)
