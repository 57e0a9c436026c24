"""The rule catalogue: what a rule is, where rules come from, load-time checks.

Rules are data. The built-in catalogue is the YAML under ``detect/rules/``
(one file per family); deployments add their own through config as regex
rules, keyword lists or exact values, all of which become :class:`Rule`
values here. Everything that can be wrong with a rule is caught at load,
with the file and the rule id in the message: an unknown key or validator,
a pattern that re2 rejects, unbounded repetition, a pattern that can match
the empty string, a ``secret_group`` the pattern does not have, a
duplicate id.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import re2
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from warden.detect.patterns import PatternError, PatternInfo, analyse, literal_pattern

Action = Literal["redact", "mask", "hash", "tokenize", "block", "review"]
Severity = Literal["critical", "high", "medium", "low"]
ValidatorName = Literal[
    "luhn", "iban", "jwt", "us-ssn", "ip-public", "phone", "github-crc32", "pem", "email"
]

ACTIONS: tuple[str, ...] = ("redact", "mask", "hash", "tokenize", "block", "review")
MASKING_ACTIONS = frozenset({"redact", "mask", "hash", "tokenize"})
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}

RULES_DIR = Path(__file__).with_name("rules")
_YAMLLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it
_RULE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class CatalogueError(ValueError):
    """One or more rules cannot be loaded; the message lists each problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AllowList(_Frozen):
    values: tuple[str, ...] = ()
    """Exact secrets that are known not to be secrets (placeholders, test keys)."""
    patterns: tuple[str, ...] = ()
    """re2 expressions searched in the secret; a hit means "not a secret"."""
    stopwords: tuple[str, ...] = ()
    """Case-insensitive substrings of the secret that mean "not a secret"."""

    @field_validator("patterns")
    @classmethod
    def _compile(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re2.compile(pattern, quiet_options())
            except re2.error as exc:
                msg = f"allow pattern {pattern!r} does not compile in re2: {exc}"
                raise ValueError(msg) from exc
        return value


def quiet_options() -> re2.Options:
    """re2 options that do not log parse errors to stderr (we raise them instead)."""
    options = re2.Options()
    options.log_errors = False
    return options


def _check_id(value: str) -> str:
    if not _RULE_ID.match(value):
        raise ValueError(f"rule id {value!r} must be kebab-case: lowercase letters, digits, '-'")
    return value


RuleId = Annotated[str, AfterValidator(_check_id)]


class Rule(_Frozen):
    """One detection rule, exactly as it reads in a catalogue YAML file."""

    id: RuleId
    description: str = ""
    pattern: str
    secret_group: int = Field(0, ge=0)
    keywords: tuple[str, ...] = ()
    entropy: float | None = Field(None, ge=0)
    validator: ValidatorName | None = None
    allow: AllowList = AllowList()
    action: Action = "redact"
    severity: Severity = "high"
    multiline: bool = False
    enabled: bool = True
    examples: tuple[str, ...] = ()
    negatives: tuple[str, ...] = ()
    family: str = "custom"
    """Set from the file's ``family``; custom rules from config are ``custom``."""

    @field_validator("keywords")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(k.lower() for k in value)

    def info(self) -> PatternInfo:
        """Parse and check the pattern (raises :class:`PatternError`)."""
        return self.check()[0]

    def check(self) -> tuple[PatternInfo, Any]:
        """The pattern's widths and its compiled re2 program, or :class:`PatternError`."""
        info = analyse(self.pattern)
        try:
            compiled = re2.compile(self.pattern, quiet_options())
        except re2.error as exc:
            raise PatternError(f"re2 cannot compile it: {exc}") from exc
        if self.secret_group > compiled.groups:
            raise PatternError(
                f"secret_group {self.secret_group} but the pattern has {compiled.groups} group(s)"
            )
        return info, compiled


class KeywordRule(_Frozen):
    """Custom rule from config: any of these words (whole words by default)."""

    id: RuleId
    description: str = ""
    words: tuple[str, ...] = Field(min_length=1)
    case_sensitive: bool = False
    whole_word: bool = True
    action: Action = "redact"
    severity: Severity = "medium"
    enabled: bool = True

    def to_rule(self) -> Rule:
        return Rule(
            id=self.id,
            description=self.description or f"custom keywords ({len(self.words)})",
            pattern=_alternation(self.words, self.case_sensitive, self.whole_word),
            action=self.action,
            severity=self.severity,
            enabled=self.enabled,
        )


class ValueRule(_Frozen):
    """Custom rule from config: exact values (code names, hostnames, customer ids)."""

    id: RuleId
    description: str = ""
    values: tuple[str, ...] = Field(min_length=1)
    case_sensitive: bool = True
    whole_word: bool = True
    action: Action = "redact"
    severity: Severity = "high"
    enabled: bool = True

    def to_rule(self) -> Rule:
        return Rule(
            id=self.id,
            description=self.description or f"custom values ({len(self.values)})",
            pattern=_alternation(self.values, self.case_sensitive, self.whole_word),
            action=self.action,
            severity=self.severity,
            enabled=self.enabled,
        )


class CustomRules(_Frozen):
    """What a deployment adds to the built-in catalogue."""

    rules: tuple[Rule, ...] = ()
    keywords: tuple[KeywordRule, ...] = ()
    values: tuple[ValueRule, ...] = ()

    def to_rules(self) -> list[Rule]:
        out = [r.model_copy(update={"family": "custom"}) for r in self.rules]
        out.extend(k.to_rule() for k in self.keywords)
        out.extend(v.to_rule() for v in self.values)
        return out


def _alternation(words: Iterable[str], case_sensitive: bool, whole_word: bool) -> str:
    """Literal words, longest first so the longest of two at one place wins."""
    parts = []
    for word in sorted({w for w in words if w}, key=lambda w: (-len(w), w)):
        body = literal_pattern(word)
        if whole_word and _is_word(word[0]):
            body = r"\b" + body
        if whole_word and _is_word(word[-1]):
            body += r"\b"
        parts.append(body)
    if not parts:
        raise ValueError("no non-empty words")
    flags = "" if case_sensitive else "(?i)"
    return f"{flags}(?:{'|'.join(parts)})"


def _is_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


class RuleFile(_Frozen):
    family: str
    rules: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Catalogue:
    """An ordered, checked set of rules. Order breaks ties between findings."""

    rules: tuple[Rule, ...]
    infos: tuple[PatternInfo, ...] = field(init=False, repr=False, compare=False)
    """Per rule, in order: the widths of its pattern. (Each pattern is compiled
    with re2 here to check it, and dropped: the engine compiles the programs it
    needs when it first needs them.)"""
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = []
        seen: set[str] = set()
        infos = []
        for rule in self.rules:
            if rule.id in seen:
                problems.append(f"{rule.id}: duplicate rule id")
            seen.add(rule.id)
            try:
                info, _program = rule.check()
            except PatternError as exc:
                problems.append(f"{rule.id}: pattern {rule.pattern!r}: {exc}")
                continue
            infos.append(info)
        if problems:
            raise CatalogueError(problems)
        object.__setattr__(self, "infos", tuple(infos))
        object.__setattr__(self, "_index", {r.id: i for i, r in enumerate(self.rules)})

    # -- construction -----------------------------------------------------------

    @classmethod
    def from_files(cls, paths: Iterable[Path | str]) -> Catalogue:
        rules: list[Rule] = []
        problems: list[str] = []
        for path in paths:
            try:
                rules.extend(_load_file(Path(path)))
            except CatalogueError as exc:
                problems.extend(exc.problems)
        if problems:
            raise CatalogueError(problems)
        return cls(tuple(rules))

    @classmethod
    def default(cls) -> Catalogue:
        """The built-in catalogue shipped in ``warden/detect/rules/*.yaml``."""
        return cls.from_files(sorted(RULES_DIR.glob("*.yaml")))

    def with_custom(self, custom: CustomRules | Sequence[Rule]) -> Catalogue:
        extra = custom.to_rules() if isinstance(custom, CustomRules) else list(custom)
        return Catalogue(self.rules + tuple(extra))

    def with_files(self, paths: Iterable[Path | str]) -> Catalogue:
        return Catalogue(self.rules + Catalogue.from_files(paths).rules)

    # -- access -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def index(self, rule_id: str) -> int:
        return self._index[rule_id]

    def get(self, rule_id: str) -> Rule | None:
        i = self._index.get(rule_id)
        return None if i is None else self.rules[i]

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.family for r in self.rules))

    @property
    def version(self) -> str:
        """A digest of every rule's content: equal catalogues, equal versions."""
        blob = json.dumps([r.model_dump(mode="json") for r in self.rules], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _load_file(path: Path) -> list[Rule]:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAMLLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError([f"{path}: {exc}"]) from exc
    try:
        parsed = RuleFile.model_validate(doc)
    except ValidationError as exc:
        raise CatalogueError([f"{path}: {_describe(exc)}"]) from exc
    rules: list[Rule] = []
    problems: list[str] = []
    for n, raw in enumerate(parsed.rules):
        where = f"{path}: rule {raw.get('id', f'#{n + 1}')}"
        if "family" in raw:
            problems.append(f"{where}: 'family' is set per file, not per rule")
            continue
        try:
            rules.append(Rule.model_validate({**raw, "family": parsed.family}))
        except ValidationError as exc:
            problems.append(f"{where}: {_describe(exc)}")
    if problems:
        raise CatalogueError(problems)
    return rules


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in error["loc"])
        parts.append(f"{loc}: {error['msg']}" if loc else error["msg"])
    return "; ".join(parts)
