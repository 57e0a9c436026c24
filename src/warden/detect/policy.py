"""Which rules apply to an exchange, and with which action.

A rule starts with its catalogue action (and is on unless the catalogue
ships it off, like the IP address rules). Then, in order:

1. the direction default: on the request side, rules whose action rewrites
   text take ``request_action`` (``tokenize`` by default, so the model sees
   placeholders it can refer to); on the response side ``response_action``
   when set;
2. every :class:`PolicyEntry` that applies (its rules, direction,
   connections and groups all match), in order, later entries winning: it
   turns the rule on or off and may set its action.

The result is one action (or ``None``: off) per rule index, which is what
:meth:`Engine.scan` and :class:`StreamMasker` take. It is computed once per
(direction, connection, groups) and cached.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from warden.detect.catalogue import MASKING_ACTIONS, Action, Catalogue, Rule
from warden.detect.mask import MaskStyle
from warden.pipeline.types import Direction


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyEntry(_Frozen):
    rules: tuple[str, ...] = ("*",)
    """Rule ids, globs (``aws-*``) or ``family:<name>``."""
    enabled: bool = True
    action: Action | None = None
    direction: Literal["request", "response", "both"] = "both"
    connections: tuple[str, ...] = ()
    """Connection names it applies to; empty: all."""
    groups: tuple[str, ...] = ()
    """Identity groups it applies to (any of them); empty: everyone."""

    def selects(self, rule: Rule) -> bool:
        for selector in self.rules:
            if selector.startswith("family:"):
                if rule.family == selector[len("family:") :]:
                    return True
            elif fnmatch.fnmatchcase(rule.id, selector):
                return True
        return False

    @property
    def everywhere(self) -> bool:
        """It applies to every exchange: both directions, all connections and groups."""
        return self.direction == "both" and not self.connections and not self.groups

    def applies(self, direction: Direction, connection: str, groups: frozenset[str]) -> bool:
        if self.direction != "both" and self.direction != direction.value:
            return False
        if self.connections and connection not in self.connections:
            return False
        return not self.groups or not groups.isdisjoint(self.groups)


class MaskOptions(_Frozen):
    keep_start: int = Field(4, ge=0, le=16)
    keep_end: int = Field(3, ge=0, le=16)
    min_length: int = Field(12, ge=1)

    def style(self) -> MaskStyle:
        return MaskStyle(self.keep_start, self.keep_end, self.min_length)


class Policy(_Frozen):
    request_action: Action | None = "tokenize"
    """Action for text-rewriting rules on what agents send (``None``: the rule's own)."""
    response_action: Action | None = None
    """Action for text-rewriting rules on responses (``None``: the rule's own)."""
    entries: tuple[PolicyEntry, ...] = ()
    mask: MaskOptions = MaskOptions()
    restore_thinking: bool = True
    """Keep the original of masked thinking so the next turn's signature still verifies."""
    detokenize_tool_input: bool = False
    """Put vault values back in place of placeholders inside the arguments of
    tool calls the agent runs (so an edit to a file that holds a secret keeps
    the real value). Only the bytes delivered to the agent carry the values:
    the recording, the decisions and the other inspectors see placeholders."""

    @property
    def version(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def reachable(self, catalogue: Catalogue) -> frozenset[str]:
        """Ids of the rules this policy turns on for some direction, connection
        or group: what an engine serving it must compile (see :meth:`actions`).

        Entries apply in order, as in :meth:`actions`: one that applies
        everywhere settles a rule for every exchange; one with conditions that
        turns a rule on makes it reachable (turning it off somewhere cannot
        make it unreachable).
        """
        out: set[str] = set()
        for rule in catalogue.rules:
            on_somewhere = rule.enabled
            for entry in self.entries:
                if entry.selects(rule) and (entry.everywhere or entry.enabled):
                    on_somewhere = entry.enabled
            if on_somewhere:
                out.add(rule.id)
        return frozenset(out)

    def actions(
        self,
        catalogue: Catalogue,
        direction: Direction,
        connection: str = "",
        groups: frozenset[str] = frozenset(),
    ) -> tuple[str | None, ...]:
        default = self.request_action if direction is Direction.REQUEST else self.response_action
        entries = [e for e in self.entries if e.applies(direction, connection, groups)]
        out: list[str | None] = []
        for rule in catalogue.rules:
            enabled = rule.enabled
            action: str = rule.action
            if default is not None and action in MASKING_ACTIONS:
                action = default
            for entry in entries:
                if entry.selects(rule):
                    enabled = entry.enabled
                    if entry.action is not None:
                        action = entry.action
            out.append(action if enabled else None)
        return tuple(out)
