"""Which requests the gateway inspects, by connection type, method and path."""

from __future__ import annotations

import pytest

from tests.helpers.inspectors import TestInspector
from tests.protocols.test_openai import exchange
from warden.config.model import ConnectionType
from warden.pipeline.chain import Pipeline
from warden.protocols import registry
from warden.protocols.registry import resolve

OPENAI = ConnectionType.OPENAI
ANTHROPIC = ConnectionType.ANTHROPIC


@pytest.mark.parametrize(
    ("kind", "method", "tail", "operation"),
    [
        (ANTHROPIC, "POST", "v1/messages", "messages"),
        (ANTHROPIC, "POST", "v1/messages/count_tokens", "count_tokens"),
        (ANTHROPIC, "POST", "v1/complete", "complete"),
        (ANTHROPIC, "GET", "v1/models", None),
        (ANTHROPIC, "POST", "v1/files", "files.upload"),
        (ANTHROPIC, "GET", "v1/files/file_011C/content", "files.content"),
        (ANTHROPIC, "GET", "v1/files/file_011C", None),  # its metadata: no content
        (ANTHROPIC, "DELETE", "v1/files/file_011C/content", None),
        (OPENAI, "POST", "v1/files", "files.upload"),
        (OPENAI, "GET", "v1/files/file-1/content", "files.content"),
        (OPENAI, "POST", "v1/uploads/upload_1/parts", "uploads.part"),
        (OPENAI, "POST", "v1/uploads", None),  # a size and a name: no text of the file
        (OPENAI, "POST", "v1/uploads/upload_1/complete", None),
        (OPENAI, "GET", "v1/files/file-1", None),
        (OPENAI, "GET", "v1/containers/c/files/file-1/content", "files.content"),
        (ConnectionType.AZURE_OPENAI, "POST", "openai/files", "files.upload"),
        (ANTHROPIC, "GET", "v1/responses/resp_1", None),
        (OPENAI, "POST", "v1/chat/completions", "chat.completions"),
        (OPENAI, "POST", "v1/responses", "responses"),
        (OPENAI, "POST", "v1/completions", "completions"),
        (OPENAI, "POST", "v1/embeddings", "embeddings"),
        (OPENAI, "GET", "v1/responses/resp_1", "responses.stored"),
        (OPENAI, "GET", "openai/v1/responses/resp_1/", "responses.stored"),  # Azure's v1 path
        (OPENAI, "POST", "v1/responses/resp_1/cancel", "responses.stored"),
        (OPENAI, "POST", "v1/responses/resp_1", None),
        (OPENAI, "DELETE", "v1/responses/resp_1", None),
        (OPENAI, "GET", "v1/responses/resp_1/input_items", None),
        (OPENAI, "POST", "v1/responses/input_tokens", "responses.input_tokens"),
        (OPENAI, "POST", "v1/responses/compact", "responses.compact"),
        (OPENAI, "POST", "v1/responses/compact/cancel", None),
        (OPENAI, "GET", "v1/chat/completions/chatcmpl-1", "chat.completions.stored"),
        (OPENAI, "POST", "v1/chat/completions/chatcmpl-1", "chat.completions.stored"),
        (OPENAI, "DELETE", "v1/chat/completions/chatcmpl-1", None),
        (OPENAI, "GET", "v1/chat/completions/chatcmpl-1/messages", None),
        (OPENAI, "GET", "v1/chat/completions", "chat.completions.list"),
        (OPENAI, "GET", "v1/models", None),
        (OPENAI, "POST", "v1/conversations", "conversations"),
        (OPENAI, "GET", "v1/conversations", None),
        (OPENAI, "GET", "v1/conversations/conv_1", None),
        (OPENAI, "POST", "v1/conversations/conv_1", None),
        (OPENAI, "POST", "v1/conversations/conv_1/items", "conversations.items"),
        (OPENAI, "GET", "v1/conversations/conv_1/items", "conversations.items"),
        (OPENAI, "GET", "v1/conversations/conv_1/items/msg_1", "conversations.items"),
        (OPENAI, "DELETE", "v1/conversations/conv_1/items/msg_1", None),
        (OPENAI, "POST", "v1/conversations/conv_1/items/msg_1", None),
        (ConnectionType.AZURE_OPENAI, "GET", "openai/responses/resp_1", "responses.stored"),
    ],
)
def test_resolve(kind: ConnectionType, method: str, tail: str, operation: str | None) -> None:
    found = resolve(kind, method, tail)
    assert (found.name if found else None) == operation


def test_each_stored_completion_of_a_list_is_inspected() -> None:
    def completion(text: str) -> dict[str, object]:
        return {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"content": text}}],
        }

    body = {"object": "list", "data": [completion("one"), completion("two")]}
    pipeline = Pipeline([TestInspector()])
    assert registry.transform_chat_list(body, exchange(), pipeline) is None
    assert [c["choices"][0]["message"]["content"] for c in body["data"]] == ["ONE", "TWO"]
    assert registry.transform_chat_list({"object": "list"}, exchange(), pipeline) is None


@pytest.mark.parametrize(
    ("kind", "method", "tail", "refused"),
    [
        (OPENAI, "POST", "v1/realtime/client_secrets", True),
        (OPENAI, "POST", "v1/realtime/translations/client_secrets", True),
        (OPENAI, "POST", "v1/realtime/sessions", True),
        (OPENAI, "POST", "v1/realtime/transcription_sessions", True),
        (OPENAI, "POST", "v1/realtime/calls", True),
        (OPENAI, "POST", "v1/realtime/calls/rtc_1/accept", True),
        (OPENAI, "POST", "v1/chatkit/sessions", True),
        (ConnectionType.AZURE_OPENAI, "POST", "openai/realtimeapi/sessions", True),
        (ConnectionType.AZURE_OPENAI, "POST", "openai/v1/realtime/client_secrets", True),
        (OPENAI, "GET", "v1/realtime/sessions", False),
        (OPENAI, "POST", "v1/chatkit/threads", False),
        (OPENAI, "POST", "v1/chat/completions", False),
        (ANTHROPIC, "POST", "v1/realtime/client_secrets", False),
    ],
)
def test_sessions_around_the_gateway_are_refused(
    kind: ConnectionType, method: str, tail: str, refused: bool
) -> None:
    assert (registry.around_the_gateway(kind, method, tail) is not None) is refused
