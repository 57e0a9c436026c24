"""The official anthropic SDK, sync and async, through `warden serve` to the fake provider."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.e2e.support import Gateway, assert_only_gateway_token_upstream, client_env
from tests.fakes.provider import FakeProvider
from tests.fakes.script import Reply, call_tool, fail, say, think

pytestmark = pytest.mark.e2e

MODEL = "claude-sonnet-4-6"
HI = [{"role": "user", "content": "hi"}]
TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


@pytest.fixture
def sdk(gateway: Gateway) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=gateway.base("claude"), api_key=gateway.token, max_retries=0
    ) as client:
        yield client


@pytest.fixture
async def async_sdk(gateway: Gateway) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url=gateway.base("claude"), api_key=gateway.token, max_retries=0
    ) as client:
        yield client


def blocks_of(message: Any) -> list[tuple[str, Any]]:
    kinds = {"text": "text", "thinking": "thinking", "tool_use": "input"}
    return [(b.type, getattr(b, kinds[b.type])) for b in message.content]


TURNS = [
    ("text", say("Hello through the gateway."), [("text", "Hello through the gateway.")]),
    (
        "tool call",
        call_tool("get_weather", {"city": "Paris"}, text="Checking."),
        [("text", "Checking."), ("tool_use", {"city": "Paris"})],
    ),
    (
        "thinking",
        think("Greeting; answer briefly.", "Hi!"),
        [("thinking", "Greeting; answer briefly."), ("text", "Hi!")],
    ),
]


@pytest.mark.parametrize(("reply", "blocks"), [t[1:] for t in TURNS], ids=[t[0] for t in TURNS])
def test_sync_non_streaming(
    fake_provider: FakeProvider,
    gateway: Gateway,
    sdk: anthropic.Anthropic,
    reply: Reply,
    blocks: list[Any],
) -> None:
    fake_provider.script.push(reply)
    message = sdk.messages.create(model=MODEL, max_tokens=256, messages=HI, tools=TOOLS)
    assert blocks_of(message) == blocks
    [seen] = fake_provider.recorder.to("/v1/messages")
    assert seen.json == {"model": MODEL, "max_tokens": 256, "messages": HI, "tools": TOOLS}
    assert_only_gateway_token_upstream(fake_provider, gateway)


@pytest.mark.parametrize(("reply", "blocks"), [t[1:] for t in TURNS], ids=[t[0] for t in TURNS])
async def test_async_streaming(
    fake_provider: FakeProvider,
    gateway: Gateway,
    async_sdk: anthropic.AsyncAnthropic,
    reply: Reply,
    blocks: list[Any],
) -> None:
    fake_provider.script.push(reply)
    deltas = 0
    async with async_sdk.messages.stream(
        model=MODEL, max_tokens=256, messages=HI, tools=TOOLS
    ) as stream:
        async for event in stream:
            deltas += event.type == "content_block_delta"
        message = await stream.get_final_message()
    assert blocks_of(message) == blocks
    # Text streams in several deltas; a tool call's input is released whole
    # once complete (the guardrails hold it until then).
    tool_calls = sum(1 for kind, _ in blocks if kind == "tool_use")
    assert deltas > len(blocks) - tool_calls
    assert_only_gateway_token_upstream(fake_provider, gateway)


def test_streaming_and_non_streaming_agree(
    fake_provider: FakeProvider, gateway: Gateway, sdk: anthropic.Anthropic
) -> None:
    fake_provider.script.push(say("same words"), say("same words"))
    with sdk.messages.stream(model=MODEL, max_tokens=64, messages=HI) as stream:
        streamed = "".join(stream.text_stream)
    plain = sdk.messages.create(model=MODEL, max_tokens=64, messages=HI)
    assert streamed == plain.content[0].text == "same words"  # type: ignore[union-attr]
    assert_only_gateway_token_upstream(fake_provider, gateway)


def test_tool_round_trip(
    fake_provider: FakeProvider, gateway: Gateway, sdk: anthropic.Anthropic
) -> None:
    fake_provider.script.push(call_tool("get_weather", {"city": "Oslo"}), say("It is 3°C."))
    first = sdk.messages.create(model=MODEL, max_tokens=64, messages=HI, tools=TOOLS)
    [use] = [b for b in first.content if b.type == "tool_use"]
    follow_up = [
        *HI,
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "3°C"}],
        },
    ]
    second = sdk.messages.create(model=MODEL, max_tokens=64, messages=follow_up, tools=TOOLS)
    assert second.content[0].text == "It is 3°C."  # type: ignore[union-attr]
    sent = fake_provider.recorder.to("/v1/messages")[1].json
    assert sent["messages"][2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": use.id,
        "content": "3°C",
    }


def test_unknown_fields_and_beta_headers_pass_through(
    fake_provider: FakeProvider, gateway: Gateway, sdk: anthropic.Anthropic
) -> None:
    sdk.messages.create(
        model=MODEL,
        max_tokens=9,
        messages=HI,
        extra_headers={"anthropic-beta": "future-feature-2099-01-01"},
        extra_body={"future_field": {"nested": [1, "two"]}},
    )
    [seen] = fake_provider.recorder.to("/v1/messages")
    assert seen.header("anthropic-beta") == "future-feature-2099-01-01"
    assert seen.json["future_field"] == {"nested": [1, "two"]}


def test_count_tokens_and_models(
    fake_provider: FakeProvider, gateway: Gateway, sdk: anthropic.Anthropic
) -> None:
    assert sdk.messages.count_tokens(model=MODEL, messages=HI).input_tokens > 0
    assert MODEL in [m.id for m in sdk.models.list()]
    assert_only_gateway_token_upstream(fake_provider, gateway)


ERRORS = [
    ("overloaded", fail(529, "Overloaded"), anthropic.OverloadedError),
    ("rate limited", fail(429, "Number of requests exceeded"), anthropic.RateLimitError),
    ("bad request", fail(400, "max_tokens: too large"), anthropic.BadRequestError),
]


@pytest.mark.parametrize(
    ("reply", "exception"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_provider_errors_reach_the_client_in_its_own_format(
    fake_provider: FakeProvider,
    gateway: Gateway,
    sdk: anthropic.Anthropic,
    reply: Reply,
    exception: type[anthropic.APIStatusError],
) -> None:
    fake_provider.script.push(reply)
    with pytest.raises(exception) as raised:
        sdk.messages.create(model=MODEL, max_tokens=9, messages=HI)
    assert raised.value.body["type"] == "error"  # type: ignore[index]
    assert fake_provider.credentials.anthropic_key not in str(raised.value)


def test_wrong_gateway_token_never_reaches_the_provider(
    fake_provider: FakeProvider, gateway: Gateway
) -> None:
    with (
        anthropic.Anthropic(
            base_url=gateway.base("claude"), api_key="wdn-not-a-token", max_retries=0
        ) as client,
        pytest.raises(anthropic.AuthenticationError) as raised,
    ):
        client.messages.create(model=MODEL, max_tokens=9, messages=HI)
    assert raised.value.body["type"] == "error"  # type: ignore[index]
    assert fake_provider.recorder.requests == []


def test_the_gateway_token_is_accepted_in_x_api_key_too(
    fake_provider: FakeProvider, gateway: Gateway
) -> None:
    """Older SDKs and Claude Code send `x-api-key`; the current SDK sends a bearer token."""
    with anthropic.Anthropic(
        base_url=gateway.base("claude"),
        api_key=None,
        auth_token=None,
        default_headers={"x-api-key": gateway.token},
        max_retries=0,
    ) as client:
        message = client.messages.create(model=MODEL, max_tokens=9, messages=HI)
    assert message.content[0].text == "ok: hi"  # type: ignore[union-attr]
    assert_only_gateway_token_upstream(fake_provider, gateway)


def test_recorded_exchanges_show_on_metrics(
    gateway: Gateway, fake_provider: FakeProvider, sdk: anthropic.Anthropic
) -> None:
    fake_provider.script.push(say("Recorded."))
    sdk.messages.create(model=MODEL, max_tokens=16, messages=HI)
    deadline = time.monotonic() + 10
    while True:
        with urllib.request.urlopen(gateway.url + "/metrics", timeout=5) as reply:
            lines = dict(
                line.rsplit(" ", 1)
                for line in reply.read().decode().splitlines()
                if line.startswith("warden_recorder_")
            )
        # The writer commits a batch interval after the exchange.
        if float(lines["warden_recorder_written_total"]) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert float(lines["warden_recorder_written_total"]) >= 2  # request and end
    assert float(lines["warden_recorder_batches_total"]) >= 1
    assert float(lines["warden_recorder_dropped_total"]) == 0


GITHUB_PAT = "ghp_R8zX2kQ9mW4nV7bT1yL5pH3sJ6dF0gC8aE2u"


def text_completions(gateway: Gateway, tmp_path: Path, prompt: str) -> tuple[int, Any]:
    """The TypeScript SDK's legacy ``completions.create``, whole then streamed
    (the Python SDK no longer has it); its exit code and what it printed."""
    env = client_env(
        tmp_path, ANTHROPIC_BASE_URL=gateway.base("claude"), ANTHROPIC_API_KEY=gateway.token
    )
    done = subprocess.run(
        ["node", str(Path(__file__).parent / "anthropic_complete.mjs"), prompt],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 2), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_legacy_text_completions_are_masked_both_ways(
    fake_provider: FakeProvider, gateway: Gateway, tmp_path: Path
) -> None:
    """``/v1/complete`` is not a way around masking: the prompt is tokenized
    before the provider, the completion redacted, whole and streamed."""
    answer = f"Push with {GITHUB_PAT} now."
    fake_provider.script.push(say(answer), say(answer))
    code, out = text_completions(gateway, tmp_path, f"my token is {GITHUB_PAT}")
    assert code == 0
    assert out["whole"] == out["streamed"] == "Push with [REDACTED:github-pat-classic] now."
    assert out["stop"] == "stop_sequence"
    prompts = [r.json["prompt"] for r in fake_provider.recorder.to("/v1/complete")]
    assert len(prompts) == 2
    assert all("[TOKEN:github-pat-classic:" in p and GITHUB_PAT not in p for p in prompts)
    assert_only_gateway_token_upstream(fake_provider, gateway)


def test_legacy_text_completion_errors_reach_the_client_in_its_own_format(
    fake_provider: FakeProvider, gateway: Gateway, tmp_path: Path
) -> None:
    fake_provider.script.push(fail(529, "Overloaded", kind="overloaded_error"))
    assert text_completions(gateway, tmp_path, "hi") == (
        2,
        {"status": 529, "type": "overloaded_error"},
    )


def test_a_message_batch_is_masked_both_ways(
    fake_provider: FakeProvider, gateway: Gateway, sdk: anthropic.Anthropic
) -> None:
    """A batch's requests are tokenized like any request; its results file is
    masked line by line; and its ``results_url`` leads back through the
    gateway, not to the provider with the agent's gateway token."""
    fake_provider.script.push(
        say(f"Push with {GITHUB_PAT} now."), fail(529, "Overloaded", kind="overloaded_error")
    )
    asking = [{"role": "user", "content": f"my token is {GITHUB_PAT}"}]
    batch = sdk.messages.batches.create(
        requests=[
            {"custom_id": "a", "params": {"model": MODEL, "max_tokens": 64, "messages": asking}},
            {"custom_id": "b", "params": {"model": MODEL, "max_tokens": 64, "messages": HI}},
        ]
    )
    assert batch.processing_status == "in_progress"
    ended = sdk.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert ended.results_url == f"{gateway.base('claude')}/v1/messages/batches/{batch.id}/results"
    results = {r.custom_id: r.result for r in sdk.messages.batches.results(batch.id)}
    assert results["a"].type == "succeeded"
    assert blocks_of(results["a"].message) == [
        ("text", "Push with [REDACTED:github-pat-classic] now.")
    ]
    assert results["b"].type == "errored"
    [sent] = fake_provider.recorder.to("/v1/messages/batches", "POST")
    assert "[TOKEN:github-pat-classic:" in json.dumps(sent.json)
    assert not fake_provider.recorder.anywhere(GITHUB_PAT)
    assert_only_gateway_token_upstream(fake_provider, gateway)


def test_an_uploaded_text_file_is_tokenized(
    fake_provider: FakeProvider, gateway: Gateway, sdk: anthropic.Anthropic
) -> None:
    uploaded = sdk.files.upload(
        file=("notes.md", f"push with {GITHUB_PAT}".encode(), "text/markdown")
    )
    kept = fake_provider.stored[uploaded.id]["content"].decode()
    assert kept.startswith("push with [TOKEN:github-pat-classic:") and GITHUB_PAT not in kept
    assert uploaded.filename == "notes.md" and uploaded.size_bytes == len(kept.encode())
