"""What the fake model says: scripted replies, queued per test.

A reply is a sequence of blocks (thinking, text, tool calls) or a failure.
Each provider dialect renders the same reply in its own wire format, so one
script drives Anthropic, OpenAI chat, OpenAI responses and Azure alike.

Replies can carry a `Match` so that side requests a client makes on its own
(Claude Code's small-model calls, title generation) do not consume the reply
meant for the main turn. A reply made with `respond` is computed from the
request when it is taken (in-process only), like a model that reads what the
tool it called returned before it answers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Dialect = Literal["anthropic", "openai-chat", "openai-responses"]


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str | None = None  # generated in the dialect's id style when None


@dataclass(frozen=True)
class Thinking:
    thinking: str
    signature: str = "sig-fake-0001"


Block = Text | ToolCall | Thinking


@dataclass(frozen=True)
class Failure:
    """An error answer. `kind` is the Anthropic error type; OpenAI dialects map the status."""

    status: int
    message: str
    kind: str | None = None
    # Fail mid-stream after this many deltas instead of before the response starts.
    after_deltas: int | None = None


@dataclass(frozen=True)
class Match:
    """Which requests may take a reply. Every field that is set must hold."""

    dialect: Dialect | None = None
    model_contains: str | None = None
    has_tools: bool | None = None

    def accepts(self, request: ModelRequest) -> bool:
        if self.dialect is not None and request.dialect != self.dialect:
            return False
        if self.model_contains is not None and self.model_contains not in request.model:
            return False
        return self.has_tools is None or self.has_tools == request.has_tools


@dataclass(frozen=True)
class Reply:
    blocks: tuple[Block, ...] = ()
    failure: Failure | None = None
    match: Match = field(default_factory=Match)
    # Seconds between deltas; None means the provider's default pacing.
    delay: float | None = None
    # Computes the reply from the request when it is taken (see `respond`).
    compute: Callable[[ModelRequest], Reply] | None = None

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [b for b in self.blocks if isinstance(b, ToolCall)]

    @property
    def text(self) -> str:
        return "".join(b.text for b in self.blocks if isinstance(b, Text))


@dataclass(frozen=True)
class ModelRequest:
    """The parts of a model request the script cares about."""

    dialect: Dialect
    model: str
    has_tools: bool
    last_user_text: str
    # The request body as received (what `respond` callbacks read).
    body: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def say(text: str, *, match: Match | None = None, delay: float | None = None) -> Reply:
    return Reply(blocks=(Text(text),), match=match or Match(), delay=delay)


def call_tool(
    name: str,
    arguments: dict[str, Any],
    *,
    text: str | None = None,
    call_id: str | None = None,
    match: Match | None = None,
) -> Reply:
    blocks: tuple[Block, ...] = (ToolCall(name, arguments, call_id),)
    if text:
        blocks = (Text(text), *blocks)
    return Reply(blocks=blocks, match=match or Match())


def respond(compute: Callable[[ModelRequest], Reply], *, match: Match | None = None) -> Reply:
    """A reply computed from the request that takes it (in-process providers only)."""
    return Reply(match=match or Match(), compute=compute)


def think(thinking: str, text: str, *, signature: str = "sig-fake-0001") -> Reply:
    return Reply(blocks=(Thinking(thinking, signature), Text(text)))


def fail(
    status: int,
    message: str,
    *,
    kind: str | None = None,
    after_deltas: int | None = None,
    match: Match | None = None,
) -> Reply:
    return Reply(failure=Failure(status, message, kind, after_deltas), match=match or Match())


def default_reply(request: ModelRequest) -> Reply:
    """What the model says when nothing is scripted: a short echo."""
    heard = " ".join(request.last_user_text.split())[:60]
    return say(f"ok: {heard}" if heard else "ok")


class Script:
    """A thread-safe queue of replies (tests push from one thread, the server pops in another)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Reply] = []

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[Reply]:
        with self._lock:
            return list(self._queue)

    def next_for(self, request: ModelRequest) -> Reply:
        with self._lock:
            for i, reply in enumerate(self._queue):
                if reply.match.accepts(request):
                    taken = self._queue.pop(i)
                    break
            else:
                return default_reply(request)
        return taken if taken.compute is None else taken.compute(request)


def pieces(text: str, size: int = 3) -> Iterator[str]:
    """Token-sized deltas: a few characters each, never empty."""
    for start in range(0, len(text), size):
        yield text[start : start + size]


def estimate_tokens(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return max(1, len(text) // 4)


# --- JSON form, for the control API of a provider running as a subprocess ---


def reply_to_json(reply: Reply) -> dict[str, Any]:
    if reply.compute is not None:
        raise ValueError("a computed reply (`respond`) only works with an in-process provider")
    blocks = [{"type": type(b).__name__.lower(), **asdict(b)} for b in reply.blocks]
    return {
        "blocks": blocks,
        "failure": asdict(reply.failure) if reply.failure else None,
        "match": asdict(reply.match),
        "delay": reply.delay,
    }


_BLOCK_TYPES: dict[str, type[Text] | type[ToolCall] | type[Thinking]] = {
    "text": Text,
    "toolcall": ToolCall,
    "thinking": Thinking,
}


def reply_from_json(data: dict[str, Any]) -> Reply:
    blocks: list[Block] = []
    for raw in data.get("blocks", []):
        fields = dict(raw)
        blocks.append(_BLOCK_TYPES[fields.pop("type")](**fields))
    failure = data.get("failure")
    return Reply(
        blocks=tuple(blocks),
        failure=Failure(**failure) if failure else None,
        match=Match(**data.get("match", {})),
        delay=data.get("delay"),
    )
