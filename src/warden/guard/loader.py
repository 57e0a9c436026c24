"""Loading packs from YAML files or dicts, with errors that point at the line."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from warden.guard.rules import Pack, Rule

DEFAULT_PACK = Path(__file__).parent / "packs" / "default.yaml"


class PackError(ValueError):
    """A pack that does not validate; ``errors`` holds one line per problem."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"invalid guardrail pack {source}:\n  " + "\n  ".join(errors))


def load_pack(source: Pack | Mapping[str, Any] | str | os.PathLike[str]) -> Pack:
    """A pack from a :class:`Pack`, a dict, or the path of a YAML file."""
    if isinstance(source, Pack):
        return source
    if isinstance(source, Mapping):
        return _validate(dict(source), "<dict>", None)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PackError(str(path), [f"cannot read: {error.strerror or error}"]) from error
    return pack_from_yaml(text, str(path))


def pack_from_yaml(text: str, source: str = "<yaml>") -> Pack:
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise PackError(source, [f"{where}not valid YAML: {error}"]) from error
    if not isinstance(data, dict):
        raise PackError(source, ["the pack must be a mapping with 'name' and 'rules'"])
    return _validate(data, source, root)


def parse_rules(
    rules: Iterable[Rule | Mapping[str, Any]], source: str = "extra_rules"
) -> tuple[Rule, ...]:
    parsed: list[Rule] = []
    errors: list[str] = []
    for index, rule in enumerate(rules):
        if isinstance(rule, Rule):
            parsed.append(rule)
            continue
        try:
            parsed.append(Rule.model_validate(dict(rule)))
        except ValidationError as error:
            errors.extend(
                _describe(error, ("rules", index), dict(rule), None, prefix=("rules", index))
            )
    ids = [rule.id for rule in parsed]
    errors.extend(f"duplicate rule id {i!r}" for i in sorted({i for i in ids if ids.count(i) > 1}))
    if errors:
        raise PackError(source, errors)
    return tuple(parsed)


def _validate(data: dict[str, Any], source: str, root: yaml.Node | None) -> Pack:
    try:
        return Pack.model_validate(data)
    except ValidationError as error:
        raise PackError(source, _describe(error, (), data, root)) from error


def _describe(
    error: ValidationError,
    base: tuple[str | int, ...],
    data: Any,
    root: yaml.Node | None,
    prefix: tuple[str | int, ...] = (),
) -> list[str]:
    lines = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        line = _line_of(root, loc)
        where = f"line {line}: " if line is not None else ""
        rule_id = _rule_id(data, loc)
        label = f" (rule {rule_id})" if rule_id else ""
        path = _format_loc((*prefix, *loc))
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{where}{path}{label}: {message}")
    return lines


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after[_listify(), tuple[str, ...]]",) or "[" in str(part):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "pack"


def _rule_id(data: Any, loc: tuple[Any, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) and isinstance(data, dict):
        rules = data.get("rules")
        if isinstance(rules, list) and loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
            value = rules[loc[1]].get("id")
            return str(value) if value is not None else None
    return None


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest YAML node on the error's path."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    child = value
                    break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            continue
        node = child
        line = node.start_mark.line + 1
    return line
