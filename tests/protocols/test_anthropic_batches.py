"""Message Batches: the requests' texts, the results lines, the links."""

from __future__ import annotations

from typing import Any

from tests.helpers.inspectors import TestInspector
from tests.protocols.test_anthropic_complete import BLOCKING
from tests.protocols.test_openai import exchange
from warden.pipeline.chain import Pipeline
from warden.protocols.anthropic_batches import (
    LINKS,
    gateway_url,
    iter_batch_slots,
    rewrite_links,
    transform_result,
)


def test_every_request_text_is_a_slot_addressed_from_the_root() -> None:
    body = {
        "requests": [
            {
                "custom_id": "a",
                "params": {"system": "sys", "messages": [{"role": "user", "content": "hi"}]},
            },
            {"custom_id": "b"},
            "junk",
            {
                "custom_id": "c",
                "params": {
                    "messages": [{"role": "user", "content": [{"type": "text", "text": "yo"}]}]
                },
            },
        ]
    }
    assert [(s.path, s.text) for s in iter_batch_slots(body)] == [
        (("requests", 0, "params", "system"), "sys"),
        (("requests", 0, "params", "messages", 0, "content"), "hi"),
        (("requests", 3, "params", "messages", 0, "content", 0, "text"), "yo"),
    ]
    assert list(iter_batch_slots({"requests": "no"})) == []


def succeeded(text: str) -> dict[str, Any]:
    message = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}
    return {"custom_id": "a", "result": {"type": "succeeded", "message": message}}


def test_a_succeeded_result_is_inspected_like_an_answer() -> None:
    line = succeeded("hello")
    assert transform_result(line, exchange(), Pipeline([TestInspector()])) is None
    assert line["result"]["message"]["content"][0]["text"] == "HELLO"
    errored = {"custom_id": "b", "result": {"type": "errored", "error": {"type": "error"}}}
    assert transform_result(dict(errored), exchange(), Pipeline([TestInspector()])) is None


def test_a_blocked_result_becomes_an_error_result() -> None:
    line = succeeded("anything")
    assert transform_result(line, exchange(), Pipeline([BLOCKING])) is None
    assert line["result"]["type"] == "errored"
    error = line["result"]["error"]
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert "(rule: test-block)" in error["error"]["message"]
    assert "anything" not in str(line)


def test_results_url_leads_back_through_the_gateway() -> None:
    gateway = "http://gw:8080/claude"
    assert (
        gateway_url(
            "https://api.anthropic.com/v1/messages/batches/b1/results",
            "https://api.anthropic.com",
            gateway,
        )
        == "http://gw:8080/claude/v1/messages/batches/b1/results"
    )
    # an upstream under a path prefix, and a URL at another host with a query
    assert (
        gateway_url(
            "https://proxy.corp/anthropic/v1/messages/batches/b1/results",
            "https://proxy.corp/anthropic/",
            gateway,
        )
        == "http://gw:8080/claude/v1/messages/batches/b1/results"
    )
    assert (
        gateway_url("https://files.example/r/b1?sig=x", "https://api.anthropic.com", gateway)
        == "http://gw:8080/claude/r/b1?sig=x"
    )


def test_rewrite_links_in_one_batch_and_in_a_list() -> None:
    ex = exchange()
    ex.state[LINKS] = ("https://api.anthropic.com", "http://gw/claude")
    one = {"id": "b1", "results_url": "https://api.anthropic.com/v1/messages/batches/b1/results"}
    pending = {"id": "b2", "results_url": None}
    rewrite_links(one, ex, Pipeline([]))
    page = {"data": [dict(one, results_url="https://api.anthropic.com/x"), pending]}
    rewrite_links(page, ex, Pipeline([]))
    assert one["results_url"] == "http://gw/claude/v1/messages/batches/b1/results"
    assert [b["results_url"] for b in page["data"]] == ["http://gw/claude/x", None]
    assert ex.state["rewritten"] is True
