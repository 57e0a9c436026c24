"""The Anthropic stream adapter, as transcripts of events in and bytes out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers.inspectors import TestInspector
from warden.pipeline.chain import Pipeline
from warden.pipeline.types import Exchange, Flow, Identity
from warden.protocols.anthropic import AnthropicStream, iter_slots, transform_body
from warden.protocols.base import Block, Hold
from warden.protocols.sse import NEED_DATA, SSE_CLOSED, SSEDecoder, SSEEvent, encode_event


def ev(name: str, data: dict[str, Any]) -> bytes:
    return encode_event(json.dumps(data), event=name)


def text_stream(*pieces: str) -> bytes:
    out = ev("message_start", {"type": "message_start", "message": {"id": "msg_1", "content": []}})
    out += ev(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    out += ev("ping", {"type": "ping"})
    for piece in pieces:
        out += ev(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": piece},
            },
        )
    out += ev("content_block_stop", {"type": "content_block_stop", "index": 0})
    out += ev("x-future-event", {"type": "x-future-event", "novel": [1, 2]})
    out += ev(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 3},
        },
    )
    out += ev("message_stop", {"type": "message_stop"})
    return out


def tool_stream() -> bytes:
    out = ev("message_start", {"type": "message_start", "message": {"id": "msg_2", "content": []}})
    out += ev(
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}},
        },
    )
    for piece in ['{"comm', 'and": "rm -rf', ' /"}']:
        out += ev(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": piece},
            },
        )
    out += ev("content_block_stop", {"type": "content_block_stop", "index": 0})
    out += ev(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 9},
        },
    )
    out += ev("message_stop", {"type": "message_stop"})
    return out


def events(wire: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    decoder.receive_data(wire)
    decoder.receive_data(b"")
    out = []
    while (event := decoder.next_event()) not in (NEED_DATA, SSE_CLOSED):
        assert isinstance(event, SSEEvent)
        out.append(event)
    return out


def run(wire: bytes, inspector: TestInspector | None) -> list[Any]:
    exchange = Exchange("ex", "s", "claude", "anthropic", Identity("dev"))
    stream = AnthropicStream(exchange, Pipeline([inspector] if inspector else []))
    items: list[Any] = []
    for event in events(wire):
        items.extend(stream.feed(event))
    items.extend(stream.finish())
    return items


def parsed(items: list[Any]) -> list[dict[str, Any]]:
    wire = b"".join(i for i in items if isinstance(i, bytes))
    return [json.loads(e.data) for e in events(wire)]


def test_no_inspectors_is_byte_for_byte() -> None:
    wire = text_stream("Hel", "lo", " world")
    assert b"".join(run(wire, None)) == wire
    assert b"".join(run(tool_stream(), None)) == tool_stream()


def test_rewritten_text_keeps_the_event_shape() -> None:
    out = parsed(run(text_stream("Hel", "lo"), TestInspector()))
    deltas = [e["delta"]["text"] for e in out if e["type"] == "content_block_delta"]
    assert deltas == ["HEL", "LO"]
    assert [e["type"] for e in out][-3:] == ["x-future-event", "message_delta", "message_stop"]


def test_a_rewritten_delta_keeps_a_lone_surrogate_escaped() -> None:
    """Half an emoji (a legal ``\\ud83d`` escape) in text a channel rewrites:
    the event is still UTF-8 and the client reads the same character."""
    items = run(text_stream("half \ud83d", " emoji"), TestInspector())
    deltas = [e["delta"]["text"] for e in parsed(items) if e["type"] == "content_block_delta"]
    assert deltas == ["HALF \ud83d", " EMOJI"]


def test_tool_input_is_held_and_released_whole_after_its_start() -> None:
    out = parsed(run(tool_stream(), TestInspector()))
    kinds = [e["type"] for e in out]
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert json.loads(out[2]["delta"]["partial_json"]) == {"command": "rm -rf /"}


def test_denied_tool_becomes_text_and_the_turn_ends_cleanly() -> None:
    out = parsed(run(tool_stream(), TestInspector(tool_flow=Flow.DENY)))
    start = next(e for e in out if e["type"] == "content_block_start")
    assert start["content_block"] == {"type": "text", "text": ""}
    text = next(e for e in out if e["type"] == "content_block_delta")["delta"]["text"]
    assert "test-tool" in text
    assert (
        next(e for e in out if e["type"] == "message_delta")["delta"]["stop_reason"] == "end_turn"
    )
    assert not any("rm -rf" in json.dumps(e) for e in out)


def test_block_stops_the_stream() -> None:
    items = run(tool_stream(), TestInspector(tool_flow=Flow.BLOCK))
    assert isinstance(items[-1], Block)
    assert not any(b"rm -rf" in i for i in items if isinstance(i, bytes))


def test_hold_pauses_and_resumes_on_approval() -> None:
    items = run(text_stream("ok ", "secret", " more"), TestInspector(text_flow_on="secret"))
    holds = [i for i in items if isinstance(i, Hold)]
    assert len(holds) == 1
    assert holds[0].decision.rule == "test-hold"
    resumed = holds[0].resume(True, "")
    assert b"secret" in b"".join(resumed)


def test_hold_denied_ends_the_message_with_the_reason() -> None:
    exchange = Exchange("ex", "s", "claude", "anthropic", Identity("dev"))
    stream = AnthropicStream(exchange, Pipeline([TestInspector(text_flow_on="secret")]))
    items: list[Any] = []
    for event in events(text_stream("ok ", "secret", " more")):
        for item in stream.feed(event):
            if isinstance(item, Hold):
                items.extend(item.resume(False, "the reviewer said no"))
            else:
                items.append(item)
    out = parsed(items)
    assert out[-1]["type"] == "message_stop"
    assert "the reviewer said no" in json.dumps(out)
    assert "secret" not in json.dumps(out)


def test_inspector_failure_propagates() -> None:
    with pytest.raises(RuntimeError):
        run(text_stream("x"), TestInspector(raise_on_text=True))


def test_request_slots_cover_what_agents_send() -> None:
    body = {
        "system": [{"type": "text", "text": "sys"}],
        "messages": [
            {"role": "user", "content": "plain"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {
                        "type": "tool_use",
                        "id": "t",
                        "name": "Bash",
                        "input": {"command": "cat .env"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": "KEY=1"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "u",
                        "content": [{"type": "text", "text": "out"}],
                    },
                    {"type": "image", "source": {"type": "base64", "data": "AAAA"}},
                    {"type": "document", "source": {"type": "text", "data": "doc"}},
                ],
            },
        ],
    }
    assert [(s.kind.value, s.text) for s in iter_slots(body)] == [
        ("system", "sys"),
        ("user", "plain"),
        ("thinking", "hmm"),
        ("tool_input", "cat .env"),
        ("tool_result", "KEY=1"),
        ("tool_result", "out"),
        ("user", "doc"),
    ]


def test_non_streamed_body_denied_tool() -> None:
    body = {
        "content": [
            {"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": "rm -rf /"}}
        ],
        "stop_reason": "tool_use",
    }
    exchange = Exchange("ex", "s", "claude", "anthropic", Identity("dev"))
    assert transform_body(body, exchange, Pipeline([TestInspector(tool_flow=Flow.DENY)])) is None
    assert body["content"][0]["type"] == "text"
    assert body["stop_reason"] == "end_turn"
