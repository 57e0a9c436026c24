"""What every provider adapter shares: output items and channel bookkeeping.

A stream adapter is sans-IO: it is fed decoded SSE events and returns a list
of *items*: bytes to write to the agent, or a :class:`Hold` / :class:`Block`
that the server acts on. After a ``Hold`` the server feeds nothing until it
calls ``resume``, whose bytes it then writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from warden.pipeline.chain import ChannelChain, Pipeline
from warden.pipeline.types import Channel, ChannelOut, Decision, Exchange, Flow
from warden.protocols.sse import RemoteProtocolError


@dataclass(frozen=True, slots=True)
class Hold:
    """Pause the stream for a human. ``resume(approved, message)`` returns the
    bytes to write next; ``context`` is the masked text under review."""

    decision: Decision
    channel: Channel
    context: str
    resume: Callable[[bool, str], list[bytes]]


@dataclass(frozen=True, slots=True)
class Block:
    """Stop the exchange with a provider-format error naming the rule."""

    decision: Decision


Item = bytes | Hold | Block


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads_event(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise RemoteProtocolError("the upstream sent an SSE event whose data is not JSON") from exc


def denial_text(decision: Decision, message: str | None = None) -> str:
    """What the agent reads in place of a denied tool call or held output."""
    reason = message or decision.reason or "blocked by policy"
    return f"[Warden] {reason} (rule: {decision.rule})"


class ChannelBook:
    """The open channels of one exchange, and the decisions they produced."""

    def __init__(self, exchange: Exchange, pipeline: Pipeline) -> None:
        self.exchange = exchange
        self.pipeline = pipeline
        self.open: dict[str, ChannelChain] = {}
        self.closed: dict[str, ChannelChain] = {}

    def start(self, channel: Channel) -> ChannelChain:
        chain = self.pipeline.open_channel(self.exchange, channel)
        self.open[channel.key] = chain
        return chain

    def get(self, key: str) -> ChannelChain | None:
        return self.open.get(key)

    def feed(self, key: str, text: str) -> tuple[ChannelOut, Decision | None]:
        out = self.open[key].feed(text)
        return out, self._note(out)

    def end(self, key: str) -> tuple[ChannelOut, Decision | None]:
        chain = self.open.pop(key)
        out = chain.end()
        self.closed[key] = chain
        self._note_held(chain)
        if chain.changed:
            self.exchange.state["rewritten"] = True
        return out, self._note(out)

    def emitted(self, key: str) -> str | None:
        chain = self.open.get(key) or self.closed.get(key)
        return None if chain is None else chain.text

    def _note(self, out: ChannelOut) -> Decision | None:
        if out.decisions:
            self.exchange.decisions.extend(out.decisions)
        flow = out.flow_decision
        if flow is not None:
            self.exchange.state["rewritten"] = True
        return flow

    def _note_held(self, chain: ChannelChain) -> None:
        state = self.exchange.state
        state["held_max"] = max(int(state.get("held_max", 0)), chain.max_held)


def check_flow(decision: Decision | None) -> Block | None:
    if decision is not None and decision.flow is Flow.BLOCK:
        return Block(decision)
    return None
