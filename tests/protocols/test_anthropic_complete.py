"""The legacy Text Completions adapter (``/v1/complete``), as transcripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from tests.helpers.inspectors import TestInspector, _HoldAll
from tests.protocols.test_anthropic import events
from tests.protocols.test_openai import exchange
from warden.pipeline.chain import Pipeline
from warden.pipeline.types import (
    Channel,
    Decision,
    Exchange,
    Flow,
    RequestView,
)
from warden.protocols.anthropic import iter_slots
from warden.protocols.anthropic_complete import CompleteStream, transform_complete_body
from warden.protocols.base import Block, Hold
from warden.protocols.sse import RemoteProtocolError, encode_event


def event(text: str, stop: str | None = None) -> bytes:
    data = {"type": "completion", "id": "compl_01", "completion": text, "stop_reason": stop}
    return encode_event(json.dumps({**data, "model": "claude-2.1"}), event="completion")


PING = encode_event('{"type": "ping"}', event="ping")


def completion(*pieces: str) -> bytes:
    return (
        event(pieces[0])
        + PING
        + b"".join(event(p) for p in pieces[1:])
        + event("", "stop_sequence")
    )


def feed(wire: bytes, inspector: Any) -> tuple[CompleteStream, list[Any]]:
    """Feed ``wire`` as the relay does: up to the end, or up to a hold."""
    stream = CompleteStream(exchange(), Pipeline([inspector]))
    items: list[Any] = []
    for e in events(wire):
        items.extend(stream.feed(e))
        if items and isinstance(items[-1], Hold):
            break
    return stream, items


def data(items: list[Any]) -> list[dict[str, Any]]:
    wire = b"".join(i for i in items if isinstance(i, bytes))
    return [json.loads(e.data) for e in events(wire)]


def text(items: list[Any]) -> str:
    return "".join(d.get("completion", "") for d in data(items))


class HoldingText:
    """Holds each text channel whole until its end, as a masker may."""

    name = "holding"

    def inspect_request(self, exchange: Exchange, request: RequestView) -> Sequence[Decision]:
        return []

    def open_channel(self, exchange: Exchange, channel: Channel) -> _HoldAll:
        return _HoldAll()


def test_the_completion_is_one_channel() -> None:
    stream, items = feed(completion("hello ", "wor", "ld"), TestInspector())
    assert text(items) == "HELLO WORLD"
    assert [d["type"] for d in data(items)] == ["completion", "ping", *["completion"] * 3]
    assert data(items)[-1]["stop_reason"] == "stop_sequence"
    assert data(items)[0]["id"] == "compl_01" and data(items)[0]["model"] == "claude-2.1"
    assert stream.saw_end


def test_untouched_events_pass_byte_for_byte() -> None:
    wire = completion("a", "b") + encode_event('{"type": "novel"}', event="novel")
    _, items = feed(wire, TestInspector(upper=False))
    assert b"".join(items) == wire


def test_held_text_leaves_with_the_last_event() -> None:
    stream, items = feed(completion("sk-", "ant-", "x"), HoldingText())
    completions = [d for d in data(items) if d["type"] == "completion"]
    assert completions == [
        {
            "type": "completion",
            "id": "compl_01",
            "completion": "sk-ant-x",
            "stop_reason": "stop_sequence",
            "model": "claude-2.1",
        }
    ]
    assert stream.saw_end


def test_a_stream_cut_before_its_last_event_releases_what_is_held_unfinished() -> None:
    stream, items = feed(event("hel") + event("lo"), HoldingText())
    assert items == [] and not stream.saw_end
    released = data(stream.finish())
    assert released == [
        {
            "type": "completion",
            "id": "compl_01",
            "model": "claude-2.1",
            "completion": "hello",
            "stop_reason": None,
        }
    ]


def test_an_error_event_ends_the_stream() -> None:
    error = encode_event(
        '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
        event="error",
    )
    stream, items = feed(event("hi") + error, TestInspector())
    assert items[-1] == error and stream.saw_end
    with pytest.raises(RemoteProtocolError):
        stream.feed(events(event("late"))[0])


@pytest.mark.parametrize("approved", [True, False])
def test_held_text_waits_for_a_reviewer(approved: bool) -> None:
    stream, items = feed(
        completion("fine ", "secret plan", " more"),
        TestInspector(upper=False, text_flow_on="secret"),
    )
    hold = items[-1]
    assert isinstance(hold, Hold) and hold.decision.flow is Flow.HOLD
    resumed = hold.resume(approved, "no")
    if approved:
        assert text([*items[:-1], *resumed]) == "fine secret plan"
        assert not stream.done
    else:
        out = data([*items[:-1], *resumed])
        assert "no (rule: test-hold)" in out[-1]["completion"]
        assert out[-1]["stop_reason"] == "stop_sequence" and stream.done


def test_a_hold_on_the_last_event_releases_the_rest_on_approval() -> None:
    stream, items = feed(
        event("a ") + event("secret", "stop_sequence"),
        TestInspector(upper=False, text_flow_on="secret"),
    )
    hold = items[-1]
    assert isinstance(hold, Hold)
    resumed = data(hold.resume(True, ""))
    assert resumed[-1]["completion"] == "secret" and resumed[-1]["stop_reason"] == "stop_sequence"
    assert stream.saw_end


BLOCKING = TestInspector(upper=False, text_flow_on="", text_flow=Flow.BLOCK)


def test_a_blocking_decision_stops_the_exchange() -> None:
    blocked = CompleteStream(exchange(), Pipeline([BLOCKING]))
    out = blocked.feed(events(event("anything"))[0])
    assert isinstance(out[-1], Block) and blocked.done
    assert blocked.feed(events(event("more"))[0]) == []


def test_the_prompt_is_a_request_slot() -> None:
    body = {"model": "claude-2.1", "prompt": "\n\nHuman: hi\n\nAssistant:"}
    assert [(s.path, s.text) for s in iter_slots(body)] == [(("prompt",), body["prompt"])]


def test_whole_body() -> None:
    body = {"type": "completion", "completion": "hi there", "stop_reason": "stop_sequence"}
    assert transform_complete_body(body, exchange(), Pipeline([TestInspector()])) is None
    assert body["completion"] == "HI THERE"
    held = {"type": "completion", "completion": "a secret b"}
    inspector = TestInspector(upper=False, text_flow_on="secret")
    assert transform_complete_body(held, exchange(), Pipeline([inspector])) is None
    assert held["completion"].startswith("[Warden] needs review")
    assert transform_complete_body({"type": "error"}, exchange(), Pipeline([])) is None
