"""Running the inspectors, in one explicit order, over a request and its channels.

Every stage sees what the stages before it let through: the guardrail after
the masker sees masked arguments. Decisions from every stage are kept; the
first one that changes the flow (deny, hold, block) is acted on by the
protocol adapter. An exception from any stage propagates: the caller stops
the exchange fail-closed.

What a channel releases is what is recorded. A stage may also offer a
*delivery form* of released text (``deliver(text) -> ChannelOut``): the
masker puts vault values back into the arguments of a tool call the agent
runs, so the recording keeps the placeholders while the agent gets values.
"""

from __future__ import annotations

from collections.abc import Sequence

from warden.pipeline.types import (
    Channel,
    ChannelInspector,
    ChannelOut,
    Decision,
    Exchange,
    Inspector,
    RequestView,
)


class ChannelChain:
    """One response channel run through every interested inspector."""

    __slots__ = ("_ended", "_fed", "_keep", "_stages", "channel", "emitted", "max_held")

    def __init__(
        self, channel: Channel, stages: Sequence[ChannelInspector], *, keep: bool = True
    ) -> None:
        self.channel = channel
        self._stages = tuple(stages)
        self._ended = False
        self._keep = keep
        """Keep what was fed and let through (``text``, ``changed``); off for a
        channel too long to hold (a file download), where both stay empty."""
        self._fed: list[str] = []
        self.emitted: list[str] = []
        self.max_held = 0

    def feed(self, text: str) -> ChannelOut:
        if self._ended:
            raise RuntimeError(f"channel {self.channel.key} fed after its end")
        keep = self._keep
        if keep:
            self._fed.append(text)
        if not self._stages:
            if keep:
                self.emitted.append(text)
            return ChannelOut(text)
        decisions: list[Decision] = []
        for stage in self._stages:
            out = stage.feed(text)
            decisions.extend(out.decisions)
            text = out.text
        self._note_held()
        if keep:
            self.emitted.append(text)
        return ChannelOut(text, tuple(decisions))

    def end(self) -> ChannelOut:
        if self._ended:
            raise RuntimeError(f"channel {self.channel.key} ended twice")
        self._ended = True
        decisions: list[Decision] = []
        text = ""
        for stage in self._stages:
            if text:
                fed = stage.feed(text)
                decisions.extend(fed.decisions)
                text = fed.text
            out = stage.end()
            decisions.extend(out.decisions)
            text += out.text
        if self._keep:
            self.emitted.append(text)
        return ChannelOut(text, tuple(decisions))

    def whole(self, text: str) -> ChannelOut:
        """Feed the channel's complete text and end it (a non-streamed body).

        The same as ``feed(text)`` then ``end()``, but a stage that offers a
        ``whole`` method gets the text in one piece, so it can skip the work
        a stream needs (deciding what to hold back for the next delta).
        """
        if self._ended:
            raise RuntimeError(f"channel {self.channel.key} fed after its end")
        self._ended = True
        if self._keep:
            self._fed.append(text)
        decisions: list[Decision] = []
        for stage in self._stages:
            at_once = getattr(stage, "whole", None)
            if at_once is not None:
                out: ChannelOut = at_once(text)
                decisions.extend(out.decisions)
                text = out.text
                continue
            fed = stage.feed(text)
            end = stage.end()
            decisions.extend(fed.decisions)
            decisions.extend(end.decisions)
            text = fed.text + end.text
        if self._keep:
            self.emitted.append(text)
        return ChannelOut(text, tuple(decisions))

    def deliver(self, text: str) -> ChannelOut:
        """Released ``text`` as the agent receives it, through every stage
        that has a ``deliver`` (in order); ``text`` itself stays recorded."""
        decisions: list[Decision] = []
        for stage in self._stages:
            deliver = getattr(stage, "deliver", None)
            if deliver is not None:
                out: ChannelOut = deliver(text)
                decisions.extend(out.decisions)
                text = out.text
        return ChannelOut(text, tuple(decisions))

    @property
    def held(self) -> int:
        return sum(stage.held for stage in self._stages)

    @property
    def changed(self) -> bool:
        """Whether what the channel let through differs from what it was fed."""
        return "".join(self._fed) != self.text

    @property
    def text(self) -> str:
        """Everything this channel has let through so far."""
        return "".join(self.emitted)

    def _note_held(self) -> None:
        held = self.held
        if held > self.max_held:
            self.max_held = held


class Pipeline:
    """The ordered inspector chain for one policy."""

    def __init__(self, inspectors: Sequence[Inspector]) -> None:
        self.inspectors = tuple(inspectors)

    def inspect_request(self, exchange: Exchange, request: RequestView) -> list[Decision]:
        decisions: list[Decision] = []
        for inspector in self.inspectors:
            decisions.extend(inspector.inspect_request(exchange, request))
        return decisions

    def open_channel(
        self, exchange: Exchange, channel: Channel, *, keep: bool = True
    ) -> ChannelChain:
        stages = []
        for inspector in self.inspectors:
            stage = inspector.open_channel(exchange, channel)
            if stage is not None:
                stages.append(stage)
        return ChannelChain(channel, stages, keep=keep)
