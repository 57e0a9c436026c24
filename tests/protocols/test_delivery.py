"""Tool arguments in two forms: recorded as released, delivered as a stage restores them.

A stage with ``deliver`` (the masker, with ``detokenize: tool-input``) gives
the agent another form of a tool call's arguments. Each adapter must carry
it in valid events of its dialect, everywhere the arguments appear, and keep
the released form for the recording.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers.inspectors import TestInspector, _HoldAll
from tests.protocols.test_anthropic import events, tool_stream
from tests.protocols.test_openai import chat_tool, responses_call, rev
from warden.pipeline.chain import Pipeline
from warden.pipeline.types import (
    Channel,
    ChannelKind,
    ChannelOut,
    Decision,
    Exchange,
    Flow,
    Identity,
)
from warden.protocols.anthropic import AnthropicStream, transform_body
from warden.protocols.base import Hold, Patch, Restored, patched
from warden.protocols.openai_chat import ChatStream, transform_chat_body
from warden.protocols.openai_responses import ResponsesStream, transform_responses_body

RELEASED = "rm -rf /"
DELIVERED = 'rm -rf "C:\\tmp"'  # needs JSON escaping twice over: in the arguments, in the event


def swap(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(RELEASED, DELIVERED)
    if isinstance(value, dict):
        return {k: swap(v) for k, v in value.items()}
    return value


class _Restoring(_HoldAll):
    def __init__(self, hold: bool) -> None:
        super().__init__()
        self.hold = hold

    def end(self) -> ChannelOut:
        out = super().end()
        held = (Decision(Flow.HOLD, "test-review", "review"),) if self.hold else ()
        return ChannelOut(out.text, held)

    def deliver(self, text: str) -> ChannelOut:
        if RELEASED not in text:
            return ChannelOut(text)
        try:
            restored = json.dumps(swap(json.loads(text)))
        except ValueError:  # a freeform input
            restored = swap(text)
        return ChannelOut(restored, (Decision(Flow.REWRITE, "test-rule", "detokenize"),))


class Restorer(TestInspector):
    __test__ = False

    def __init__(self, *, hold: bool = False) -> None:
        super().__init__(name="restorer")
        self.hold = hold

    def open_channel(self, exchange: Exchange, channel: Channel) -> Any:
        if channel.kind is ChannelKind.TOOL_INPUT:
            return _Restoring(self.hold)
        return None


def exchange() -> Exchange:
    return Exchange("ex", "s", "claude", "anthropic", Identity("dev"))


def run(stream: Any, wire: bytes) -> list[Any]:
    """Feed the stream; a hold is approved at once."""
    items: list[Any] = []
    for event in events(wire):
        for item in stream.feed(event):
            items.extend(item.resume(True, "") if isinstance(item, Hold) else [item])
    items.extend(stream.finish())
    return items


def recorded(items: list[Any]) -> bytes:
    return b"".join(i.recorded if isinstance(i, Restored) else i for i in items)


def delivered(items: list[Any]) -> bytes:
    return b"".join(i.delivered if isinstance(i, Restored) else i for i in items)


def parse(wire: bytes) -> list[Any]:
    return [json.loads(e.data) for e in events(wire) if e.data != "[DONE]"]


def anthropic_input(out: list[Any]) -> Any:
    deltas = [e["delta"] for e in out if e["type"] == "content_block_delta"]
    return json.loads("".join(d["partial_json"] for d in deltas))


def chat_arguments(out: list[Any]) -> Any:
    calls = [c for e in out for ch in e["choices"] for c in ch["delta"].get("tool_calls", [])]
    return json.loads("".join(c["function"]["arguments"] for c in calls))


def responses_arguments(out: list[Any]) -> list[Any]:
    """Every place a Responses stream carries the arguments: deltas, done, item, final."""
    deltas = "".join(
        e["delta"] for e in out if e["type"] == "response.function_call_arguments.delta"
    )
    done = next(e for e in out if e["type"] == "response.function_call_arguments.done")
    item = next(e for e in out if e["type"] == "response.output_item.done")["item"]
    final = out[-1]["response"]["output"][0]
    texts = [deltas, done["arguments"], item["arguments"], final["arguments"]]
    return [json.loads(text) for text in texts]


@pytest.mark.parametrize("hold", [False, True], ids=["released", "approved"])
def test_anthropic_tool_use_is_delivered_restored_and_recorded_as_released(hold: bool) -> None:
    stream = AnthropicStream(exchange(), Pipeline([Restorer(hold=hold)]))
    items = run(stream, tool_stream())
    assert any(isinstance(i, Restored) for i in items)
    assert anthropic_input(parse(recorded(items))) == {"command": RELEASED}
    assert anthropic_input(parse(delivered(items))) == {"command": DELIVERED}
    assert [d.action for d in stream.book.exchange.decisions].count("detokenize") == 1


def test_anthropic_server_tools_are_not_restored() -> None:
    wire = tool_stream().replace(b'"type": "tool_use"', b'"type": "server_tool_use"')
    items = run(AnthropicStream(exchange(), Pipeline([Restorer()])), wire)
    assert not any(isinstance(i, Restored) for i in items)
    assert anthropic_input(parse(delivered(items))) == {"command": RELEASED}


@pytest.mark.parametrize("hold", [False, True], ids=["released", "approved"])
def test_chat_tool_call_is_delivered_restored_and_recorded_as_released(hold: bool) -> None:
    items = run(ChatStream(exchange(), Pipeline([Restorer(hold=hold)])), chat_tool())
    assert chat_arguments(parse(recorded(items))) == {"command": RELEASED}
    assert chat_arguments(parse(delivered(items))) == {"command": DELIVERED}


@pytest.mark.parametrize("hold", [False, True], ids=["released", "approved"])
def test_responses_arguments_are_delivered_restored_everywhere(hold: bool) -> None:
    items = run(ResponsesStream(exchange(), Pipeline([Restorer(hold=hold)])), responses_call())
    kept, sent = parse(recorded(items)), parse(delivered(items))
    assert responses_arguments(kept) == [{"command": RELEASED}] * 4
    assert responses_arguments(sent) == [{"command": DELIVERED}] * 4
    for out in (kept, sent):
        assert [e["sequence_number"] for e in out] == list(range(len(out)))


def custom_call(patch: str) -> bytes:
    item = {"type": "custom_tool_call", "id": "ctc_1", "call_id": "c", "name": "apply_patch"}
    out = rev("response.created", 0, response={"id": "r", "output": []})
    out += rev("response.output_item.added", 1, output_index=0, item={**item, "input": ""})
    for seq, piece in enumerate((patch[:10], patch[10:]), start=2):
        out += rev(
            "response.custom_tool_call_input.delta",
            seq,
            item_id="ctc_1",
            output_index=0,
            delta=piece,
        )
    out += rev(
        "response.custom_tool_call_input.done", 4, item_id="ctc_1", output_index=0, input=patch
    )
    done = {**item, "input": patch, "status": "completed"}
    out += rev("response.output_item.done", 5, output_index=0, item=done)
    out += rev("response.completed", 6, response={"id": "r", "output": [done]})
    return out


def test_responses_freeform_input_is_held_inspected_and_delivered_restored() -> None:
    """Codex's apply_patch is a custom tool: its input is text, not JSON."""
    patch = f"*** Begin Patch\n-{RELEASED}\n+{RELEASED} # ok\n*** End Patch"
    items = run(ResponsesStream(exchange(), Pipeline([Restorer()])), custom_call(patch))
    for wire, text in ((recorded(items), patch), (delivered(items), swap(patch))):
        out = parse(wire)
        kinds = [e["type"] for e in out]
        assert kinds.index("response.output_item.added") < kinds.index(
            "response.custom_tool_call_input.delta"
        )
        deltas = [e["delta"] for e in out if e["type"] == "response.custom_tool_call_input.delta"]
        done = next(e for e in out if e["type"] == "response.custom_tool_call_input.done")
        item = next(e for e in out if e["type"] == "response.output_item.done")["item"]
        final = out[-1]["response"]["output"][0]
        assert ["".join(deltas), done["input"], item["input"], final["input"]] == [text] * 4
        assert [e["sequence_number"] for e in out] == list(range(len(out)))


def agent_copy(body: Any, patches: Any) -> Any:
    assert patches and all(isinstance(p, Patch) for p in patches)
    with patched(patches):
        return json.loads(json.dumps(body))


def test_non_streamed_bodies_come_with_the_patches_of_the_agents_copy() -> None:
    pipeline = Pipeline([Restorer()])
    arguments = json.dumps({"command": RELEASED})
    message = {
        "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": RELEASED}}]
    }
    copy = agent_copy(message, transform_body(message, exchange(), pipeline))
    assert copy["content"][0]["input"] == {"command": DELIVERED}
    assert message["content"][0]["input"] == {"command": RELEASED}  # what is recorded

    completion: Any = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "sh", "arguments": arguments},
                        }
                    ],
                },
            }
        ]
    }
    copy = agent_copy(completion, transform_chat_body(completion, exchange(), pipeline))
    [call] = copy["choices"][0]["message"]["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {"command": DELIVERED}
    [call] = completion["choices"][0]["message"]["tool_calls"]
    assert call["function"]["arguments"] == arguments

    response: Any = {
        "output": [{"type": "function_call", "call_id": "c", "name": "sh", "arguments": arguments}]
    }
    copy = agent_copy(response, transform_responses_body(response, exchange(), pipeline))
    assert json.loads(copy["output"][0]["arguments"]) == {"command": DELIVERED}
    assert response["output"][0]["arguments"] == arguments


def test_nothing_to_restore_means_no_second_form() -> None:
    body: Any = {"content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {"a": 1}}]}
    assert transform_body(body, exchange(), Pipeline([Restorer()])) is None
    items = run(AnthropicStream(exchange(), Pipeline([TestInspector()])), tool_stream())
    assert not any(isinstance(i, Restored) for i in items)
