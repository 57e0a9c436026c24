"""Tool-call extraction: which argument of which tool holds a command, SQL, a path.

A table of :class:`ToolSpec` entries maps tool-name globs (case-insensitive;
MCP tools arrive as ``mcp__<server>__<tool>``) to the argument fields to
analyse and what they hold. Every non-fallback entry whose names match is
applied; the ``fallback`` entries (a ``command``/``cmd`` field of any tool is a
shell command, a ``sql`` field is SQL) apply only to tools no other entry
knows. A pack may add entries (``tools:``); they are tried before these.

Field paths: ``command``, ``action.command`` (nested), ``edits[].new_string``
(every element of a list).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from warden.guard.globs import compile_glob
from warden.guard.model import (
    FactKind,
    FileAccess,
    Findings,
    JsonPath,
    Origin,
    ProblemCode,
    UrlAccess,
)
from warden.guard.patch import patched_files
from warden.guard.shell import ShellAnalyzer, ShellLimits
from warden.guard.sql import analyze_sql


class TargetKind(enum.StrEnum):
    SHELL = "shell"
    SQL = "sql"
    FILE_WRITE = "file-write"
    FILE_READ = "file-read"
    URL = "url"
    PATCH = "patch"


class ToolSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    names: tuple[str, ...] = Field(min_length=1)
    kind: TargetKind
    fields: tuple[str, ...] = ()
    """Fields holding the value (shell, sql, url, patch); every present one is analysed."""
    path: tuple[str, ...] = ()
    """file-write / file-read: fields holding the path; every present one is a target."""
    content: tuple[str, ...] = ()
    """file-write: fields holding what is written (scanned for secrets)."""
    prefix: tuple[str, ...] = ()
    """shell: words put before the value, for tools that take only arguments (``kubectl``)."""
    dialect: str | None = None
    """sql: the sqlglot dialect to try first."""
    raw: bool = False
    """The arguments may be a bare string (not JSON): it is the value itself."""
    sniff: bool = False
    """sql: analyse only values that start like SQL (for tools named just ``query``)."""
    when: dict[str, tuple[str, ...]] = {}
    """Apply only when each named field holds one of the listed values."""
    unless: dict[str, tuple[str, ...]] = {}
    """Do not apply when a named field holds one of the listed values."""
    fallback: bool = False

    @model_validator(mode="after")
    def _has_fields(self) -> ToolSpec:
        needs_path = self.kind in (TargetKind.FILE_WRITE, TargetKind.FILE_READ)
        if needs_path and not self.path:
            raise ValueError(f"kind {self.kind.value!r} needs 'path'")
        if not needs_path and not self.fields and not self.raw:
            raise ValueError(f"kind {self.kind.value!r} needs 'fields'")
        return self

    def applies(self, tool: str, arguments: Any) -> bool:
        name = tool.lower()
        if not any(compile_glob(p.lower()).match(name) for p in self.names):
            return False
        values = arguments if isinstance(arguments, dict) else {}
        for key, allowed in self.when.items():
            if values.get(key) not in allowed:
                return False
        return not any(values.get(key) in banned for key, banned in self.unless.items())


def _spec(names: str, kind: TargetKind, fields: str = "", **extra: Any) -> ToolSpec:
    for key in ("path", "content", "prefix"):
        if isinstance(extra.get(key), str):
            extra[key] = tuple(extra[key].split())
    return ToolSpec(names=tuple(names.split()), kind=kind, fields=tuple(fields.split()), **extra)


_SHELL, _SQL, _WRITE, _READ, _URL, _PATCH = (
    TargetKind.SHELL,
    TargetKind.SQL,
    TargetKind.FILE_WRITE,
    TargetKind.FILE_READ,
    TargetKind.URL,
    TargetKind.PATCH,
)
_EDITOR = "str_replace_based_edit_tool str_replace_editor text_editor *__text_editor"
_PATHS = "path file_path target_file filename notebook_path"

DEFAULT_TOOLS: tuple[ToolSpec, ...] = (
    # Claude Code
    _spec("Bash", _SHELL, "command"),
    _spec("Write", _WRITE, path="file_path", content="content"),
    _spec("Edit", _WRITE, path="file_path", content="new_string"),
    _spec("MultiEdit", _WRITE, path="file_path", content="edits[].new_string"),
    _spec("NotebookEdit", _WRITE, path="notebook_path", content="new_source"),
    _spec("Read", _READ, path="file_path"),
    _spec("WebFetch", _URL, "url"),
    # Codex and the OpenAI Responses shell tools
    _spec(
        "shell container.exec local_shell local_shell_call", _SHELL, "command cmd action.command"
    ),
    _spec("exec_command *__exec_command", _SHELL, "cmd command"),
    _spec("apply_patch *__apply_patch", _PATCH, "input patch", raw=True),
    # Anthropic's text editor tool
    _spec(
        _EDITOR,
        _WRITE,
        path="path",
        content="file_text new_str insert_text",
        unless={"command": ("view",)},
    ),
    _spec(_EDITOR, _READ, path="path", when={"command": ("view",)}),
    # Cursor, Cline, Windsurf, Gemini CLI, MCP servers, generic function tools
    _spec(
        "run_terminal_cmd execute_command run_command run_shell_command shell_command "
        "run_in_terminal terminal bash zsh exec *__bash *__shell *__run_command "
        "*__execute_command *__run_terminal_cmd *__shell_exec *__run_shell_command",
        _SHELL,
        "command cmd script",
    ),
    _spec(
        "*sql* *postgres* *mysql* *sqlite* *mariadb* *bigquery* *snowflake* *clickhouse* *duckdb*",
        _SQL,
        "sql query statement sql_query",
    ),
    _spec(
        "query run_query execute_query *__query *__run_query *__execute_query *database*",
        _SQL,
        "sql query statement",
        sniff=True,
    ),
    _spec(
        "write_file create_file write_to_file *__write_file *__create_file *__write_to_file",
        _WRITE,
        path=_PATHS,
        content="content contents text file_text",
    ),
    _spec(
        "edit_file replace_in_file search_replace *__edit_file *__replace_in_file",
        _WRITE,
        path=_PATHS,
        content="code_edit new_string new_str newText diff content edits[].newText "
        "edits[].new_string",
    ),
    _spec(
        "delete_file move_file rename_file *__delete_file *__move_file",
        _WRITE,
        path=f"{_PATHS} source destination",
    ),
    _spec(
        "read_file read_text_file view_file *__read_file *__read_text_file",
        _READ,
        path=_PATHS,
    ),
    _spec("fetch web_fetch fetch_url *__fetch *__fetch_url", _URL, "url"),
    _spec("kubectl *__kubectl", _SHELL, "command args", prefix="kubectl"),
    # any other tool
    _spec("*", _SHELL, "command cmd", fallback=True),
    _spec("*", _SQL, "sql", fallback=True),
)

_SQL_START = re.compile(
    r"\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*|\(\s*)*"
    r"(select|with|insert|update|delete|drop|truncate|alter|create|grant|revoke|merge|copy|"
    r"vacuum|analyze|explain|show|set|begin|commit|rollback|call|do|replace|upsert|use|"
    r"describe|pragma|attach|comment|lock|reindex|cluster|refresh|values|table)\b",
    re.IGNORECASE | re.DOTALL,
)


def looks_like_sql(text: str) -> bool:
    return _SQL_START.match(text) is not None


def extract(
    tool: str, arguments: Any, specs: Sequence[ToolSpec], limits: ShellLimits, out: Findings
) -> None:
    """Analyse the arguments of one call into ``out``.

    Every matching entry applies, but a field is analysed once per kind: the
    first entry that reaches it wins (``Bash`` matches both ``Bash`` and the
    generic ``bash``).
    """
    matched = [s for s in specs if not s.fallback and s.applies(tool, arguments)]
    if not matched:
        matched = [s for s in specs if s.fallback and s.applies(tool, arguments)]
    done: set[tuple[str, JsonPath]] = set()
    for spec in matched:
        for path, value in _targets(spec, arguments):
            if (spec.kind.value, path) in done:
                continue
            done.add((spec.kind.value, path))
            if spec.kind in (TargetKind.FILE_WRITE, TargetKind.FILE_READ):
                _file(spec, arguments, path, value, out)
            else:
                _value(spec, path, value, limits, out)
        if isinstance(arguments, str) and not spec.raw and not spec.fallback:
            if ("invalid", ()) not in done:
                out.problem(
                    ProblemCode.INVALID_ARGUMENTS, "arguments are not a JSON object", Origin()
                )
            done.add(("invalid", ()))


def _targets(spec: ToolSpec, arguments: Any) -> Iterator[tuple[JsonPath, Any]]:
    if isinstance(arguments, str):
        if spec.raw:
            yield (), arguments
        return
    fields = (
        spec.path if spec.kind in (TargetKind.FILE_WRITE, TargetKind.FILE_READ) else spec.fields
    )
    yield from _resolve_all(arguments, fields)


def _value(spec: ToolSpec, path: JsonPath, value: Any, limits: ShellLimits, out: Findings) -> None:
    origin = Origin(path)
    if spec.kind is TargetKind.SHELL:
        analyzer = ShellAnalyzer(out, origin, limits)
        if isinstance(value, str):
            prefix = " ".join(spec.prefix)
            analyzer.script(f"{prefix} {value}" if prefix else value)
            return
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            analyzer.argv([*spec.prefix, *value])
            return
    elif isinstance(value, str):
        if spec.kind is TargetKind.SQL:
            if not spec.sniff or looks_like_sql(value):
                analyze_sql(value, out, origin, dialect=spec.dialect)
        elif spec.kind is TargetKind.PATCH:
            for patched in patched_files(value):
                out.facts.append(
                    FileAccess(
                        FactKind.FILE_WRITE, patched.path, patched.content or None, origin=origin
                    )
                )
        elif spec.kind is TargetKind.URL:
            out.facts.append(UrlAccess(value, _host(value), origin=origin))
        return
    if not spec.fallback and value is not None:
        out.problem(
            ProblemCode.INVALID_ARGUMENTS, f"{spec.kind.value} field of an unexpected type", origin
        )


def _file(spec: ToolSpec, arguments: Any, path: JsonPath, value: Any, out: Findings) -> None:
    if not isinstance(value, str):
        if value is not None:
            out.problem(ProblemCode.INVALID_ARGUMENTS, "path field is not a string", Origin(path))
        return
    contents = [(p, v) for p, v in _resolve_all(arguments, spec.content) if isinstance(v, str)]
    content = "\n".join(v for _, v in contents) if contents else None
    kind = FactKind.FILE_WRITE if spec.kind is TargetKind.FILE_WRITE else FactKind.FILE_READ
    paths = tuple(p for p, _ in contents)
    out.facts.append(FileAccess(kind, value, content, origin=Origin(path), content_paths=paths))


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _resolve_all(arguments: Any, fields: Sequence[str]) -> Iterator[tuple[JsonPath, Any]]:
    for field in fields:
        yield from _resolve(arguments, field.replace("[]", ".[]").split("."), ())


def _resolve(node: Any, parts: list[str], at: JsonPath) -> Iterator[tuple[JsonPath, Any]]:
    if not parts:
        yield at, node
        return
    head, rest = parts[0], parts[1:]
    if head == "[]":
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from _resolve(item, rest, (*at, index))
    elif isinstance(node, dict) and head in node:
        yield from _resolve(node[head], rest, (*at, head))
