"""The masking stage of the pipeline: the engine behind the ``Inspector`` protocol.

Request side: every text slot is scanned with the request-direction actions
and rewritten in place; results are cached per slot text (see
:mod:`warden.detect.verdicts`), so a resent conversation costs only what is
new. Thinking slots are the model's own output going back to the same
provider: they are not masked, and one that we masked on its way out is
restored from the session vault, so its signature verifies again.

Response side, per channel: text, thinking and refusal channels go through a
:class:`StreamMasker`; a tool call's arguments are held until the JSON is
complete, then the strings inside are masked and valid JSON is re-emitted
(text that does not parse is masked as raw text). Masked thinking has its
original stored in the vault, keyed by the masked text.

Decisions never carry values: rule, action, where (slot path or channel
key, plus the JSON pointer inside tool arguments), character offsets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from warden.detect.engine import KEEP, Actions, Engine
from warden.detect.mask import Masker, decisions
from warden.detect.policy import Policy
from warden.detect.stream import HoldOverflow, StreamMasker
from warden.detect.vault import MemoryVaults, Vault, VaultStore, detokenize
from warden.detect.verdicts import Verdict, VerdictCache, text_key
from warden.pipeline.types import (
    EMPTY,
    Channel,
    ChannelInspector,
    ChannelKind,
    ChannelOut,
    Decision,
    Direction,
    Exchange,
    Flow,
    RequestView,
    SlotKind,
)


def _vault_key(exchange: Exchange) -> str:
    """A session's vault belongs to its caller too: someone else who sends the
    same session id (they are not secret) gets a vault of their own, so
    placeholders they have seen restore nothing for them."""
    return f"{exchange.identity.subject}\x00{exchange.session_id}"


def _any_on(actions: Actions) -> bool:
    return any(a is not None and a != KEEP for a in actions)


@dataclass(frozen=True)
class _State:
    engine: Engine
    policy: Policy
    masker: Masker
    version: str
    actions: dict[tuple[Direction, str, frozenset[str]], _Actions] = field(default_factory=dict)

    def actions_for(self, direction: Direction, exchange: Exchange) -> _Actions:
        key = (direction, exchange.connection, exchange.identity.groups)
        found = self.actions.get(key)
        if found is None:
            if len(self.actions) > 4096:
                self.actions.clear()
            actions = self.engine.actions(
                self.policy.actions(
                    self.engine.catalogue, direction, exchange.connection, exchange.identity.groups
                )
            )
            found = self.actions[key] = _Actions(actions, _any_on(actions), hash(actions))
        return found


class _Actions(NamedTuple):
    """Per-rule actions for one direction, connection and set of groups, with
    what every exchange asks of them computed once (not per request: the
    tuple has one entry per rule)."""

    actions: tuple[str | None, ...]
    active: bool
    ident: int


class MaskingInspector:
    """Masks secrets and PII in both directions (see the module docstring)."""

    name = "masking"

    def __init__(
        self,
        engine: Engine,
        policy: Policy | None = None,
        *,
        hash_key: bytes,
        vaults: VaultStore | None = None,
        cache: VerdictCache | None = None,
        max_tool_input: int = 8 << 20,
        max_thinking: int = 4 << 20,
    ) -> None:
        self._hash_key = hash_key
        self._vaults: VaultStore = vaults if vaults is not None else MemoryVaults()
        self._cache = cache if cache is not None else VerdictCache()
        self._max_tool_input = max_tool_input
        self._max_thinking = max_thinking
        self._state = self._build(engine, policy or Policy())

    def _build(self, engine: Engine, policy: Policy) -> _State:
        masker = Masker(hash_key=self._hash_key, style=policy.mask.style())
        version = f"{engine.catalogue.version}:{policy.version}"
        return _State(engine, policy, masker, version)

    def swap(self, engine: Engine | None = None, policy: Policy | None = None) -> None:
        """Use a new engine and/or policy from the next exchange on (one assignment)."""
        state = self._state
        self._state = self._build(engine or state.engine, policy or state.policy)

    @property
    def engine(self) -> Engine:
        return self._state.engine

    @property
    def cache(self) -> VerdictCache:
        return self._cache

    # -- request ----------------------------------------------------------------

    def inspect_request(self, exchange: Exchange, request: RequestView) -> Sequence[Decision]:
        state = self._state
        actions, active, actions_id = state.actions_for(Direction.REQUEST, exchange)
        session = _vault_key(exchange)  # tokenized verdicts hold this vault's placeholders
        vault = self._vaults.for_session(session)
        masker = state.masker.with_vault(vault)
        out: list[Decision] = []
        version, engine, cache = state.version, state.engine, self._cache
        thinking = SlotKind.THINKING
        for slot in list(request.slots()):
            if slot.kind is thinking:
                if state.policy.restore_thinking:
                    original = vault.recall_thinking(slot.text)
                    if original is not None and original != slot.text:
                        request.replace(slot, original)
                        out.append(
                            Decision(
                                flow=Flow.REWRITE,
                                rule="thinking",
                                action="restore",
                                reason="masked thinking restored for its signature",
                                inspector=self.name,
                                channel=slot.describe(),
                            )
                        )
                continue
            text = slot.text
            if not active or not text:
                continue
            key = (session, version, actions_id, text_key(text))
            verdict = cache.get(key)
            if verdict is None:
                findings = engine.scan(text, actions)
                masked = masker.apply(text, findings) if findings else text
                verdict = Verdict(None if masked == text else masked, tuple(findings))
                cache.put(key, verdict)
            if verdict.masked is not None:
                request.replace(slot, verdict.masked)
            if verdict.findings:
                out.extend(
                    decisions(verdict.findings, inspector=self.name, channel=slot.describe())
                )
        return out

    # -- response -----------------------------------------------------------------

    def open_channel(self, exchange: Exchange, channel: Channel) -> ChannelInspector | None:
        state = self._state
        actions, active, _ = state.actions_for(Direction.RESPONSE, exchange)
        detok = state.policy.detokenize_tool_input and channel.kind is ChannelKind.TOOL_INPUT
        if not active and not detok:
            return None
        vault = self._vaults.for_session(_vault_key(exchange))
        masker = state.masker.with_vault(vault)
        if channel.kind is ChannelKind.TOOL_INPUT:
            return ToolInputChannel(
                state.engine,
                masker,
                actions,
                key=channel.key,
                inspector=self.name,
                detokenize_with=vault if detok else None,
                max_chars=self._max_tool_input,
            )
        remember = (
            vault
            if channel.kind is ChannelKind.THINKING and state.policy.restore_thinking
            else None
        )
        return TextChannel(
            StreamMasker(state.engine, masker.render, actions),
            key=channel.key,
            inspector=self.name,
            remember_in=remember,
            max_remember=self._max_thinking,
        )


class TextChannel:
    """A text-like channel through a stream masker."""

    def __init__(
        self,
        masker: StreamMasker,
        *,
        key: str,
        inspector: str,
        remember_in: Vault | None = None,
        max_remember: int = 4 << 20,
    ) -> None:
        self._masker = masker
        self._key = key
        self._inspector = inspector
        self._vault = remember_in
        self._max = max_remember
        self._original: list[str] | None = [] if remember_in is not None else None
        self._masked: list[str] = []
        self._size = 0

    @property
    def held(self) -> int:
        return self._masker.held

    def feed(self, text: str) -> ChannelOut:
        out = self._masker.feed(text)
        self._keep(text, out)
        return self._out(out)

    def whole(self, text: str) -> ChannelOut:
        """The complete text of a non-streamed body, masked in one pass."""
        if self._original is not None:  # thinking to remember: the usual path
            fed = self.feed(text)
            end = self.end()
            return ChannelOut(fed.text + end.text, fed.decisions + end.decisions)
        return self._out(self._masker.whole(text))

    def end(self) -> ChannelOut:
        out = self._masker.flush()
        self._keep("", out)
        if self._vault is not None and self._original is not None:
            original, masked = "".join(self._original), "".join(self._masked)
            if original != masked:
                self._vault.remember_thinking(masked, original)
        return self._out(out)

    def _keep(self, text: str, out: str) -> None:
        if self._original is None:
            return
        self._size += len(text) + len(out)
        if self._size > self._max:
            self._original = None  # too long to keep: its signature will not verify
            return
        self._original.append(text)
        self._masked.append(out)

    def _out(self, text: str) -> ChannelOut:
        found = self._masker.findings
        if not text and not found:
            return EMPTY
        return ChannelOut(
            text, tuple(decisions(found, inspector=self._inspector, channel=self._key))
        )


_Rewrite = Callable[[str, str, list[Decision]], str]
"""Rewrites one string of a tool call's arguments (text, JSON pointer, decisions out)."""


class ToolInputChannel:
    """A tool call's JSON arguments: held whole, masked inside string values.

    With a vault (``detokenize_with``), :meth:`deliver` gives the form the
    agent receives: placeholders of that vault replaced by their values. What
    :meth:`end` released, with the placeholders, is what is recorded.
    """

    def __init__(
        self,
        engine: Engine,
        masker: Masker,
        actions: Actions,
        *,
        key: str,
        inspector: str,
        detokenize_with: Vault | None = None,
        max_chars: int = 8 << 20,
    ) -> None:
        self._engine = engine
        self._masker = masker
        self._actions = actions
        self._active = _any_on(actions)
        self._key = key
        self._inspector = inspector
        self._vault = detokenize_with
        self._max = max_chars
        self._parts: list[str] = []
        self._held = 0

    @property
    def held(self) -> int:
        return self._held

    def feed(self, text: str) -> ChannelOut:
        self._held += len(text)
        if self._held > self._max:
            raise HoldOverflow(f"tool arguments longer than {self._max} characters")
        self._parts.append(text)
        return EMPTY

    def end(self) -> ChannelOut:
        raw = "".join(self._parts)
        self._parts, self._held = [], 0
        if not raw or not self._active:
            return ChannelOut(raw)
        return self._rewrite(raw, self._mask_string)

    def deliver(self, text: str) -> ChannelOut:
        """``text`` (released by this channel) as the agent receives it: vault
        values back inside string values, re-emitted as valid JSON; in the
        text itself when it is not JSON (a freeform input such as a patch)."""
        if self._vault is None or not text:
            return ChannelOut(text)
        return self._rewrite(text, self._restore_string)

    def _rewrite(self, raw: str, rewrite: _Rewrite) -> ChannelOut:
        found: list[Decision] = []
        try:
            document = json.loads(raw)
        except ValueError:
            return ChannelOut(rewrite(raw, "", found), tuple(found))
        changed, document = self._walk(document, "", found, rewrite)
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":")) if changed else raw
        return ChannelOut(text, tuple(found))

    def _walk(
        self, value: Any, pointer: str, found: list[Decision], rewrite: _Rewrite
    ) -> tuple[bool, Any]:
        if isinstance(value, str):
            new = rewrite(value, pointer, found)
            return new != value, new
        if isinstance(value, list):
            changed = False
            items = []
            for i, item in enumerate(value):
                c, item = self._walk(item, f"{pointer}/{i}", found, rewrite)
                changed |= c
                items.append(item)
            return changed, items
        if isinstance(value, dict):
            changed = False
            obj = {}
            for name, item in value.items():
                escaped = str(name).replace("~", "~0").replace("/", "~1")
                c, obj[name] = self._walk(item, f"{pointer}/{escaped}", found, rewrite)
                changed |= c
            return changed, obj
        return False, value

    def _where(self, pointer: str) -> str:
        return f"{self._key}#{pointer}" if pointer else self._key

    def _mask_string(self, text: str, pointer: str, found: list[Decision]) -> str:
        findings = self._engine.scan(text, self._actions)
        if not findings:
            return text
        found.extend(decisions(findings, inspector=self._inspector, channel=self._where(pointer)))
        return self._masker.apply(text, findings)

    def _restore_string(self, text: str, pointer: str, found: list[Decision]) -> str:
        assert self._vault is not None
        text, restored = detokenize(text, self._vault)
        found.extend(
            Decision(
                flow=Flow.REWRITE,
                rule=rule,
                action="detokenize",
                reason="vault value restored for the agent's tool call",
                inspector=self._inspector,
                channel=self._where(pointer),
                start=start,
                end=end,
            )
            for rule, start, end in restored
        )
        return text
