"""Chat Completions and Responses stream adapters, as transcripts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers.inspectors import TestInspector
from tests.protocols.test_anthropic import events
from warden.pipeline.chain import Pipeline
from warden.pipeline.types import Exchange, Flow, Identity
from warden.protocols.base import Block, Hold
from warden.protocols.openai_chat import ChatStream, iter_chat_slots, transform_chat_body
from warden.protocols.openai_responses import ResponsesStream, transform_responses_body
from warden.protocols.openai_responses_request import iter_responses_slots
from warden.protocols.sse import encode_event


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    data = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-x",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return encode_event(json.dumps(data))


def chat_text(*pieces: str) -> bytes:
    out = chunk({"role": "assistant", "content": ""})
    for piece in pieces:
        out += chunk({"content": piece})
    out += chunk({}, "stop")
    out += encode_event(
        json.dumps({"id": "chatcmpl-1", "choices": [], "usage": {"total_tokens": 3}})
    )
    return out + b"data: [DONE]\n\n"


def chat_tool() -> bytes:
    out = chunk({"role": "assistant", "content": None})
    out += chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "shell", "arguments": ""},
                }
            ]
        }
    )
    for piece in ['{"command"', ': "rm -rf /"}']:
        out += chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    out += chunk({}, "tool_calls")
    return out + b"data: [DONE]\n\n"


def exchange() -> Exchange:
    return Exchange("ex", "s", "openai", "openai", Identity("dev"))


def run(stream_cls: Any, wire: bytes, inspector: TestInspector | None) -> list[Any]:
    stream = stream_cls(exchange(), Pipeline([inspector] if inspector else []))
    items: list[Any] = []
    for event in events(wire):
        items.extend(stream.feed(event))
    items.extend(stream.finish())
    return items


def data(items: list[Any]) -> list[Any]:
    wire = b"".join(i for i in items if isinstance(i, bytes))
    return [json.loads(e.data) for e in events(wire) if e.data != "[DONE]"]


def test_chat_untouched_is_byte_for_byte() -> None:
    assert b"".join(run(ChatStream, chat_text("a", "b"), None)) == chat_text("a", "b")


def test_chat_text_rewritten() -> None:
    out = data(run(ChatStream, chat_text("ab", "cd"), TestInspector()))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in out if c["choices"])
    assert text == "ABCD"
    assert out[-1]["usage"] == {"total_tokens": 3}


def test_chat_tool_call_released_whole_at_finish() -> None:
    out = data(run(ChatStream, chat_tool(), TestInspector()))
    calls = [c for c in out if c["choices"] and c["choices"][0]["delta"].get("tool_calls")]
    assert len(calls) == 1
    (call,) = calls[0]["choices"][0]["delta"]["tool_calls"]
    assert call["id"] == "call_1" and call["function"]["name"] == "shell"
    assert json.loads(call["function"]["arguments"]) == {"command": "rm -rf /"}
    assert calls[0]["choices"][0]["finish_reason"] == "tool_calls"


def test_chat_denied_tool_call_becomes_content() -> None:
    out = data(run(ChatStream, chat_tool(), TestInspector(tool_flow=Flow.DENY)))
    assert not any(c["choices"][0]["delta"].get("tool_calls") for c in out if c["choices"])
    last = out[-1]["choices"][0]
    assert last["finish_reason"] == "stop" and "test-tool" in last["delta"]["content"]


def test_chat_block() -> None:
    items = run(ChatStream, chat_tool(), TestInspector(tool_flow=Flow.BLOCK))
    assert isinstance(items[-1], Block)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_chat_reasoning_of_compatible_servers_is_a_channel(field: str) -> None:
    """DeepSeek and vLLM stream ``reasoning_content``, OpenRouter and Ollama
    ``reasoning``, beside the content: both are inspected like it."""
    wire = chunk({"role": "assistant", field: "thin"}) + chunk({field: "king"})
    wire += chunk({"content": "ok"}) + chunk({}, "stop") + b"data: [DONE]\n\n"
    out = data(run(ChatStream, wire, TestInspector()))
    deltas = [c["choices"][0]["delta"] for c in out if c["choices"]]
    assert "".join(d.get(field) or "" for d in deltas) == "THINKING"
    assert "".join(d.get("content") or "" for d in deltas) == "OK"
    message = {"role": "assistant", field: "why", "content": "x"}
    body = {"choices": [{"index": 0, "message": message}]}
    transform_chat_body(body, exchange(), Pipeline([TestInspector()]))
    assert message[field] == "WHY"


def test_chat_non_streamed_body() -> None:
    body = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "hi",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    assert (
        transform_chat_body(body, exchange(), Pipeline([TestInspector(tool_flow=Flow.DENY)]))
        is None
    )
    message = body["choices"][0]["message"]  # type: ignore[index]
    assert "tool_calls" not in message and "test-tool" in message["content"]
    assert body["choices"][0]["finish_reason"] == "stop"  # type: ignore[index]


def test_chat_slots() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": [{"type": "text", "text": "u"}, {"type": "image_url"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"function": {"name": "f", "arguments": '{"a": 1}'}}],
            },
            {"role": "tool", "tool_call_id": "c", "content": "result"},
            {"role": "assistant", "function_call": {"name": "g", "arguments": '{"b": 2}'}},
            {"role": "function", "name": "g", "content": "old result"},
        ]
    }
    assert [(s.kind.value, s.text) for s in iter_chat_slots(body)] == [
        ("system", "sys"),
        ("user", "u"),
        ("tool_input", '{"a": 1}'),
        ("tool_result", "result"),
        ("tool_input", '{"b": 2}'),
        ("tool_result", "old result"),
    ]


def rev(kind: str, seq: int, **fields: Any) -> bytes:
    return encode_event(json.dumps({"type": kind, "sequence_number": seq, **fields}), event=kind)


def responses_text(*pieces: str) -> bytes:
    seq = iter(range(100))
    full = "".join(pieces)
    msg = {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "in_progress",
        "content": [],
    }
    out = rev("response.created", next(seq), response={"id": "resp_1", "output": []})
    out += rev("response.output_item.added", next(seq), output_index=0, item=msg)
    out += rev(
        "response.content_part.added",
        next(seq),
        item_id="msg_1",
        output_index=0,
        content_index=0,
        part={"type": "output_text", "text": ""},
    )
    for piece in pieces:
        out += rev(
            "response.output_text.delta",
            next(seq),
            item_id="msg_1",
            output_index=0,
            content_index=0,
            delta=piece,
        )
    out += rev(
        "response.output_text.done",
        next(seq),
        item_id="msg_1",
        output_index=0,
        content_index=0,
        text=full,
    )
    out += rev(
        "response.content_part.done",
        next(seq),
        item_id="msg_1",
        output_index=0,
        content_index=0,
        part={"type": "output_text", "text": full},
    )
    done = {**msg, "status": "completed", "content": [{"type": "output_text", "text": full}]}
    out += rev("response.output_item.done", next(seq), output_index=0, item=done)
    out += rev("response.completed", next(seq), response={"id": "resp_1", "output": [done]})
    return out


def responses_call() -> bytes:
    item = {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "shell",
        "arguments": "",
    }
    args = '{"command": "rm -rf /"}'
    out = rev("response.created", 0, response={"id": "resp_2", "output": []})
    out += rev("response.output_item.added", 1, output_index=0, item=item)
    out += rev(
        "response.function_call_arguments.delta", 2, item_id="fc_1", output_index=0, delta=args[:9]
    )
    out += rev(
        "response.function_call_arguments.delta", 3, item_id="fc_1", output_index=0, delta=args[9:]
    )
    out += rev(
        "response.function_call_arguments.done", 4, item_id="fc_1", output_index=0, arguments=args
    )
    done = {**item, "arguments": args, "status": "completed"}
    out += rev("response.output_item.done", 5, output_index=0, item=done)
    out += rev("response.completed", 6, response={"id": "resp_2", "output": [done]})
    return out


def test_responses_untouched_is_byte_for_byte() -> None:
    wire = responses_text("he", "llo")
    assert b"".join(run(ResponsesStream, wire, None)) == wire


def test_responses_text_rewritten_everywhere_it_appears() -> None:
    out = data(run(ResponsesStream, responses_text("he", "llo"), TestInspector()))
    deltas = "".join(e["delta"] for e in out if e["type"] == "response.output_text.delta")
    assert deltas == "HELLO"
    done = next(e for e in out if e["type"] == "response.output_text.done")
    assert done["text"] == "HELLO"
    final = out[-1]["response"]["output"][0]["content"][0]["text"]
    assert final == "HELLO"
    assert [e["sequence_number"] for e in out] == list(range(len(out)))


@pytest.mark.parametrize(
    "part_done", ["response.content_part.done", "response.reasoning_part.done"]
)
def test_responses_reasoning_text_parts_are_rewritten_when_done(part_done: str) -> None:
    """Reasoning content (OpenAI: a ``reasoning_text`` content part; vLLM
    names its done event ``reasoning_part.done``) repeats its whole text."""
    at = {"item_id": "rs_1", "output_index": 0, "content_index": 0}
    item = {"type": "reasoning", "id": "rs_1", "summary": [], "content": []}
    wire = rev("response.created", 0, response={"id": "resp_3", "output": []})
    wire += rev("response.output_item.added", 1, output_index=0, item=item)
    wire += rev("response.reasoning_text.delta", 2, **at, delta="thin")
    wire += rev("response.reasoning_text.delta", 3, **at, delta="king")
    wire += rev("response.reasoning_text.done", 4, **at, text="thinking")
    wire += rev(part_done, 5, **at, part={"type": "reasoning_text", "text": "thinking"})
    out = data(run(ResponsesStream, wire, TestInspector()))
    done = next(e for e in out if e["type"] == part_done)
    assert done["part"]["text"] == "THINKING"
    assert "thinking" not in json.dumps(out)


def responses_whole(text: str) -> bytes:
    """A compatible server that sends no deltas: the text only in finishing events."""
    at = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    msg = {"type": "message", "id": "msg_1", "role": "assistant", "content": []}
    done = {**msg, "status": "completed", "content": [{"type": "output_text", "text": text}]}
    wire = rev("response.created", 0, response={"id": "resp_4", "output": []})
    wire += rev("response.output_item.added", 1, output_index=0, item=msg)
    wire += rev("response.output_text.done", 2, **at, text=text)
    wire += rev("response.content_part.done", 3, **at, part={"type": "output_text", "text": text})
    wire += rev("response.output_item.done", 4, output_index=0, item=done)
    return wire + rev("response.completed", 5, response={"id": "resp_4", "output": [done]})


def test_responses_text_sent_only_whole_is_inspected() -> None:
    out = data(run(ResponsesStream, responses_whole("said whole"), TestInspector()))
    assert "said whole" not in json.dumps(out)
    assert json.dumps(out).count("SAID WHOLE") == 4


def test_responses_text_sent_only_whole_can_stop_the_stream() -> None:
    inspector = TestInspector(upper=False, text_flow_on="secret")
    items = run(ResponsesStream, responses_whole("a secret"), inspector)
    assert isinstance(items[-1], Block)
    assert "a secret" not in json.dumps(data(items))


def test_responses_function_call_held_and_released() -> None:
    out = data(run(ResponsesStream, responses_call(), TestInspector()))
    kinds = [e["type"] for e in out]
    assert kinds.index("response.output_item.added") < kinds.index(
        "response.function_call_arguments.delta"
    )
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    assert json.loads(out[-1]["response"]["output"][0]["arguments"]) == {"command": "rm -rf /"}


def test_responses_denied_function_call_becomes_a_message() -> None:
    out = data(run(ResponsesStream, responses_call(), TestInspector(tool_flow=Flow.DENY)))
    assert "rm -rf" not in json.dumps(out)
    final = out[-1]["response"]["output"][0]
    assert final["type"] == "message" and "test-tool" in final["content"][0]["text"]
    assert [e["sequence_number"] for e in out] == list(range(len(out)))


def test_responses_non_streamed_body() -> None:
    body = {
        "output": [
            {"type": "message", "content": [{"type": "output_text", "text": "hey"}]},
        ],
        "output_text": "hey",
    }
    assert transform_responses_body(body, exchange(), Pipeline([TestInspector()])) is None
    assert body["output"][0]["content"][0]["text"] == "HEY"  # type: ignore[index]
    assert body["output_text"] == "HEY"


def test_responses_slots() -> None:
    body = {
        "instructions": "be brief",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "q"}]},
            {"type": "function_call", "call_id": "c", "name": "shell", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "ls output"},
        ],
    }
    assert [(s.kind.value, s.text) for s in iter_responses_slots(body)] == [
        ("system", "be brief"),
        ("user", "q"),
        ("tool_input", "{}"),
        ("tool_result", "ls output"),
    ]


def test_chat_text_hold_pauses_and_resumes() -> None:
    stream = ChatStream(exchange(), Pipeline([TestInspector(upper=False, text_flow_on="secret")]))
    items: list[Any] = []
    for event in events(chat_text("ok ", "secret", " more")):
        items.extend(stream.feed(event))
    holds = [i for i in items if isinstance(i, Hold)]
    assert len(holds) == 1
    approved = data(holds[0].resume(True, ""))
    assert approved[0]["choices"][0]["delta"]["content"] == "secret"


def test_chat_text_hold_denied_ends_the_choice() -> None:
    stream = ChatStream(exchange(), Pipeline([TestInspector(upper=False, text_flow_on="secret")]))
    out: list[Any] = []
    for event in events(chat_text("ok ", "secret", " more")):
        for item in stream.feed(event):
            out.extend(item.resume(False, "not today") if isinstance(item, Hold) else [item])
    chunks = data(out)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert "secret" not in text and "not today" in text and " more" not in text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
