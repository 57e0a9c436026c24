"""Reading a config file: YAML, ``${VAR}`` interpolation, located errors.

Interpolation runs on each scalar *after* YAML parsing, so a value holding
YAML's special characters cannot change the document's structure. Every
scalar's line and column are kept, so a validation error points at the line
that caused it, with a hint where one helps.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from warden.config.model import Config

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$\$")

Location = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    path: str
    line: int | None
    column: int | None
    message: str
    hint: str | None = None

    def render(self, file: str) -> str:
        where = file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.path or '<root>'}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class ConfigError(Exception):
    def __init__(self, file: str, problems: list[ConfigProblem]) -> None:
        self.file = file
        self.problems = problems
        super().__init__("\n".join(p.render(file) for p in problems))


def interpolate(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace ``${VAR}``, ``${VAR:-default}`` and ``${VAR-default}``.

    ``:-`` uses the default when the variable is unset *or empty*, ``-`` only
    when unset (as in POSIX shells). ``$$`` is a literal ``$``. Returns the
    new text and the names of variables that were needed but unset.
    """
    missing: list[str] = []

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, default = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        if op == ":-" and not value:
            return default or ""
        if op == "-" and value is None:
            return default or ""
        if value is None:
            missing.append(name)
            return ""
        return value

    return _VAR.sub(sub, text), missing


class _Builder:
    """Turns a composed YAML node tree into plain data, remembering marks."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self._constructor = yaml.SafeLoader("")
        self.marks: dict[Location, tuple[int, int]] = {}
        self.problems: list[ConfigProblem] = []

    def build(self, node: yaml.Node, path: Location = ()) -> Any:
        self.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in out:
                    line = key_node.start_mark.line + 1
                    self.problems.append(
                        ConfigProblem(_dotted((*path, key)), line, None, "duplicate key")
                    )
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        value = self._constructor.construct_object(node)
        if isinstance(value, str) and "$" in value:
            text, missing = interpolate(value, self.env)
            for name in missing:
                line, column = self.marks[path]
                self.problems.append(
                    ConfigProblem(
                        _dotted(path),
                        line,
                        column,
                        f"environment variable {name} is not set",
                        f"set {name}, or give a default: ${{{name}:-value}}",
                    )
                )
            if node.style is None and text != value:
                # An unquoted scalar that was all interpolation is typed like
                # YAML would type the value, so ``port: ${PORT:-8080}`` is an int.
                return yaml.safe_load(text) if text.strip() else None
            return text
        return value


def _dotted(path: Location) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_HINTS = {
    "extra_forbidden": "remove it, or check its spelling against docs/configuration.md",
    "missing": "this setting is required",
}


def parse_config(
    text: str, *, file: str = "<config>", env: Mapping[str, str] | None = None
) -> Config:
    """Parse and validate; raises :class:`ConfigError` listing every problem."""
    environ = os.environ if env is None else env
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(file, [ConfigProblem("", line, column, f"YAML: {problem}")]) from None
    if node is None:
        raise ConfigError(file, [ConfigProblem("", 1, 1, "the file is empty")])
    builder = _Builder(environ)
    data = builder.build(node)
    problems = list(builder.problems)
    if not isinstance(data, dict):
        problems.append(ConfigProblem("", 1, 1, "the top level must be a mapping"))
        raise ConfigError(file, problems)
    try:
        config = Config.model_validate(data, context={"env": environ})
    except ValidationError as exc:
        for error in exc.errors():
            loc: Location = tuple(error["loc"])
            line, column = _nearest_mark(builder.marks, loc)
            problems.append(
                ConfigProblem(
                    _dotted(loc),
                    line,
                    column,
                    error["msg"],
                    _HINTS.get(error["type"]),
                )
            )
        raise ConfigError(file, problems) from None
    if problems:
        raise ConfigError(file, problems)
    return config


def _nearest_mark(
    marks: dict[Location, tuple[int, int]], loc: Location
) -> tuple[int | None, int | None]:
    for cut in range(len(loc), -1, -1):
        mark = marks.get(loc[:cut])
        if mark is not None:
            return mark
    return None, None


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> Config:
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            file, [ConfigProblem("", None, None, f"cannot read: {exc.strerror}")]
        ) from None
    config = parse_config(text, file=file, env=env)
    config.source = Path(path)
    return config
