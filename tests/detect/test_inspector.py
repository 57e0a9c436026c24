"""The masking inspector through the pipeline's contract: requests, channels, caching."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.detect.engines import mini_engine
from warden.detect.inspector import MaskingInspector, ToolInputChannel
from warden.detect.mask import Masker
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


def tokenized(masking: MaskingInspector, value: str, session: str = "s1") -> str:
    """The placeholder the request side gave ``value`` in ``session``."""
    request = view(conversation(f"use {value}"))
    masking.inspect_request(exchange(session), request)
    token: str = request.json["messages"][0]["content"].removeprefix("use ")
    assert token.startswith("[TOKEN:")
    return token


def tool_channel(masking: MaskingInspector, session: str = "s1") -> Any:
    channel = masking.open_channel(
        exchange(session), Channel("content/1", ChannelKind.TOOL_INPUT, tool_name="Edit")
    )
    assert channel is not None
    return channel


def test_tool_input_keeps_placeholders_and_delivers_vault_values() -> None:
    masking = inspector(Policy(detokenize_tool_input=True), vaults=MemoryVaults())
    token = tokenized(masking, KEY)
    channel = tool_channel(masking)
    raw = json.dumps({"old_string": f'K = "{token}"\nA = 1', "new_string": f'K = "{token}"\nA = 2'})
    for piece in (raw[:7], raw[7:]):
        assert channel.feed(piece).text == ""
    released = channel.end()
    assert released.text == raw  # what is recorded: the placeholders, byte for byte
    assert released.decisions == ()
    delivered = channel.deliver(released.text)
    assert json.loads(delivered.text) == {
        "old_string": f'K = "{KEY}"\nA = 1',
        "new_string": f'K = "{KEY}"\nA = 2',
    }
    assert [(d.action, d.rule, d.channel, d.start, d.end) for d in delivered.decisions] == [
        ("detokenize", "test-aws-key-id", "content/1#/old_string", 5, 5 + len(token)),
        ("detokenize", "test-aws-key-id", "content/1#/new_string", 5, 5 + len(token)),
    ]
    assert KEY not in repr(delivered.decisions)


def test_delivered_values_are_json_escaped() -> None:
    value = 'pa"ss\\word'
    vault = MemoryVaults().for_session("s1")
    channel = ToolInputChannel(
        mini_engine(),
        Masker(hash_key=b"k" * 32),
        (),
        key="content/1",
        inspector="masking",
        detokenize_with=vault,
    )
    token = vault.tokenize("test-aws-key-id", value)
    delivered = channel.deliver(json.dumps({"command": f"login {token}"}))
    assert json.loads(delivered.text) == {"command": f"login {value}"}


def test_freeform_tool_input_gets_values_back_in_the_text() -> None:
    masking = inspector(Policy(detokenize_tool_input=True))
    token = tokenized(masking, KEY)
    patch = f"*** Begin Patch\n-K={token}\n+K={token} # rotated\n*** End Patch"
    delivered = tool_channel(masking).deliver(patch)
    assert delivered.text == patch.replace(token, KEY)
    assert [d.channel for d in delivered.decisions] == ["content/1", "content/1"]


def test_placeholders_of_another_session_or_unknown_stay() -> None:
    masking = inspector(Policy(detokenize_tool_input=True))
    token = tokenized(masking, KEY, session="s1")
    forged = "[TOKEN:test-aws-key-id:0000000000000000]"
    text = json.dumps({"command": f"echo {token} {forged}"})
    other = tool_channel(masking, session="s2").deliver(text)
    assert (other.text, other.decisions) == (text, ())
    same = tool_channel(masking, session="s1").deliver(text)
    assert json.loads(same.text) == {"command": f"echo {KEY} {forged}"}


def test_without_the_policy_tool_input_is_delivered_as_released() -> None:
    masking = inspector(Policy(detokenize_tool_input=False))
    token = tokenized(masking, KEY)
    text = json.dumps({"command": f"echo {token}"})
    assert tool_channel(masking).deliver(text).text == text


def test_a_vault_serves_every_exchange_of_its_session() -> None:
    """A placeholder minted in one exchange is restored in a later one of the same session."""
    masking = inspector(Policy(detokenize_tool_input=True))
    token = tokenized(masking, KEY, session="claude-session-1")
    later = masking.open_channel(
        Exchange(
            id="x2",
            session_id="claude-session-1",
            connection="claude",
            connection_type="anthropic",
            identity=Identity("dev"),
        ),
        Channel("content/0", ChannelKind.TOOL_INPUT, tool_name="Edit"),
    )
    assert later is not None
    assert later.deliver(f'{{"a":"{token}"}}').text == f'{{"a":"{KEY}"}}'  # type: ignore[attr-defined]


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


def test_a_session_id_sent_by_someone_else_restores_nothing() -> None:
    """Session ids are not secrets: the vault belongs to the caller and the session."""
    masking = inspector(Policy(detokenize_tool_input=True))
    token = tokenized(masking, KEY, session="claude-session-1")
    intruder = masking.open_channel(
        Exchange(
            id="x9",
            session_id="claude-session-1",
            connection="claude",
            connection_type="anthropic",
            identity=Identity("mallory"),
        ),
        Channel("content/0", ChannelKind.TOOL_INPUT, tool_name="Bash"),
    )
    assert intruder is not None
    text = f'{{"command":"echo {token}"}}'
    assert intruder.deliver(text).text == text  # type: ignore[attr-defined]


def test_the_verdict_cache_is_per_caller_too() -> None:
    """Two callers sending one session id have a vault each: a cached verdict holds
    one vault's placeholders, so it is never served to the other caller."""
    masking = inspector()
    text = "x" * 300 + f" {KEY}"
    mine, theirs = view(conversation(text)), view(conversation(text))
    masking.inspect_request(exchange("s"), mine)
    other = Exchange(
        id="x2",
        session_id="s",
        connection="claude",
        connection_type="anthropic",
        identity=Identity("mallory"),
    )
    masking.inspect_request(other, theirs)
    assert mine.json["messages"][0]["content"] != theirs.json["messages"][0]["content"]


def test_short_slots_are_cached_too() -> None:
    masking = inspector()
    masking.inspect_request(exchange(), view(conversation("hi", f"k {KEY}")))
    misses = masking.cache.misses
    again = view(conversation("hi", f"k {KEY}"))
    decisions = masking.inspect_request(exchange(), again)
    assert masking.cache.misses == misses
    assert [d.rule for d in decisions] == ["test-aws-key-id"]
