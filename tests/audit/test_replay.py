from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

from tests.audit.helpers import conversation, exchange
from warden.audit import queries, render
from warden.audit.models import EventInfo, SessionInfo
from warden.audit.recorder import Recorder
from warden.audit.replay import Replayer, show
from warden.audit.store import Store
from warden.pipeline.record import RecordKind


def console() -> Console:
    return Console(file=io.StringIO(), width=120, record=True, color_system="truecolor")


def event(seq: int, ts: int, kind: str, payload: object) -> EventInfo:
    return EventInfo(seq, "c", seq, ts, kind, "s", "x", json.dumps(payload), "", "")


SESSION = SessionInfo(
    "s", "alice", ("dev",), "token", "ua", "127.0.0.1", "claude", "anthropic", 0, 3_000_000, "ok", 1
)


def test_waits_the_recorded_gaps_scaled_by_speed() -> None:
    waits: list[float] = []
    events = [
        event(1, 0, "response.event", {"text": "a"}),
        event(2, 500_000, "response.event", {"text": "b"}),
        event(3, 2_500_000, "response.event", {"text": "c"}),
    ]
    Replayer(console(), speed=2.0, sleep=waits.append).play(SESSION, events)
    assert waits == [0.25, 1.0]


def test_speed_zero_never_waits_and_max_wait_caps() -> None:
    waits: list[float] = []
    events = [event(1, 0, "end", {"outcome": "ok"}), event(2, 60_000_000, "end", {})]
    Replayer(console(), speed=0, sleep=waits.append).play(SESSION, events)
    assert waits == []
    Replayer(console(), speed=1, max_wait=2.0, sleep=waits.append).play(SESSION, events)
    assert waits == [2.0]
    with pytest.raises(ValueError):
        Replayer(console(), speed=-1)


async def test_replays_a_recorded_conversation(store: Store) -> None:
    async with Recorder(store, instance_id="gw-1") as recorder:
        ex = exchange()
        await conversation(recorder, ex, deltas=3)
        await recorder.record(ex, RecordKind.ERROR, {"message": "upstream timeout"})
    session = queries.get_session(store, "sess-1")
    assert session is not None
    out = console()
    Replayer(out, speed=0).play(session, queries.session_events(store, "sess-1"))
    text = out.export_text(clear=False)
    assert "user: key [REDACTED:aws-access-key]" in text
    assert "assistant: part 0 part 1 part 2" in text
    assert "mask by aws-access-key (rewrite)" in text
    assert "upstream timeout" in text
    html = out.export_html()
    assert re.search(r'<span class="r\d+">\[REDACTED:aws-access-key\]</span>', html)


def test_only_new_request_messages_are_shown() -> None:
    first = {"body": {"messages": [{"role": "user", "content": "one"}]}}
    second = {
        "body": {
            "messages": [
                {"role": "user", "content": "one"},
                {"role": "assistant", "content": [{"type": "text", "text": "reply"}]},
                {"role": "user", "content": "two"},
            ]
        }
    }
    out = console()
    Replayer(out, speed=0).play(
        SESSION, [event(1, 0, "request", first), event(2, 1, "request", second)]
    )
    text = out.export_text(clear=False)
    assert text.count("user: one") == 1 and "assistant: reply" in text and "user: two" in text


def test_legacy_prompts_are_shown() -> None:
    assert render.request_messages({"body": {"prompt": "\n\nHuman: hi\n\nAssistant:"}}) == [
        ("prompt", "\n\nHuman: hi\n\nAssistant:")
    ]
    assert render.request_messages({"body": {"prompt": ["a", [1, 2], "b"]}}) == [
        ("prompt", "a"),
        ("prompt", "b"),
    ]


def test_batch_results_show_a_line_per_request() -> None:
    message = {"content": [{"type": "text", "text": "hi"}]}
    payload = {
        "lines": [
            {"custom_id": "a", "result": {"type": "succeeded", "message": message}},
            {"custom_id": "b", "result": {"type": "errored", "error": {"type": "error"}}},
        ]
    }
    assert render.stream_pieces(payload) == [
        ("text", "\n[a: succeeded] hi"),
        ("text", '\n[b: errored] {"type": "error"}'),
    ]


def test_a_downloaded_files_text_replays_as_text() -> None:
    assert render.stream_pieces({"t": 0.01, "text": "token=[REDACTED:x]\n"}) == [
        ("text", "token=[REDACTED:x]\n")
    ]


def test_show_lists_every_event() -> None:
    out = console()
    events = [
        event(1, 0, "request", {"subject": "alice", "connection": "claude", "method": "POST"}),
        event(2, 1_000_000, "decision", {"flow": "block", "rule": "rm-rf", "action": "block"}),
        event(3, 2_000_000, "raw", {"of": "request", "size": 10}),
    ]
    show(out, SESSION, events)
    text = out.export_text(clear=False)
    assert "alice via claude" in text
    assert "block by rm-rf (block)" in text
    assert "sealed raw request payload" in text


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"data": json.dumps({"type": "content_block_delta", "delta": {"text": "hi"}})},
            ("text", "hi"),
        ),
        (
            {"data": {"type": "content_block_delta", "delta": {"partial_json": '{"a'}}},
            ("tool", '{"a'),
        ),
        (
            {
                "data": {
                    "type": "content_block_start",
                    "content_block": {"type": "tool_use", "name": "bash"},
                }
            },
            ("marker", "tool call bash: "),
        ),
        ({"data": {"choices": [{"delta": {"content": "yo"}}]}}, ("text", "yo")),
        ({"data": {"type": "response.output_text.delta", "delta": "r"}}, ("text", "r")),
        ({"data": {"type": "message_stop"}}, ("end", "")),
        ({"data": {"type": "completion", "completion": " Hi"}}, ("text", " Hi")),
        ({"data": {"choices": [{"text": "legacy", "index": 0}]}}, ("text", "legacy")),
        ({"data": "[DONE]"}, ("raw", "[DONE]")),
        ({"data": {"type": "ping"}}, None),
    ],
)
def test_stream_pieces(payload: dict[str, object], expected: tuple[str, str] | None) -> None:
    assert render.stream_piece(payload) == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"body": {"content": [{"type": "text", "text": "hello"}]}}, "hello"),
        ({"body": {"choices": [{"message": {"content": "hey"}}]}}, "hey"),
        (
            {"body": json.dumps({"output": [{"content": [{"type": "output_text", "text": "o"}]}]})},
            "o",
        ),
        ({"body": {"jsonrpc": "2.0", "result": {"ok": True}}}, '{"ok": true}'),
        ({"body": {"type": "completion", "completion": " Hi"}}, " Hi"),
        ({"body": {"choices": [{"text": "legacy", "index": 0}]}}, "legacy"),
    ],
)
def test_response_text(payload: dict[str, object], expected: str) -> None:
    assert render.response_text(payload) == expected


def test_placeholders_are_highlighted() -> None:
    text = render.highlight("a [REDACTED:aws] b [TOKEN:12ab] c [not-a-placeholder]")
    styled = [text.plain[s.start : s.end] for s in text.spans]
    assert styled == ["[REDACTED:aws]", "[TOKEN:12ab]"]
