"""The legacy text Completions adapter, as transcripts."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers.inspectors import TestInspector
from tests.protocols.test_anthropic import events
from tests.protocols.test_openai import data, exchange
from warden.pipeline.chain import Pipeline
from warden.pipeline.types import Flow
from warden.protocols.base import Hold
from warden.protocols.openai_completions import (
    CompletionStream,
    iter_completion_slots,
    transform_completion_body,
)
from warden.protocols.sse import encode_event


def chunk(text: str, finish: str | None = None, logprobs: Any = None) -> bytes:
    choice = {"text": text, "index": 0, "logprobs": logprobs, "finish_reason": finish}
    body = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "gpt-x"}
    return encode_event(json.dumps({**body, "choices": [choice]}))


def completion(*pieces: str) -> bytes:
    return b"".join(chunk(p) for p in pieces) + chunk("", "stop") + b"data: [DONE]\n\n"


def feed(wire: bytes, inspector: TestInspector) -> tuple[CompletionStream, list[Any]]:
    """Feed ``wire`` as the relay does: up to the end, or up to a hold."""
    stream = CompletionStream(exchange(), Pipeline([inspector]))
    items: list[Any] = []
    for event in events(wire):
        items.extend(stream.feed(event))
        if items and isinstance(items[-1], Hold):
            break
    return stream, items


def text(items: list[Any]) -> str:
    return "".join(c["text"] for d in data(items) for c in d["choices"])


def test_each_choice_text_is_a_channel() -> None:
    stream, items = feed(completion("hello ", "wor", "ld"), TestInspector())
    assert text(items) == "HELLO WORLD"
    assert items[-1] == b"data: [DONE]\n\n"
    assert stream.saw_end


def test_a_stream_without_done_has_not_ended() -> None:
    stream, _ = feed(chunk("hello"), TestInspector())
    assert not stream.saw_end


def test_logprobs_are_emptied() -> None:
    logprobs = {"tokens": ["hel", "lo"], "token_logprobs": [-0.1, -0.2], "text_offset": [0, 3]}
    _, items = feed(chunk("hello", logprobs=logprobs) + b"data: [DONE]\n\n", TestInspector())
    assert [c["logprobs"] for d in data(items) for c in d["choices"]] == [None]
    assert b'"tokens"' not in b"".join(i for i in items if isinstance(i, bytes))


def test_held_text_waits_for_a_reviewer() -> None:
    for approved in (True, False):
        stream, items = feed(
            completion("fine ", "secret plan", " more"),
            TestInspector(upper=False, text_flow_on="secret"),
        )
        hold = items[-1]
        assert isinstance(hold, Hold) and hold.decision.flow is Flow.HOLD
        resumed = hold.resume(approved, "no")
        if approved:
            assert text([*items[:-1], *resumed]) == "fine secret plan"
        else:
            assert "no (rule: test-hold)" in text([*items[:-1], *resumed])
            assert resumed[-1] == b"data: [DONE]\n\n" and stream.done


def test_request_slots() -> None:
    body = {"prompt": ["a", [1, 2], "b"], "suffix": "c"}
    assert [(s.path, s.text) for s in iter_completion_slots(body)] == [
        (("prompt", 0), "a"),
        (("prompt", 2), "b"),
        (("suffix",), "c"),
    ]
    assert [s.text for s in iter_completion_slots({"prompt": "p"})] == ["p"]


def test_whole_body() -> None:
    body = {"choices": [{"index": 0, "text": "hi there", "logprobs": {"tokens": ["hi"]}}]}
    assert transform_completion_body(body, exchange(), Pipeline([TestInspector()])) is None
    assert body["choices"][0] == {"index": 0, "text": "HI THERE", "logprobs": None}
