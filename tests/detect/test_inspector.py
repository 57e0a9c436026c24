"""The masking inspector through the pipeline's contract: requests, channels, caching."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.detect.engines import mini_engine
from warden.detect.inspector import MaskingInspector
from warden.detect.policy import Policy, PolicyEntry
from warden.detect.vault import MemoryVaults
from warden.pipeline.request import JsonRequestView
from warden.pipeline.types import (
    Channel,
    ChannelKind,
    Exchange,
    Flow,
    Identity,
    Inspector,
)
from warden.protocols.anthropic import iter_slots

KEY = "AKIAIOSFODNN7EXAMPLF"


def exchange(session: str = "s1", groups: frozenset[str] = frozenset()) -> Exchange:
    return Exchange(
        id="x1",
        session_id=session,
        connection="claude",
        connection_type="anthropic",
        identity=Identity("dev", groups),
    )


def inspector(policy: Policy | None = None, **kwargs: Any) -> MaskingInspector:
    return MaskingInspector(mini_engine(), policy, hash_key=b"k" * 32, **kwargs)


def view(body: dict[str, Any]) -> JsonRequestView:
    return JsonRequestView(body, "messages", iter_slots)


def conversation(*texts: str) -> dict[str, Any]:
    return {
        "system": "You are helpful.",
        "messages": [
            {"role": "user" if i % 2 == 0 else "assistant", "content": text}
            for i, text in enumerate(texts)
        ],
    }


def test_it_is_an_inspector() -> None:
    assert isinstance(inspector(), Inspector)


def test_request_slots_are_tokenized_and_decisions_name_the_slot() -> None:
    masking = inspector()
    request = view(conversation(f"my key is {KEY}", "ok"))
    decisions = masking.inspect_request(exchange(), request)
    text = request.json["messages"][0]["content"]
    assert KEY not in text and "[TOKEN:test-aws-key-id:" in text
    assert request.dirty
    [decision] = decisions
    assert decision.flow is Flow.REWRITE
    assert (decision.rule, decision.action, decision.channel) == (
        "test-aws-key-id",
        "tokenize",
        "messages/0/content",
    )
    assert (decision.start, decision.end) == (10, 30)
    assert KEY not in repr(decisions)


def test_untouched_requests_stay_clean() -> None:
    request = view(conversation("hello", "hi"))
    assert inspector().inspect_request(exchange(), request) == []
    assert not request.dirty


def test_block_rules_block_the_request() -> None:
    pem = mini_engine().catalogue.get("test-private-key")
    assert pem is not None
    request = view(conversation("see " + pem.examples[0]))
    [decision] = inspector().inspect_request(exchange(), request)
    assert decision.flow is Flow.BLOCK


def test_resent_conversations_hit_the_cache() -> None:
    masking = inspector()
    old = "x" * 300 + f" {KEY} " + "y" * 300
    first = view(conversation(old, "sure"))
    masking.inspect_request(exchange(), first)
    misses = masking.cache.misses
    second = view(conversation(old, "sure", "z" * 300))
    decisions = masking.inspect_request(exchange(), second)
    assert masking.cache.hits >= 1
    assert masking.cache.misses == misses + 1  # only the new turn
    assert second.json["messages"][0]["content"] == first.json["messages"][0]["content"]
    assert [d.rule for d in decisions] == ["test-aws-key-id"]


def test_cache_is_per_session() -> None:
    masking = inspector()
    text = "x" * 300 + f" {KEY}"
    a, b = view(conversation(text)), view(conversation(text))
    masking.inspect_request(exchange("a"), a)
    masking.inspect_request(exchange("b"), b)
    assert a.json["messages"][0]["content"] != b.json["messages"][0]["content"]


def test_text_channel_streams_masked_text() -> None:
    channel = inspector().open_channel(exchange(), Channel("content/0", ChannelKind.TEXT))
    assert channel is not None
    out = []
    decisions = []
    for piece in ["Here: AK", "IAIOSFODNN7EX", "AMPLF and more text"]:
        result = channel.feed(piece)
        out.append(result.text)
        decisions += result.decisions
    end = channel.end()
    out.append(end.text)
    decisions += end.decisions
    assert "".join(out) == "Here: [REDACTED:test-aws-key-id] and more text"
    assert [(d.rule, d.channel, d.start, d.end) for d in decisions] == [
        ("test-aws-key-id", "content/0", 6, 26)
    ]
    assert channel.held == 0


def test_review_rules_hold_the_channel() -> None:
    channel = inspector().open_channel(exchange(), Channel("content/0", ChannelKind.TEXT))
    assert channel is not None
    result = channel.feed("ssh db-1.corp.internal now")
    end = channel.end()
    flows = [d for d in (*result.decisions, *end.decisions) if d.flow is Flow.HOLD]
    assert [d.rule for d in flows] == ["test-internal-host"]


def test_masked_thinking_is_restored_on_the_next_turn() -> None:
    vaults = MemoryVaults()
    masking = inspector(vaults=vaults)
    channel = masking.open_channel(exchange(), Channel("content/0", ChannelKind.THINKING))
    assert channel is not None
    original = f"I should not echo {KEY} back."
    masked = channel.feed(original).text + channel.end().text
    assert KEY not in masked
    body = {
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": masked, "signature": "sig"},
                    {"type": "text", "text": "done"},
                ],
            },
        ]
    }
    request = view(body)
    decisions = masking.inspect_request(exchange(), request)
    assert request.json["messages"][1]["content"][0]["thinking"] == original
    assert [(d.rule, d.action) for d in decisions] == [("thinking", "restore")]


def test_thinking_from_elsewhere_is_left_alone() -> None:
    body = {
        "messages": [
            {"role": "assistant", "content": [{"type": "thinking", "thinking": f"k {KEY}"}]}
        ]
    }
    request = view(body)
    assert inspector().inspect_request(exchange(), request) == []
    assert not request.dirty


def tool(masking: MaskingInspector, *pieces: str) -> tuple[str, list[Any]]:
    channel = masking.open_channel(
        exchange(), Channel("content/1", ChannelKind.TOOL_INPUT, tool_name="bash")
    )
    assert channel is not None
    for piece in pieces:
        assert channel.feed(piece).text == ""  # held until the JSON is complete
    end = channel.end()
    return end.text, list(end.decisions)


def test_tool_input_is_masked_inside_strings_and_stays_json() -> None:
    raw = json.dumps({"command": f"aws configure set key {KEY}", "n": 1.5, "list": [KEY]})
    text, decisions = tool(inspector(), raw[:10], raw[10:])
    assert json.loads(text) == {
        "command": "aws configure set key [REDACTED:test-aws-key-id]",
        "n": 1.5,
        "list": ["[REDACTED:test-aws-key-id]"],
    }
    assert [d.channel for d in decisions] == ["content/1#/command", "content/1#/list/0"]


def test_tool_input_without_findings_is_emitted_byte_for_byte() -> None:
    raw = '{"command":  "ls -la" }'
    assert tool(inspector(), raw)[0] == raw


def test_tool_input_that_is_not_json_is_masked_as_text() -> None:
    text, _ = tool(inspector(), f'{{"command": "echo {KEY}"')
    assert text == '{"command": "echo [REDACTED:test-aws-key-id]"'


def test_tool_input_can_get_vault_values_back() -> None:
    vaults = MemoryVaults()
    policy = Policy(detokenize_tool_input=True)
    masking = inspector(policy, vaults=vaults)
    request = view(conversation(f"use {KEY}"))
    masking.inspect_request(exchange(), request)
    token = request.json["messages"][0]["content"].removeprefix("use ")
    text, decisions = tool(masking, json.dumps({"command": f"export K={token}"}))
    assert json.loads(text) == {"command": f"export K={KEY}"}
    assert [d.action for d in decisions] == ["detokenize"]


def test_policy_can_turn_masking_off_for_a_group() -> None:
    policy = Policy(entries=(PolicyEntry(enabled=False, groups=("auditors",)),))
    masking = inspector(policy)
    assert (
        masking.open_channel(
            exchange(groups=frozenset({"auditors"})), Channel("c", ChannelKind.TEXT)
        )
        is None
    )
    assert masking.open_channel(exchange(), Channel("c", ChannelKind.TEXT)) is not None


def test_swap_changes_the_policy_for_new_exchanges() -> None:
    masking = inspector()
    masking.swap(policy=Policy(request_action="redact"))
    request = view(conversation(f"k {KEY}"))
    masking.inspect_request(exchange(), request)
    assert request.json["messages"][0]["content"] == "k [REDACTED:test-aws-key-id]"


@pytest.mark.parametrize("kind", [ChannelKind.TEXT, ChannelKind.REFUSAL, ChannelKind.THINKING])
def test_every_text_like_channel_is_masked(kind: ChannelKind) -> None:
    channel = inspector().open_channel(exchange(), Channel("k", kind))
    assert channel is not None
    assert KEY not in channel.feed(f"{KEY} ").text + channel.end().text
