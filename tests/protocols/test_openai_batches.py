"""The Batch API's output lines."""

from __future__ import annotations

from typing import Any

from tests.helpers.inspectors import TestInspector
from tests.protocols.test_anthropic_complete import BLOCKING
from tests.protocols.test_openai import exchange
from warden.pipeline.chain import Pipeline
from warden.protocols.openai_batches import is_output_line, transform_output_line


def output(body: Any) -> dict[str, Any]:
    response = {"status_code": 200, "request_id": "r", "body": body}
    return {"id": "batch_req_1", "custom_id": "a", "response": response, "error": None}


def completion(text: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": text}
    return {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}


def test_which_first_lines_are_batch_output() -> None:
    assert is_output_line(b'{"id": "x", "custom_id": "a", "response": null, "error": {}}')
    assert not is_output_line(b'{"custom_id": "a", "method": "POST"}')  # an input line
    assert not is_output_line(b"\x89PNG")
    assert not is_output_line(b"")


def test_each_answer_is_inspected_as_its_endpoint_would() -> None:
    line = output(completion("hello"))
    assert transform_output_line(line, exchange(), Pipeline([TestInspector()])) is None
    assert line["response"]["body"]["choices"][0]["message"]["content"] == "HELLO"
    embedding = output({"object": "list", "data": [{"embedding": [0.1]}]})
    assert transform_output_line(embedding, exchange(), Pipeline([TestInspector()])) is None
    failed = {"custom_id": "b", "response": None, "error": {"code": "x"}}
    assert transform_output_line(failed, exchange(), Pipeline([TestInspector()])) is None


def test_a_blocked_answer_becomes_a_400_in_its_place() -> None:
    line = output(completion("anything"))
    assert transform_output_line(line, exchange(), Pipeline([BLOCKING])) is None
    assert line["response"]["status_code"] == 400
    error = line["response"]["body"]["error"]
    assert error["code"] == "blocked_by_policy" and "(rule: test-block)" in error["message"]
    assert "anything" not in str(line)
