"""The pipeline adapter: guardrails as an :class:`~warden.pipeline.types.Inspector`.

Response side only for now. For every ``TOOL_INPUT`` channel it buffers the
streamed arguments (nothing leaves before the verdict), and at ``end()``
evaluates the whole document and returns it with the decisions: the original
text byte for byte, or the re-serialised masked arguments when a mask rule
fired. Because nothing is judged before the end, the verdict cannot depend on
how the provider chunked the arguments.

The buffer is capped at the pack's ``max_argument_chars``: past it the channel
releases what it holds with the ``on_too_large`` decision and passes the rest
through, since that decision (deny or hold) already stops the tool call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from warden.guard.engine import GuardEngine, GuardVerdict
from warden.guard.model import ProblemCode
from warden.pipeline.types import (
    Channel,
    ChannelInspector,
    ChannelKind,
    ChannelOut,
    Decision,
    Exchange,
    RequestView,
)

_FREEFORM_TYPES = frozenset({"custom", "custom_tool_call"})


class GuardrailInspector:
    """Checks every tool call before a byte of its arguments reaches the agent."""

    def __init__(self, engine: GuardEngine, *, name: str = "guardrails") -> None:
        self.name = name
        self.engine = engine

    def inspect_request(self, exchange: Exchange, request: RequestView) -> Sequence[Decision]:
        return ()

    def open_channel(self, exchange: Exchange, channel: Channel) -> ChannelInspector | None:
        if channel.kind is not ChannelKind.TOOL_INPUT:
            return None
        return ToolInputGuard(self.engine, channel, self.name)


class ToolInputGuard:
    """One tool call's arguments: buffer, then judge at the end."""

    def __init__(self, engine: GuardEngine, channel: Channel, inspector: str) -> None:
        self._engine = engine
        self._channel = channel
        self._inspector = inspector
        self._parts: list[str] = []
        self._size = 0
        self._limit = engine.pack.settings.max_argument_chars
        self._overflowed = False
        self.verdict: GuardVerdict | None = None
        """The verdict once decided (for tests and the approvals plumbing)."""

    @property
    def held(self) -> int:
        return self._size

    def feed(self, text: str) -> ChannelOut:
        if self._overflowed:
            return ChannelOut(text=text)
        self._parts.append(text)
        self._size += len(text)
        if self._size <= self._limit:
            return ChannelOut()
        held = self._release()
        self._overflowed = True
        self.verdict = self._engine.fail_safe(
            self._tool, held, ProblemCode.TOO_LARGE, "arguments longer than max_argument_chars"
        )
        return ChannelOut(text=held, decisions=self._decisions(self.verdict))

    def end(self) -> ChannelOut:
        if self._overflowed:
            return ChannelOut()
        text = self._release()
        raw_ok = (self._channel.tool_type or "") in _FREEFORM_TYPES
        verdict = self._engine.evaluate_json(self._tool, text, raw_ok=raw_ok)
        self.verdict = verdict
        if verdict.masked:
            out = (
                verdict.arguments
                if isinstance(verdict.arguments, str)
                else json.dumps(verdict.arguments, ensure_ascii=False, separators=(",", ":"))
            )
        else:
            out = text
        return ChannelOut(text=out, decisions=self._decisions(verdict))

    @property
    def _tool(self) -> str:
        return self._channel.tool_name or ""

    def _release(self) -> str:
        text = "".join(self._parts)
        self._parts.clear()
        self._size = 0
        return text

    def _decisions(self, verdict: GuardVerdict) -> tuple[Decision, ...]:
        return tuple(
            Decision(
                flow=d.flow,
                rule=d.rule,
                action=d.action,
                reason=d.reason,
                inspector=self._inspector,
                channel=self._channel.key,
                severity=d.severity,
            )
            for d in verdict.decisions
        )
