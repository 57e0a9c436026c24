"""The types every inspector and every connection type share.

An *exchange* is one request from an agent and the response to it. The
protocol adapters (``warden.protocols``) turn a provider's wire format into
two things an inspector can reason about without knowing the provider:

* the **request view**: every piece of text the agent sends, as
  :class:`TextSlot` values an inspector may read and rewrite in place;
* **channels**: one per text stream in the response (an Anthropic content
  block, an OpenAI choice's content, one tool call's arguments, one Responses
  output item). A channel is fed as deltas arrive and ended once.

Inspectors return values, never booleans and never exceptions: a
:class:`Decision` says what was decided, by which rule, and why; a
:class:`ChannelOut` says what text may leave now and whether the flow must
change (deny a tool call, hold for review, block the exchange). An exception
raised by an inspector is a *failure*, and the pipeline stops the exchange
fail-closed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class Direction(enum.StrEnum):
    REQUEST = "request"
    RESPONSE = "response"


class Flow(enum.StrEnum):
    """What a decision does to the flow of the exchange.

    ``PASS`` and ``REWRITE`` leave the flow alone (a rewrite changes text, the
    text itself travels in :class:`ChannelOut` or the request slot). The other
    three change it:

    * ``DENY``: the channel (a tool call) is replaced by a text explaining what
      was blocked and the message ends cleanly, without a ``tool_use`` stop.
    * ``HOLD``: the channel pauses until a human approves (then it continues)
      or denies / the hold times out (then it ends like ``DENY``).
    * ``BLOCK``: the whole exchange is refused with a provider-format error.
    """

    PASS = "pass"
    REWRITE = "rewrite"
    DENY = "deny"
    HOLD = "hold"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class Decision:
    """One explainable decision: rule id, action, where. Never the raw value."""

    flow: Flow
    rule: str
    action: str
    reason: str = ""
    inspector: str = ""
    channel: str | None = None
    start: int | None = None
    end: int | None = None
    severity: str | None = None

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready form for logs and recordings (never holds content)."""
        out: dict[str, Any] = {
            "flow": self.flow.value,
            "rule": self.rule,
            "action": self.action,
        }
        for key in ("reason", "inspector", "channel", "start", "end", "severity"):
            value = getattr(self, key)
            if value not in (None, ""):
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling: the gateway identity the agent's credential maps to."""

    subject: str
    groups: frozenset[str] = frozenset()
    auth_method: str = "service-token"
    display_name: str | None = None


class ChannelKind(enum.StrEnum):
    TEXT = "text"
    THINKING = "thinking"
    TOOL_INPUT = "tool_input"
    """The arguments of a tool call, a JSON document streamed as text."""
    REFUSAL = "refusal"


@dataclass(frozen=True, slots=True)
class Channel:
    """One text stream inside a response."""

    key: str
    """Stable inside the exchange, e.g. ``content/0``, ``choice/0/tool/1``."""
    kind: ChannelKind
    tool_name: str | None = None
    tool_id: str | None = None
    tool_type: str | None = None
    """``tool_use``, ``server_tool_use``, ``function``, ``function_call``, ..."""


@dataclass(frozen=True, slots=True)
class ChannelOut:
    """What an inspector lets through after a feed or at the end of a channel.

    ``text`` goes on to the next inspector and, after the last one, to the
    agent. ``decisions`` are recorded; the first one whose flow is ``DENY``,
    ``HOLD`` or ``BLOCK`` changes the flow, and ``text`` is then what must be
    released if the flow resumes (after an approval).
    """

    text: str = ""
    decisions: tuple[Decision, ...] = ()

    @property
    def flow_decision(self) -> Decision | None:
        for decision in self.decisions:
            if decision.flow in (Flow.DENY, Flow.HOLD, Flow.BLOCK):
                return decision
        return None


EMPTY = ChannelOut()


class SlotKind(enum.StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    THINKING = "thinking"
    TOOL_RESULT = "tool_result"
    TOOL_INPUT = "tool_input"
    OTHER = "other"


@dataclass(slots=True)
class TextSlot:
    """One string the agent sends, addressed by its JSON path in the body."""

    path: tuple[str | int, ...]
    kind: SlotKind
    text: str
    role: str | None = None

    def describe(self) -> str:
        return "/".join(str(p) for p in self.path)


class RequestView(Protocol):
    """The request body as the inspectors see it.

    ``json`` is the parsed body (``None`` when the body is not JSON, e.g. a
    multipart upload). ``slots()`` yields each text the agent sends; writing a
    new string through :meth:`replace` marks the body dirty so the adapter
    re-serialises it. An untouched body is forwarded byte for byte.
    """

    @property
    def json(self) -> Any: ...

    @property
    def operation(self) -> str:
        """``messages``, ``chat.completions``, ``responses``, ``embeddings``..."""
        ...

    def slots(self) -> Iterator[TextSlot]: ...

    def replace(self, slot: TextSlot, text: str) -> None: ...


@dataclass(slots=True)
class Exchange:
    """Per-exchange context handed to every inspector; never stored on them."""

    id: str
    session_id: str
    connection: str
    connection_type: str
    identity: Identity
    operation: str = ""
    streaming: bool = False
    client_address: str | None = None
    user_agent: str | None = None
    decisions: list[Decision] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    """Per-exchange scratch space keyed by inspector name."""


class ChannelInspector(Protocol):
    """Inspects one channel. Created per channel, so it may keep state."""

    def feed(self, text: str) -> ChannelOut: ...

    def end(self) -> ChannelOut: ...

    @property
    def held(self) -> int:
        """How many characters it holds back right now (a metric)."""
        ...


@runtime_checkable
class Inspector(Protocol):
    """A pipeline stage. Built-in inspectors use exactly this interface.

    ``inspect_request`` may rewrite slots of the request view and returns the
    decisions it took (``BLOCK`` refuses the request). ``open_channel``
    returns a :class:`ChannelInspector` for a response channel, or ``None``
    when this inspector has no interest in it.
    """

    name: str

    def inspect_request(self, exchange: Exchange, request: RequestView) -> Sequence[Decision]: ...

    def open_channel(self, exchange: Exchange, channel: Channel) -> ChannelInspector | None: ...
