"""What the analysers find in a tool call: facts, problems, and actions.

A tool call is reduced to *facts*, each of one :class:`FactKind`: a shell
command with its parsed argv, an SQL statement, a file read or write, a URL,
and one :class:`ToolCall` fact for the call itself. Rules match facts of their
kind. Anything that could not be analysed becomes a :class:`Problem`, which the
engine turns into the pack's fail-safe action, never into a silent allow.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

JsonPath = tuple[str | int, ...]


class Action(enum.StrEnum):
    ALLOW = "allow"
    MASK = "mask"
    REVIEW = "review"
    DENY = "deny"

    @property
    def rank(self) -> int:
        """Strictness: deny wins over review over mask over allow."""
        return _RANK[self]


_RANK = {Action.ALLOW: 0, Action.MASK: 1, Action.REVIEW: 2, Action.DENY: 3}


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class FactKind(enum.StrEnum):
    TOOL = "tool"
    SHELL = "shell"
    SQL = "sql"
    FILE_WRITE = "file-write"
    FILE_READ = "file-read"
    URL = "url"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a fact comes from: the argument field and the wrappers around it."""

    path: JsonPath = ()
    """JSON path of the argument field (``("command",)``, ``("edits", 0, "new_string")``)."""
    via: tuple[str, ...] = ()
    """Wrappers the command ran under, outermost first (``sudo``, ``bash -c``, ``ssh``)."""

    @property
    def field(self) -> str:
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out or "arguments"

    def nested(self, wrapper: str) -> Origin:
        return Origin(self.path, (*self.via, wrapper))


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One fact per evaluated call, so rules can match on the tool name alone."""

    tool: str
    origin: Origin = Origin()
    kind: FactKind = FactKind.TOOL

    def summary(self) -> str:
        return self.tool or "tool call"


@dataclass(frozen=True, slots=True)
class ShellCommand:
    """One simple command after unwrapping ``sudo``, ``env``, ``bash -c`` and friends."""

    name: str
    """Basename of argv[0] without a leading backslash (``/usr/bin/rm`` -> ``rm``)."""
    argv: tuple[str, ...]
    flags: frozenset[str]
    """Option names as written (``r``, ``f``, ``recursive``) plus their known aliases."""
    options: Mapping[str, tuple[str, ...]]
    """Values of options that take one (``namespace`` -> ``("prod",)``), aliases included."""
    operands: tuple[str, ...]
    """Positional words, subcommands included (``kubectl delete ns x`` -> delete, ns, x)."""
    code_from: tuple[str, ...] = ()
    """Commands whose output this command runs as code (``curl x | sh`` -> ``("curl",)``)."""
    forks_itself: bool = False
    """A shell function that calls itself in a pipe or in the background (a fork bomb)."""
    approximate: bool = False
    """Came from the fallback splitter because the real parser could not parse the script."""
    origin: Origin = Origin()
    kind: FactKind = FactKind.SHELL

    def summary(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class SqlStatement:
    statement: str
    """Lowercase statement type: ``drop``, ``truncate``, ``delete``, ``update``, ``select``..."""
    object_kind: str | None = None
    """For DROP / ALTER / CREATE: ``table``, ``database``, ``schema``, ``index``..."""
    has_where: bool | None = None
    """For DELETE / UPDATE: whether a WHERE clause restricts it (``WHERE 1=1`` does not)."""
    alter_actions: tuple[str, ...] = ()
    """For ALTER: ``drop_column``, ``drop_constraint``, ``add_column``, ``rename``..."""
    tables: tuple[str, ...] = ()
    approximate: bool = False
    """Found by the keyword scan because the SQL parser could not parse the text."""
    origin: Origin = Origin()
    kind: FactKind = FactKind.SQL

    def summary(self) -> str:
        what = f" {self.object_kind}" if self.object_kind else ""
        return f"{self.statement}{what}".upper()


@dataclass(frozen=True, slots=True)
class FileAccess:
    kind: FactKind
    """``FILE_WRITE`` or ``FILE_READ``."""
    path: str
    content: str | None = None
    """What a write puts in the file, when known (scanned for secrets)."""
    secrets: tuple[str, ...] = ()
    """Detection rule ids the secret scanner found in ``content``."""
    origin: Origin = Origin()
    content_paths: tuple[JsonPath, ...] = ()
    """The argument fields ``content`` comes from (what a mask rewrites); the origin when empty."""

    def summary(self) -> str:
        return "file write" if self.kind is FactKind.FILE_WRITE else "file read"


@dataclass(frozen=True, slots=True)
class UrlAccess:
    url: str
    host: str
    origin: Origin = Origin()
    kind: FactKind = FactKind.URL

    def summary(self) -> str:
        return "URL fetch"


Fact = ToolCall | ShellCommand | SqlStatement | FileAccess | UrlAccess


class ProblemCode(enum.StrEnum):
    UNPARSABLE = "unparsable"
    """A shell script or SQL text the parsers could not parse."""
    TOO_DEEP = "too-deep"
    """Nesting (``bash -c "eval ..."``) deeper than the pack's ``max_nesting``."""
    TOO_LARGE = "too-large"
    """Arguments or a script larger than the pack's limits."""
    INVALID_ARGUMENTS = "invalid-arguments"
    """Tool arguments that are not the JSON the tool expects."""


@dataclass(frozen=True, slots=True)
class Problem:
    code: ProblemCode
    detail: str
    origin: Origin = Origin()


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the analysers found in one tool call."""

    tool: str
    facts: tuple[Fact, ...] = ()
    problems: tuple[Problem, ...] = ()


@dataclass(slots=True)
class Findings:
    """A mutable collector the analysers append to."""

    facts: list[Fact] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, code: ProblemCode, detail: str, origin: Origin) -> None:
        self.problems.append(Problem(code, detail, origin))
