"""Small inspectors for exercising the pipeline and the adapters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from warden.pipeline.types import (
    EMPTY,
    Channel,
    ChannelKind,
    ChannelOut,
    Decision,
    Exchange,
    Flow,
    RequestView,
)


class _Stage:
    held = 0

    def feed(self, text: str) -> ChannelOut:
        return ChannelOut(text)

    def end(self) -> ChannelOut:
        return EMPTY


class _Upper(_Stage):
    def feed(self, text: str) -> ChannelOut:
        return ChannelOut(text.upper())


class _HoldAll(_Stage):
    def __init__(self) -> None:
        self.buf: list[str] = []

    def feed(self, text: str) -> ChannelOut:
        self.buf.append(text)
        return EMPTY

    @property
    def held(self) -> int:  # type: ignore[override]
        return sum(map(len, self.buf))

    def end(self) -> ChannelOut:
        text, self.buf = "".join(self.buf), []
        return ChannelOut(text)


class _Verdict(_HoldAll):
    def __init__(self, decision: Decision) -> None:
        super().__init__()
        self.decision = decision

    def end(self) -> ChannelOut:
        out = super().end()
        return ChannelOut(out.text, (self.decision,))


class _Raise(_Stage):
    def feed(self, text: str) -> ChannelOut:
        raise RuntimeError("inspector bug")


@dataclass
class TestInspector:
    """Upper-cases text, holds tool input to its end, and optionally decides."""

    __test__ = False
    name: str = "test"
    upper: bool = True
    tool_flow: Flow | None = None
    text_flow_on: str | None = None
    text_flow: Flow = Flow.HOLD
    """What text containing ``text_flow_on`` gets ("" matches every text)."""
    request_block: bool = False
    raise_on_text: bool = False
    request_upper: bool = False
    seen: list[str] = field(default_factory=list)

    def inspect_request(self, exchange: Exchange, request: RequestView) -> Sequence[Decision]:
        for slot in list(request.slots()):
            self.seen.append(slot.text)
            if self.request_upper:
                request.replace(slot, slot.text.upper())
        if self.request_block:
            return [Decision(Flow.BLOCK, "test-block", "block", "a test rule blocks this")]
        return []

    def open_channel(self, exchange: Exchange, channel: Channel) -> _Stage | None:
        if channel.kind is ChannelKind.TOOL_INPUT:
            if self.tool_flow is None:
                return _HoldAll()
            return _Verdict(
                Decision(self.tool_flow, "test-tool", self.tool_flow.value, "tool calls are tested")
            )
        if self.raise_on_text:
            return _Raise()
        if self.text_flow_on is not None:
            return _TextFlow(self.text_flow_on, self.text_flow)
        return _Upper() if self.upper else None


class _TextFlow(_Stage):
    def __init__(self, trigger: str, flow: Flow) -> None:
        self.trigger = trigger
        self.flow = flow

    def feed(self, text: str) -> ChannelOut:
        if self.trigger in text:
            if self.flow is Flow.HOLD:
                decision = Decision(Flow.HOLD, "test-hold", "review", "needs review")
            else:
                decision = Decision(self.flow, f"test-{self.flow.value}", "test", "tested")
            return ChannelOut(text, (decision,))
        return ChannelOut(text)
