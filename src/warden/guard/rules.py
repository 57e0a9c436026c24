"""The rule language: packs, rules and conditions as validated data.

A pack is YAML (or a dict) validated by pydantic; errors name the YAML line,
the rule id and the field. See ``docs/guardrails.md`` for the reference.

A rule applies to facts of its ``kind`` (``shell``, ``sql``, ``file-write``,
``file-read``, ``url``, ``tool``) and matches when its ``match`` condition
holds for one of them. In a condition every field given must hold (AND);
``all``, ``any`` and ``not`` combine nested conditions. A field that does not
apply to the rule's kind is a validation error, not a rule that never fires.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from warden.guard.extract import ToolSpec
from warden.guard.model import Action, FactKind, Severity


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Strs = Annotated[tuple[str, ...], BeforeValidator(_listify)]

SHELL_FIELDS = frozenset(
    {
        "command",
        "command_any",
        "subcommand",
        "subcommand_any",
        "resource_any",
        "flags_any",
        "flags_all",
        "flags_none",
        "args_any",
        "args_any_glob",
        "args_count_min",
        "args_count_max",
        "option_any_glob",
        "pipe_to_shell",
        "code_from_any",
        "fork_bomb",
    }
)
SQL_FIELDS = frozenset(
    {"sql_statement_any", "sql_object_any", "sql_where", "sql_alter_any", "sql_table_any_glob"}
)
FILE_FIELDS = frozenset({"path_glob_any", "escapes_workspace", "contains_secret", "secret_any"})
URL_FIELDS = frozenset({"url_glob_any", "host_glob_any"})
COMMON_FIELDS = frozenset({"tool_any", "via_any", "approximate"})
FIELDS_BY_KIND = {
    FactKind.TOOL: COMMON_FIELDS,
    FactKind.SHELL: COMMON_FIELDS | SHELL_FIELDS,
    FactKind.SQL: COMMON_FIELDS | SQL_FIELDS,
    FactKind.FILE_WRITE: COMMON_FIELDS | FILE_FIELDS,
    FactKind.FILE_READ: COMMON_FIELDS | FILE_FIELDS,
    FactKind.URL: COMMON_FIELDS | URL_FIELDS,
}


class Condition(BaseModel):
    """What a fact must look like. Every field given must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    all_: tuple[Condition, ...] | None = Field(None, alias="all")
    any_: tuple[Condition, ...] | None = Field(None, alias="any")
    not_: Condition | None = Field(None, alias="not")

    tool_any: Strs | None = None
    via_any: Strs | None = None
    approximate: bool | None = None

    command: str | None = None
    command_any: Strs | None = None
    subcommand: str | None = None
    subcommand_any: Strs | None = None
    resource_any: Strs | None = None
    flags_any: Strs | None = None
    flags_all: Strs | None = None
    flags_none: Strs | None = None
    args_any: Strs | None = None
    args_any_glob: Strs | None = None
    args_count_min: int | None = Field(None, ge=0)
    args_count_max: int | None = Field(None, ge=0)
    option_any_glob: dict[str, Strs] | None = None
    pipe_to_shell: bool | None = None
    code_from_any: Strs | None = None
    fork_bomb: bool | None = None

    sql_statement_any: Strs | None = None
    sql_object_any: Strs | None = None
    sql_where: bool | None = None
    sql_alter_any: Strs | None = None
    sql_table_any_glob: Strs | None = None

    path_glob_any: Strs | None = None
    escapes_workspace: bool | None = None
    contains_secret: bool | None = None
    secret_any: Strs | None = None

    url_glob_any: Strs | None = None
    host_glob_any: Strs | None = None

    def check_resource(self, has_subcommand: bool = False) -> None:
        """``resource_any`` needs a subcommand here or in an enclosing condition."""
        here = has_subcommand or self.subcommand is not None or self.subcommand_any is not None
        if self.resource_any is not None and not here:
            raise ValueError("resource_any needs subcommand or subcommand_any (here or enclosing)")
        for nested in (
            *(self.all_ or ()),
            *(self.any_ or ()),
            *((self.not_,) if self.not_ else ()),
        ):
            nested.check_resource(here)

    def fields_used(self) -> set[str]:
        """Every field set here and in nested conditions (for the kind check)."""
        used = {
            name
            for name in type(self).model_fields
            if name not in ("all_", "any_", "not_") and getattr(self, name) is not None
        }
        for nested in (
            *(self.all_ or ()),
            *(self.any_ or ()),
            *((self.not_,) if self.not_ else ()),
        ):
            used |= nested.fields_used()
        return used


def _kinds(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=100)
    description: str = Field(min_length=1)
    kind: Annotated[tuple[FactKind, ...], BeforeValidator(_kinds)] = Field(min_length=1)
    match: Condition = Condition()
    action: Action
    severity: Severity = Severity.MEDIUM
    message: str | None = None
    """What the agent is told when the rule fires; the description when absent."""

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> Rule:
        self.match.check_resource()
        used = self.match.fields_used()
        for kind in self.kind:
            misplaced = sorted(used - FIELDS_BY_KIND[kind])
            if misplaced:
                raise ValueError(
                    f"match field(s) {', '.join(misplaced)} do not apply to kind {kind.value!r}"
                )
        return self

    @property
    def text(self) -> str:
        return self.message or self.description


FailSafe = Literal[Action.REVIEW, Action.DENY]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    on_unparsable: FailSafe = Action.REVIEW
    """A shell script or SQL text the parsers cannot parse, or nesting deeper than allowed."""
    on_invalid_arguments: FailSafe = Action.REVIEW
    """Tool arguments that are not valid JSON, or fields of the wrong type."""
    on_too_large: FailSafe = Action.DENY
    """Arguments longer than max_argument_chars, a script longer than max_script_chars."""
    max_argument_chars: int = Field(1_000_000, ge=1_000)
    max_script_chars: int = Field(100_000, ge=100)
    max_nesting: int = Field(5, ge=1, le=20)


class Pack(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    name: str = Field(min_length=1)
    description: str = ""
    settings: Settings = Settings()
    tools: tuple[ToolSpec, ...] = ()
    """Extra tool extraction entries, tried before the built-in table."""
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> Pack:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)
        return self

    def with_rules(self, extra: tuple[Rule, ...]) -> Pack:
        """Extra rules appended; one with an existing id replaces that rule in place."""
        by_id = {rule.id: rule for rule in extra}
        rules = [by_id.pop(rule.id, rule) for rule in self.rules]
        rules.extend(rule for rule in extra if rule.id in by_id)
        return self.model_copy(update={"rules": tuple(rules)})
