"""Which operations of each connection type the gateway inspects.

Anything not listed here (models, files, batches, new endpoints) is passed
through untouched, so new API versions keep working.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from warden.config.model import ConnectionType
from warden.errors import Flavor
from warden.pipeline.chain import Pipeline
from warden.pipeline.request import SlotWalker
from warden.pipeline.types import Exchange
from warden.protocols import (
    anthropic,
    anthropic_complete,
    openai_chat,
    openai_completions,
    openai_responses,
    openai_responses_request,
)
from warden.protocols.base import Block, Item, Patch
from warden.protocols.sse import SSEEvent


class StreamAdapter(Protocol):
    done: bool
    """The adapter ended the stream itself (a block or a denial): stop feeding."""
    saw_end: bool
    """The upstream sent its stream's last event (or an error event): an end
    of the upstream's body before this is a truncated answer."""

    def feed(self, event: SSEEvent) -> list[Item]: ...

    def finish(self) -> list[Item]: ...


BodyTransform = Callable[[Any, Exchange, Pipeline], list[Block] | list[Patch] | None]
"""Inspects a non-streamed body in place (what is recorded); returns
``[Block]`` to refuse it, or the patches that make the agent's copy."""
StreamFactory = Callable[[Exchange, Pipeline], StreamAdapter]


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    walker: SlotWalker
    stream: StreamFactory | None = None
    body: BodyTransform | None = None
    responses_api: bool = False
    refuse: Callable[[Any], str | None] | None = None
    """Why a request cannot be relayed safely (a form no adapter inspects), if so."""


MESSAGES = Operation(
    "messages", anthropic.iter_slots, anthropic.AnthropicStream, anthropic.transform_body
)
COUNT_TOKENS = Operation("count_tokens", anthropic.iter_slots)
COMPLETE = Operation(
    "complete",
    anthropic.iter_slots,
    anthropic_complete.CompleteStream,
    anthropic_complete.transform_complete_body,
)
CHAT = Operation(
    "chat.completions",
    openai_chat.iter_chat_slots,
    openai_chat.ChatStream,
    openai_chat.transform_chat_body,
    refuse=openai_chat.refuse_chat,
)
RESPONSES = Operation(
    "responses",
    openai_responses_request.iter_responses_slots,
    openai_responses.ResponsesStream,
    openai_responses.transform_responses_body,
    refuse=openai_responses_request.refuse_responses,
    responses_api=True,
)
EMBEDDINGS = Operation("embeddings", openai_chat.iter_embedding_slots)
COMPLETIONS = Operation(
    "completions",
    openai_completions.iter_completion_slots,
    openai_completions.CompletionStream,
    openai_completions.transform_completion_body,
)


def flavor(kind: ConnectionType) -> Flavor:
    return Flavor.ANTHROPIC if kind is ConnectionType.ANTHROPIC else Flavor.OPENAI


def resolve(kind: ConnectionType, method: str, tail: str) -> Operation | None:
    if method != "POST":
        return None
    path = "/" + tail.strip("/")
    if kind is ConnectionType.ANTHROPIC:
        if path.endswith("/v1/messages"):
            return MESSAGES
        if path.endswith("/v1/messages/count_tokens"):
            return COUNT_TOKENS
        if path.endswith("/v1/complete"):
            return COMPLETE
        return None
    if path.endswith("/chat/completions"):
        return CHAT
    if path.endswith("/responses"):
        return RESPONSES
    if path.endswith("/embeddings"):
        return EMBEDDINGS
    if path.endswith("/completions"):  # the legacy text API (chat is matched above)
        return COMPLETIONS
    return None
