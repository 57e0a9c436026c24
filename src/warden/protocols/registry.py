"""Which operations of each connection type the gateway inspects.

Text reaches the provider, and model output comes back, through more than
the endpoints that ask for an answer now. Requests kept for later (Message
Batches, a conversation's items, a history sent to be compacted, a request
sent only to be counted) are inspected like the requests they hold. Answers
kept by the provider come back again (a stored Response, ``GET
/responses/{id}``, streamed again with ``?stream=true`` or returned by its
cancel; stored chat completions, one, the list, the metadata update; a
conversation's items; a batch's results file) and go through the same
adapters as the answers they store. Endpoints that would open a session
with the provider around the gateway are refused (:func:`around_the_gateway`).

Anything not listed here (models, files, batches, new endpoints) is passed
through untouched, so new API versions keep working.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from warden.config.model import ConnectionType
from warden.errors import Flavor
from warden.pipeline.chain import Pipeline
from warden.pipeline.request import SlotWalker
from warden.pipeline.types import Exchange, TextSlot
from warden.protocols import (
    anthropic,
    anthropic_batches,
    anthropic_complete,
    openai_batches,
    openai_chat,
    openai_completions,
    openai_conversations,
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
LineTransform = Callable[[Any, Exchange, Pipeline], list[Patch] | None]
"""Inspects one line of a JSON Lines body in place (what is recorded);
returns the patches of the agent's copy."""


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    walker: SlotWalker
    stream: StreamFactory | None = None
    body: BodyTransform | None = None
    responses_api: bool = False
    refuse: Callable[[Any], str | None] | None = None
    """Why a request cannot be relayed safely (a form no adapter inspects), if so."""
    lines: LineTransform | None = None
    """A JSON Lines answer (batch results), inspected line by line as it streams."""
    links: bool = False
    """The answer names URLs at the upstream, which ``body`` points at the gateway
    (the handler puts both bases in ``exchange.state``)."""
    sniff: Callable[[bytes], bool] | None = None
    """With ``lines``: whether a body's first line makes it JSON Lines to
    inspect; a body whose first line does not is read as ``download`` says."""
    download: bool = False
    """A file's content: text is inspected as it streams, like the model's
    text; a binary file passes, recorded as not inspected
    (:mod:`warden.server.downloads`)."""
    upload: str | None = None
    """A multipart file upload: the form field of the file whose text is
    inspected (:mod:`uploads`)."""
    fixed_size: bool = False
    """With ``upload``: the provider knows the file's size already (a part of
    a chunked upload, declared when the upload was created), so text the
    inspectors would change is refused, not rewritten."""


def no_slots(body: Any) -> Iterator[TextSlot]:
    """A request that carries no text of the agent's (a retrieval)."""
    return iter(())


UPLOAD = Operation("files.upload", no_slots, upload="file")
UPLOAD_PART = Operation("uploads.part", no_slots, upload="data", fixed_size=True)
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
BATCHES = Operation(
    "messages.batches",
    anthropic_batches.iter_batch_slots,
    body=anthropic_batches.rewrite_links,
    links=True,
)
STORED_BATCH = Operation(
    "messages.batches.stored", no_slots, body=anthropic_batches.rewrite_links, links=True
)
BATCH_RESULTS = Operation(
    "messages.batches.results", no_slots, lines=anthropic_batches.transform_result
)
_BATCH = re.compile(r"/v1/messages/batches(?:/(?P<id>[^/]+)(?P<action>/cancel|/results)?)?$")
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
COMPACT = Operation(
    "responses.compact",
    openai_responses_request.iter_responses_slots,
    body=openai_responses.transform_responses_body,
    responses_api=True,
)
"""The whole history, sent to be compacted (Codex does it when a conversation
grows long): inspected like any Responses request; the compacted items that
come back (the user's messages, an opaque ``compaction`` item) like output."""
INPUT_TOKENS = Operation("responses.input_tokens", openai_responses_request.iter_responses_slots)
"""A Responses request sent only to be counted: inspected all the same (the
provider reads it), so the count is of what would really be sent."""
EMBEDDINGS = Operation("embeddings", openai_chat.iter_embedding_slots)
COMPLETIONS = Operation(
    "completions",
    openai_completions.iter_completion_slots,
    openai_completions.CompletionStream,
    openai_completions.transform_completion_body,
)


def transform_chat_list(
    body: Any, exchange: Exchange, pipeline: Pipeline
) -> list[Block] | list[Patch] | None:
    """Each stored completion of a list, as :func:`openai_chat.transform_chat_body`."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return None
    patches: list[Patch] = []
    for completion in body["data"]:
        result = openai_chat.transform_chat_body(completion, exchange, pipeline) or []
        blocks = [r for r in result if isinstance(r, Block)]
        if blocks:
            return blocks
        patches.extend(r for r in result if isinstance(r, Patch))
    return patches or None


STORED_RESPONSE = Operation(
    "responses.stored",
    no_slots,
    openai_responses.ResponsesStream,
    openai_responses.transform_responses_body,
    responses_api=True,
)
STORED_CHAT = Operation("chat.completions.stored", no_slots, body=openai_chat.transform_chat_body)
STORED_CHATS = Operation("chat.completions.list", no_slots, body=transform_chat_list)

_STORED = re.compile(r"/(?P<api>responses|chat/completions)/(?P<id>[^/]+)(?P<cancel>/cancel)?$")
"""A stored object's path: ``/responses/{id}``, ``/responses/{id}/cancel``,
``/chat/completions/{id}`` (never ``.../input_items`` or ``.../messages``)."""


NEW_CONVERSATION = Operation("conversations", openai_conversations.iter_conversation_slots)
CONVERSATION_ITEMS = Operation(
    "conversations.items",
    openai_conversations.iter_conversation_slots,
    body=openai_conversations.transform_items,
    responses_api=True,
)
"""Items added (``POST``: inspected going out) or read back (``GET`` the list
or one item): inspected like Responses output either way on return."""
_CONVERSATION = re.compile(r"/conversations(?:/[^/]+/items(?:/[^/]+)?)?$")


FILE_CONTENT = Operation(
    "files.content",
    no_slots,
    lines=openai_batches.transform_output_line,
    sniff=openai_batches.is_output_line,
    download=True,
)
"""A file download (also a container's file): inspected line by line when
it is a batch's output, as text when it is any other text file."""
FILE_DOWNLOAD = Operation("files.content", no_slots, download=True)
"""Anthropic's file download: the files its code execution tool and skills
write, inspected as text when they are text."""
_FILE_CONTENT = re.compile(r"/files/[^/]+/content$")
_UPLOAD_PART = re.compile(r"/uploads/[^/]+/parts$")


_RESPONSES_ACTIONS = {"compact": COMPACT, "input_tokens": INPUT_TOKENS}
"""``POST /responses/<name>``: endpoints, not stored objects."""


def _stored(method: str, path: str) -> Operation | None:
    """What a path one segment under ``/responses`` or ``/chat/completions``
    is: a stored object, a cancel, or one of the Responses actions."""
    match = _STORED.search(path)
    if match is None:
        return None
    if match["api"] == "responses":
        if match["id"] in _RESPONSES_ACTIONS:
            return None if method != "POST" or match["cancel"] else _RESPONSES_ACTIONS[match["id"]]
        wanted = "POST" if match["cancel"] else "GET"
        return STORED_RESPONSE if method == wanted else None
    if match["cancel"]:
        return None
    return STORED_CHAT if method in ("GET", "POST") else None


_AROUND = re.compile(
    r"/(?:realtime(?:/translations)?/client_secrets|realtime/(?:sessions|transcription_sessions)"
    r"|realtime/calls(?:/.*)?|realtimeapi/sessions|chatkit/sessions)$"
)
"""OpenAI endpoints that hand the agent a way to the provider that does not
pass the gateway: an ephemeral client secret (Realtime, ChatKit), or a
WebRTC / SIP call whose media and events flow directly."""


def around_the_gateway(kind: ConnectionType, method: str, tail: str) -> str | None:
    """Why a request must be refused because it opens a path to the provider
    around the gateway (minted with the gateway's own credential), if it does."""
    if kind is ConnectionType.ANTHROPIC or method != "POST":
        return None
    if ("/realtime" not in tail and "/chatkit" not in tail) or _AROUND.search(
        "/" + tail.strip("/")
    ) is None:
        return None
    return (
        "Warden does not let agents open sessions with the provider that bypass it "
        "(Realtime client secrets, sessions and WebRTC or SIP calls, ChatKit sessions): "
        "what flowed through them would not be inspected or recorded"
    )


def flavor(kind: ConnectionType) -> Flavor:
    return Flavor.ANTHROPIC if kind is ConnectionType.ANTHROPIC else Flavor.OPENAI


def resolve(kind: ConnectionType, method: str, tail: str) -> Operation | None:
    path = "/" + tail.strip("/")
    if kind is ConnectionType.ANTHROPIC:
        return _anthropic(method, path)
    return _openai(method, path)


def _anthropic(method: str, path: str) -> Operation | None:
    if method == "POST":  # what agents send most, first
        if path.endswith("/v1/messages"):
            return MESSAGES
        if path.endswith("/v1/messages/count_tokens"):
            return COUNT_TOKENS
        if path.endswith("/v1/complete"):
            return COMPLETE
        if path.endswith("/v1/files"):
            return UPLOAD
    if method == "GET" and path.endswith("/content") and _FILE_CONTENT.search(path) is not None:
        return FILE_DOWNLOAD
    batch = _BATCH.search(path) if "/batches" in path else None
    if batch is None:
        return None
    # the create (POST), one (GET) or every batch (GET), a cancel, the results
    action = batch["action"]
    if action == "/results":
        return BATCH_RESULTS if method == "GET" else None
    if batch["id"] is None:
        return BATCHES if method == "POST" else STORED_BATCH if method == "GET" else None
    return STORED_BATCH if method == ("POST" if action else "GET") else None


def _openai(method: str, path: str) -> Operation | None:
    if method == "POST":  # what agents send most, first
        if path.endswith("/chat/completions"):
            return CHAT
        if path.endswith("/responses"):
            return RESPONSES
        if path.endswith("/embeddings"):
            return EMBEDDINGS
        if path.endswith("/completions"):  # the legacy text API (chat is matched above)
            return COMPLETIONS
        if path.endswith("/files"):
            return UPLOAD
        if path.endswith("/parts") and _UPLOAD_PART.search(path) is not None:
            return UPLOAD_PART
    if method == "GET":
        if path.endswith("/chat/completions"):
            return STORED_CHATS
        if path.endswith("/content") and _FILE_CONTENT.search(path) is not None:
            return FILE_CONTENT
    stored = _stored(method, path)
    if stored is not None:
        return stored
    if "/conversations" in path and _CONVERSATION.search(path) is not None:
        if path.endswith("/conversations"):
            return NEW_CONVERSATION if method == "POST" else None
        if method == "GET" or (method == "POST" and path.endswith("/items")):
            return CONVERSATION_ITEMS
    return None
