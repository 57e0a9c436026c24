"""What every provider adapter shares: output items and channel bookkeeping.

A stream adapter is sans-IO: it is fed decoded SSE events and returns a list
of *items*: bytes to write to the agent, or a :class:`Hold` / :class:`Block`
that the server acts on. After a ``Hold`` the server feeds nothing until it
calls ``resume``, whose bytes it then writes.

What is recorded is what the inspectors released. Only the arguments of a
tool call the agent itself runs may reach the agent in another form (vault
values back in place of placeholders, see :meth:`ChannelBook.deliver`): a
streamed event then travels as :class:`Restored` (both encodings), and a
non-streamed body comes with :class:`Patch` values for the agent's copy.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from warden.errors import ErrorKind, GatewayError
from warden.pipeline.chain import ChannelChain, Pipeline
from warden.pipeline.types import (
    EMPTY,
    Channel,
    ChannelKind,
    ChannelOut,
    Decision,
    Exchange,
    Flow,
    SlotKind,
    TextSlot,
)
from warden.protocols.sse import RemoteProtocolError, SSEEvent


@dataclass(frozen=True, slots=True)
class Restored:
    """One event in two encodings: ``recorded`` holds the placeholders the
    provider wrote, ``delivered`` the vault values put back for the agent (in
    the arguments of a tool call it runs). The server writes one, records the
    other."""

    recorded: bytes
    delivered: bytes


Wire = bytes | Restored
"""What is written to the agent."""


@dataclass(frozen=True, slots=True)
class Hold:
    """Pause the stream for a human. ``resume(approved, message)`` returns the
    bytes to write next; ``context`` is the masked text under review."""

    decision: Decision
    channel: Channel
    context: str
    resume: Callable[[bool, str], list[Wire]]


@dataclass(frozen=True, slots=True)
class Block:
    """Stop the exchange with a provider-format error naming the rule."""

    decision: Decision


Item = bytes | Restored | Hold | Block


@dataclass(frozen=True, slots=True)
class Patch:
    """In a non-streamed body, ``target[key]`` as the agent receives it
    (``value``); the body itself stays what is recorded."""

    target: dict[str, Any]
    key: str
    value: Any


@contextlib.contextmanager
def patched(patches: Sequence[Patch]) -> Iterator[None]:
    """Apply ``patches`` for the duration of the block (to encode the agent's copy)."""
    missing = object()
    saved = [(p.target, p.key, p.target.get(p.key, missing)) for p in patches]
    for patch in patches:
        patch.target[patch.key] = patch.value
    try:
        yield
    finally:
        for target, key, value in reversed(saved):
            if value is missing:
                del target[key]
            else:
                target[key] = value


def split(recorded: bytes, patches: Sequence[Patch], encode: Callable[[], bytes]) -> Wire:
    """``recorded``, or both encodings when ``patches`` change what the agent gets."""
    if not patches:
        return recorded
    with patched(patches):
        delivered = encode()
    return recorded if delivered == recorded else Restored(recorded, delivered)


def dumps(value: Any) -> str:
    """Compact JSON, other than ASCII kept as is, and always encodable as
    UTF-8: a lone surrogate (a legal ``\\udXXX`` escape in what a peer sent,
    e.g. half an emoji cut by a client's truncation) stays escaped."""
    return dumps_bytes(value).decode()


def dumps_bytes(value: Any) -> bytes:
    """:func:`dumps`, encoded. orjson writes it, at about a tenth of the
    standard encoder's cost (it runs for every event a masker rewrites, and
    for every rewritten body); what orjson refuses (an integer beyond 64
    bits, a lone surrogate) is written by the standard encoder."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError
        pass
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate: keep it escaped
        return json.dumps(value, separators=(",", ":")).encode()


def loads_event(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise RemoteProtocolError("the upstream sent an SSE event whose data is not JSON") from exc


def blocked_error(decision: Decision, *, request: bool = False) -> GatewayError:
    """The error for a request, or an answer, a blocking rule stopped."""
    what, done = ("request", "blocked") if request else ("response", "stopped")
    reason = decision.reason or f"the {what} matched a blocking rule"
    return GatewayError(
        ErrorKind.BLOCKED,
        f"Warden {done} this {what}: {reason} (rule: {decision.rule})",
        rule=decision.rule,
    )


def denial_text(decision: Decision, message: str | None = None) -> str:
    """What the agent reads in place of a denied tool call or held output."""
    reason = message or decision.reason or "blocked by policy"
    return f"[Warden] {reason} (rule: {decision.rule})"


ROLE_KINDS: dict[str, SlotKind] = {
    "system": SlotKind.SYSTEM,
    "developer": SlotKind.SYSTEM,
    "user": SlotKind.USER,
    "assistant": SlotKind.ASSISTANT,
}
"""The slot kind of an OpenAI message's text, by the message's role."""


def content_slots(
    path: tuple[str | int, ...], kind: SlotKind, content: Any, role: str | None
) -> Iterator[TextSlot]:
    """An OpenAI message's ``content`` as slots: a string, or the ``text``
    of each part of a list (Chat ``messages``, Responses ``input``)."""
    if isinstance(content, str):
        yield TextSlot(path, kind, content, role)
    elif isinstance(content, list):
        for j, part in enumerate(content):
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield TextSlot((*path, j, "text"), kind, part["text"], role)


def user_strings(body: Any, key: str) -> Iterator[TextSlot]:
    """``body[key]`` as user text slots: a string, or each string of a list
    (an embeddings ``input``, a text Completions ``prompt``)."""
    value = body.get(key) if isinstance(body, dict) else None
    if isinstance(value, str):
        yield TextSlot((key,), SlotKind.USER, value, "user")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield TextSlot((key, i), SlotKind.USER, item, "user")


class ChunkStream(Protocol):
    """An OpenAI chunk stream adapter (Chat Completions, text Completions)."""

    done: bool
    saw_end: bool
    template: dict[str, Any]
    """The stream's ``id``, ``object``, ``created`` and ``model``, from its
    first chunk: the envelope of the chunks an adapter writes itself."""

    def finish(self) -> list[Item]: ...


def openai_chunk(stream: ChunkStream, event: SSEEvent) -> dict[str, Any] | list[Item]:
    """The chunk of ``event``, or the items to emit instead of reading one.

    What the OpenAI chunk streams share: after the end, nothing; an event
    without data passes as it is; ``[DONE]`` releases what is held and ends
    the stream; a chunk without ``choices`` passes as it is, and ends the
    stream when it is an error (sent mid-stream as ``{"error": ...}``); the
    first chunk read sets the stream's ``template``.
    """
    if stream.done:
        return []
    if not event.has_data:
        return [event.raw]
    if event.data.strip() == "[DONE]":
        stream.saw_end = True
        return [*stream.finish(), event.raw]
    data = loads_event(event.data)
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        stream.saw_end |= isinstance(data, dict) and "error" in data
        return [event.raw]
    if not stream.template:
        stream.template = {k: data[k] for k in ("id", "object", "created", "model") if k in data}
    return data


class ChannelBook:
    """The open channels of one exchange, and the decisions they produced."""

    def __init__(self, exchange: Exchange, pipeline: Pipeline, *, complete: bool = False) -> None:
        self.exchange = exchange
        self.pipeline = pipeline
        self.open: dict[str, ChannelChain] = {}
        self.closed: dict[str, ChannelChain] = {}
        self._delivered: dict[str, tuple[str, str]] = {}
        self.complete = complete
        """A non-streamed body: each channel is fed its whole text, then ended.
        ``feed`` then only keeps the text, and ``end`` runs it through the
        chain in one piece (see :meth:`ChannelChain.whole`)."""
        self._whole: dict[str, list[str]] = {}
        self.released = 0
        """How many times a channel let text through (the relay sends the
        stream's first content without waiting for the rest of its read)."""

    def start(self, channel: Channel) -> ChannelChain:
        chain = self.pipeline.open_channel(self.exchange, channel)
        self.open[channel.key] = chain
        return chain

    def get(self, key: str) -> ChannelChain | None:
        return self.open.get(key)

    def feed(self, key: str, text: str) -> tuple[ChannelOut, Decision | None]:
        if self.complete:
            if key not in self.open:
                raise KeyError(key)
            self._whole.setdefault(key, []).append(text)
            return EMPTY, None
        out = self.open[key].feed(text)
        return out, self._note(out)

    def end(self, key: str) -> tuple[ChannelOut, Decision | None]:
        chain = self.open.pop(key)
        out = chain.whole("".join(self._whole.pop(key, ()))) if self.complete else chain.end()
        self.closed[key] = chain
        self._note_held(chain)
        if chain.changed:
            self.exchange.state["rewritten"] = True
        return out, self._note(out)

    def deliver(self, key: str, text: str) -> str:
        """What the agent receives for ``text`` released by tool channel
        ``key``: the chain's delivery form (vault values restored, when the
        policy allows it). ``text`` stays what is recorded. Call it only for
        tool calls the agent runs itself; asking again for the same text
        returns the same answer without new decisions."""
        if not text:
            return text
        known = self._delivered.get(key)
        if known is not None and known[0] == text:
            return known[1]
        chain = self.open.get(key) or self.closed.get(key)
        if chain is None:
            return text
        out = chain.deliver(text)
        self._delivered[key] = (text, out.text)
        self.exchange.decisions.extend(out.decisions)
        return out.text

    def emitted(self, key: str) -> str | None:
        chain = self.open.get(key) or self.closed.get(key)
        return None if chain is None else chain.text

    def _note(self, out: ChannelOut) -> Decision | None:
        if out.text:
            self.released += 1
        if out.decisions:
            self.exchange.decisions.extend(out.decisions)
        flow = out.flow_decision
        if flow is not None:
            self.exchange.state["rewritten"] = True
        return flow

    def _note_held(self, chain: ChannelChain) -> None:
        state = self.exchange.state
        state["held_max"] = max(int(state.get("held_max", 0)), chain.max_held)


def whole_text(
    book: ChannelBook, key: str, kind: ChannelKind, text: str
) -> tuple[str, Decision | None]:
    """``text`` through a channel of its own, in one piece: what the channel
    released, and the decision that stopped it (if one did)."""
    book.start(Channel(key, kind))
    first, fed = book.feed(key, text)
    last, ended = book.end(key)
    return first.text + last.text, fed or ended


def strip_logprobs(value: Any) -> bool:
    """Empty every ``logprobs`` in ``value`` (in place); True if one held anything.

    Log probabilities repeat the output token by token, as text and as UTF-8
    bytes, beside the text channels the inspectors see: relayed, they would
    carry a masked secret (or a denied tool call) to the agent in pieces. A
    list becomes ``[]``, anything else ``null``, so the shape stays valid."""
    found = False
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "logprobs":
                if item:
                    value[key] = [] if isinstance(item, list) else None
                    found = True
            elif isinstance(item, dict | list):
                found |= strip_logprobs(item)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                found |= strip_logprobs(item)
    return found


def check_flow(decision: Decision | None) -> Block | None:
    if decision is not None and decision.flow is Flow.BLOCK:
        return Block(decision)
    return None
