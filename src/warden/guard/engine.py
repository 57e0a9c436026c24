"""The guard engine: a tool call in, a verdict out.

``evaluate(tool, arguments)`` extracts facts (:mod:`~warden.guard.extract`),
scans file-write content for secrets when a scanner is connected, matches
every rule of the pack against the facts of its kind, turns each analysis
problem into the pack's fail-safe action, and decides:

* the strictest action wins: deny over review over mask over allow; among
  rules with the same action the first in pack order is the one reported;
* ``deny`` -> :attr:`Flow.DENY`, ``review`` -> :attr:`Flow.HOLD`,
  ``mask`` -> :attr:`Flow.REWRITE`, ``allow`` (or nothing matched) ->
  :attr:`Flow.PASS`;
* every ``mask`` finding rewrites the argument field it came from, whatever
  the winning action, so text released after an approval is masked too.

Decisions name the rule, the action and where (argument field, wrappers,
command name or statement type), never the raw value.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from warden.guard.extract import DEFAULT_TOOLS, extract
from warden.guard.loader import DEFAULT_PACK, load_pack, parse_rules
from warden.guard.match import matches
from warden.guard.model import (
    Action,
    Analysis,
    Fact,
    FactKind,
    FileAccess,
    Findings,
    JsonPath,
    Origin,
    Problem,
    ProblemCode,
    Severity,
    ShellCommand,
    ToolCall,
)
from warden.guard.rules import Pack, Rule, Settings
from warden.guard.shell import ShellLimits
from warden.pipeline.types import Decision, Flow

SecretScanner = Callable[[str], list[str]]
Masker = Callable[[str], str]

FLOWS = {
    Action.DENY: Flow.DENY,
    Action.REVIEW: Flow.HOLD,
    Action.MASK: Flow.REWRITE,
    Action.ALLOW: Flow.PASS,
}
MAX_FACTS = 5_000
_PROBLEM_TEXT = {
    ProblemCode.UNPARSABLE: "The arguments could not be parsed, so they cannot be checked.",
    ProblemCode.TOO_DEEP: "The command nests interpreters deeper than the guardrails follow.",
    ProblemCode.TOO_LARGE: "The arguments are larger than the guardrails check.",
    ProblemCode.INVALID_ARGUMENTS: "The tool arguments are not the JSON the tool expects.",
}


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    action: Action
    severity: Severity
    message: str
    origin: Origin
    fact: Fact | None = None
    """``None`` for a finding that comes from an analysis problem."""

    @property
    def where(self) -> str:
        via = f" via {' > '.join(self.origin.via)}" if self.origin.via else ""
        what = f" ({self.fact.summary()})" if self.fact is not None else ""
        return f"{self.origin.field}{via}{what}"


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    tool: str
    action: Action
    decisions: tuple[Decision, ...]
    """One per rule that fired, the winning rule first."""
    message: str
    """For the agent and the approver: what was decided and by which rule ('' when allowed)."""
    arguments: Any
    """The arguments to forward: masked when a mask rule fired, else the input itself."""
    findings: tuple[Finding, ...] = ()
    analysis: Analysis | None = None

    @property
    def flow(self) -> Flow:
        return FLOWS[self.action]

    @property
    def masked(self) -> bool:
        return any(f.action is Action.MASK for f in self.findings)

    @property
    def decision(self) -> Decision | None:
        return self.decisions[0] if self.decisions else None


class GuardEngine:
    def __init__(
        self,
        pack: Pack,
        *,
        secret_scanner: SecretScanner | None = None,
        masker: Masker | None = None,
        inspector: str = "guardrails",
    ) -> None:
        self.pack = pack
        self.secret_scanner = secret_scanner
        self.masker = masker
        self.inspector = inspector
        self._tools = (*pack.tools, *DEFAULT_TOOLS)
        self._limits = ShellLimits(pack.settings.max_nesting, pack.settings.max_script_chars)
        self._by_kind: dict[FactKind, list[Rule]] = {kind: [] for kind in FactKind}
        for rule in pack.rules:
            for kind in rule.kind:
                self._by_kind[kind].append(rule)
        self._order = {rule.id: index for index, rule in enumerate(pack.rules)}

    @classmethod
    def from_pack(
        cls,
        pack: Pack | Mapping[str, Any] | str | os.PathLike[str],
        *,
        extra_rules: Iterable[Rule | Mapping[str, Any]] = (),
        secret_scanner: SecretScanner | None = None,
        masker: Masker | None = None,
    ) -> GuardEngine:
        """A pack (path, dict or :class:`Pack`) plus extra rules; an extra rule replaces
        the pack rule with the same id, in place."""
        loaded = load_pack(pack).with_rules(parse_rules(extra_rules))
        return cls(loaded, secret_scanner=secret_scanner, masker=masker)

    @classmethod
    def default(cls, **kwargs: Any) -> GuardEngine:
        return cls.from_pack(DEFAULT_PACK, **kwargs)

    @property
    def settings(self) -> Settings:
        return self.pack.settings

    # -- analysis -----------------------------------------------------------

    def analyze(self, tool: str, arguments: Any) -> Analysis:
        out = Findings()
        out.facts.append(ToolCall(tool))
        extract(tool, arguments, self._tools, self._limits, out)
        if len(out.facts) > MAX_FACTS:
            del out.facts[MAX_FACTS:]
            out.problem(ProblemCode.TOO_LARGE, "more commands than the guardrails check", Origin())
        facts = [self._scan(fact) for fact in out.facts]
        return Analysis(tool, tuple(facts), tuple(out.problems))

    def _scan(self, fact: Fact) -> Fact:
        if (
            self.secret_scanner is not None
            and isinstance(fact, FileAccess)
            and fact.kind is FactKind.FILE_WRITE
            and fact.content
        ):
            found = tuple(dict.fromkeys(self.secret_scanner(fact.content)))
            if found:
                return replace(fact, secrets=found)
        return fact

    # -- evaluation ---------------------------------------------------------

    def evaluate(self, tool_name: str, arguments: Any) -> GuardVerdict:
        analysis = self.analyze(tool_name, arguments)
        findings = self._match(analysis)
        findings.extend(self._problem_finding(problem) for problem in analysis.problems)
        return self._verdict(tool_name, arguments, analysis, findings)

    def evaluate_json(self, tool_name: str, text: str, *, raw_ok: bool = False) -> GuardVerdict:
        """Arguments as the provider streamed them: a JSON document, or a bare string
        for freeform tools (``raw_ok``, or a tool-table entry with ``raw``).

        Text that is not JSON fails safe, and so does an object with a duplicate
        key: clients disagree on which copy wins, so the guard cannot know what
        will run.
        """
        if len(text) > self.pack.settings.max_argument_chars:
            return self.fail_safe(tool_name, text, ProblemCode.TOO_LARGE, "arguments too large")
        if not text.strip():
            return self.evaluate(tool_name, {})
        try:
            arguments = json.loads(text, object_pairs_hook=_unique_keys)
        except _DuplicateKey:
            return self.fail_safe(
                tool_name, text, ProblemCode.INVALID_ARGUMENTS, "duplicate key in arguments"
            )
        except (ValueError, RecursionError):
            if raw_ok or any(s.raw and s.applies(tool_name, text) for s in self._tools):
                return self.evaluate(tool_name, text)
            return self.fail_safe(
                tool_name, text, ProblemCode.INVALID_ARGUMENTS, "arguments are not valid JSON"
            )
        return self.evaluate(tool_name, arguments)

    def fail_safe(
        self, tool_name: str, arguments: Any, code: ProblemCode, detail: str
    ) -> GuardVerdict:
        problem = Problem(code, detail)
        analysis = Analysis(tool_name, (ToolCall(tool_name),), (problem,))
        return self._verdict(tool_name, arguments, analysis, [self._problem_finding(problem)])

    def _match(self, analysis: Analysis) -> list[Finding]:
        findings = []
        for fact in analysis.facts:
            for rule in self._by_kind[fact.kind]:
                if _may_match(rule, fact) and matches(rule.match, fact, analysis.tool):
                    findings.append(
                        Finding(rule.id, rule.action, rule.severity, rule.text, fact.origin, fact)
                    )
        return findings

    def _problem_finding(self, problem: Problem) -> Finding:
        settings = self.pack.settings
        action = {
            ProblemCode.UNPARSABLE: settings.on_unparsable,
            ProblemCode.TOO_DEEP: settings.on_unparsable,
            ProblemCode.TOO_LARGE: settings.on_too_large,
            ProblemCode.INVALID_ARGUMENTS: settings.on_invalid_arguments,
        }[problem.code]
        message = f"{_PROBLEM_TEXT[problem.code]} ({problem.detail})"
        return Finding(
            f"guard.{problem.code.value}", action, Severity.HIGH, message, problem.origin
        )

    def _verdict(
        self, tool: str, arguments: Any, analysis: Analysis, findings: list[Finding]
    ) -> GuardVerdict:
        ranked = sorted(
            findings, key=lambda f: (-f.action.rank, self._order.get(f.rule, len(self._order)))
        )
        decisions: list[Decision] = []
        seen: set[str] = set()
        for finding in ranked:
            if finding.rule in seen:
                continue
            seen.add(finding.rule)
            decisions.append(
                Decision(
                    flow=FLOWS[finding.action],
                    rule=finding.rule,
                    action=finding.action.value,
                    reason=f"{finding.message} [{finding.where}]",
                    inspector=self.inspector,
                    severity=finding.severity.value,
                )
            )
        action = ranked[0].action if ranked else Action.ALLOW
        masks = [f for f in ranked if f.action is Action.MASK]
        forwarded = self._mask(arguments, masks) if masks else arguments
        message = _message(tool, action, ranked[0]) if ranked else ""
        return GuardVerdict(
            tool, action, tuple(decisions), message, forwarded, tuple(ranked), analysis
        )

    # -- masking ------------------------------------------------------------

    def _mask(self, arguments: Any, masks: list[Finding]) -> Any:
        """Rewrite the fields mask findings came from.

        With a masker, a finding's fields get the masker's output, unless it
        changed none of them (the rule is not about a secret the masker knows):
        then, as without a masker, each field becomes a placeholder.
        """
        done: set[JsonPath] = set()
        result = copy.deepcopy(arguments)
        for finding in masks:
            fact = finding.fact
            paths = [finding.origin.path]
            if isinstance(fact, FileAccess) and fact.content_paths:
                paths = list(fact.content_paths)
            paths = [p for p in paths if p not in done]
            done.update(paths)
            placeholder = f"[masked by Warden: {finding.rule}]"
            if self.masker is not None:
                masker = self.masker
                changed = any(
                    masker(text) != text for path in paths for text in _strings_at(result, path)
                )
                if changed:
                    for path in paths:
                        result = _replace_at(result, path, masker)
                    continue
            for path in paths:
                result = _replace_at(result, path, _constant(placeholder))
        return result


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _may_match(rule: Rule, fact: Fact) -> bool:
    """A cheap pre-check: a rule naming a literal command skips other commands."""
    if not isinstance(fact, ShellCommand):
        return True
    names = (rule.match.command,) if rule.match.command is not None else rule.match.command_any
    if names is None or any(set("*?[{") & set(name) for name in names):
        return True
    return fact.name in names


def _constant(text: str) -> Callable[[str], str]:
    def replace(_: str) -> str:
        return text

    return replace


def _strings_at(node: Any, path: JsonPath) -> list[str]:
    for part in path:
        in_dict = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            return []
        node = node[part]
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [item for item in node if isinstance(item, str)]
    return []


def _replace_at(node: Any, path: JsonPath, mask: Callable[[str], str]) -> Any:
    if not path:
        if isinstance(node, str):
            return mask(node)
        if isinstance(node, list) and all(isinstance(item, str) for item in node):
            return [mask(item) for item in node]
        return mask(json.dumps(node))
    head, rest = path[0], path[1:]
    in_dict = isinstance(node, dict) and isinstance(head, str) and head in node
    in_list = isinstance(node, list) and isinstance(head, int) and 0 <= head < len(node)
    if in_dict or in_list:
        node[head] = _replace_at(node[head], rest, mask)
    return node


def _message(tool: str, action: Action, finding: Finding) -> str:
    name = tool or "tool"
    cite = f"(rule {finding.rule}, {finding.where})"
    if action is Action.DENY:
        return f"Warden blocked this {name} call: {finding.message} {cite}"
    if action is Action.REVIEW:
        return f"Warden is holding this {name} call for human review: {finding.message} {cite}"
    if action is Action.MASK:
        return f"Warden masked part of this {name} call's arguments: {finding.message} {cite}"
    return f"Allowed by {finding.rule}: {finding.message}"
