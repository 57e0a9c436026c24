"""Conversations: the items an agent adds, and the items it reads back."""

from __future__ import annotations

from tests.helpers.inspectors import TestInspector
from tests.protocols.test_openai import exchange
from warden.pipeline.chain import Pipeline
from warden.protocols.openai_conversations import iter_conversation_slots, transform_items


def message(role: str, kind: str, text: str) -> dict[str, object]:
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


def test_added_items_are_slots_under_items() -> None:
    body = {
        "items": [
            message("user", "input_text", "hi"),
            {"type": "function_call_output", "call_id": "c", "output": "file text"},
        ]
    }
    assert [(s.path, s.text) for s in iter_conversation_slots(body)] == [
        (("items", 0, "content", 0, "text"), "hi"),
        (("items", 1, "output"), "file text"),
    ]
    assert list(iter_conversation_slots({"metadata": {}})) == []


def test_items_read_back_are_inspected_like_output() -> None:
    pipeline = Pipeline([TestInspector()])
    page = {"object": "list", "data": [message("assistant", "output_text", "answer")]}
    assert transform_items(page, exchange(), pipeline) is None
    assert page["data"][0]["content"][0]["text"] == "ANSWER"  # type: ignore[index]
    one = message("assistant", "output_text", "one")
    assert transform_items(one, exchange(), pipeline) is None
    assert one["content"][0]["text"] == "ONE"  # type: ignore[index]
    conversation = {"id": "conv_1", "object": "conversation", "metadata": {}}
    assert transform_items(conversation, exchange(), pipeline) is None
    assert conversation == {"id": "conv_1", "object": "conversation", "metadata": {}}
