"""The fake speaks the Anthropic Messages API well enough for the official SDK."""

import base64
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import anthropic
import pytest

from tests.fakes.provider import FakeProvider
from tests.fakes.script import Failure, Match, Reply, Text, call_tool, fail, say, think

MODEL = "claude-sonnet-4-6"
HI = [{"role": "user", "content": "hi"}]
TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
PNG = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d49484452")).decode()


@pytest.fixture
def sdk(provider: FakeProvider, url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=url, api_key=provider.credentials.anthropic_key, max_retries=0
    ) as client:
        yield client


@pytest.fixture
async def async_sdk(provider: FakeProvider, url: str) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url=url, api_key=provider.credentials.anthropic_key, max_retries=0
    ) as client:
        yield client


def blocks_of(message: Any) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for block in message.content:
        if block.type == "text":
            out.append(("text", block.text))
        elif block.type == "thinking":
            out.append(("thinking", (block.thinking, block.signature)))
        elif block.type == "tool_use":
            out.append(("tool_use", (block.name, block.input)))
    return out


REPLIES = [
    ("text", say("Hello, world!"), [("text", "Hello, world!")], "end_turn"),
    (
        "tool call",
        call_tool("get_weather", {"city": "Paris", "days": [1, 2]}),
        [("tool_use", ("get_weather", {"city": "Paris", "days": [1, 2]}))],
        "tool_use",
    ),
    (
        "text then tool call",
        call_tool("get_weather", {"city": "Oslo"}, text="Let me check."),
        [("text", "Let me check."), ("tool_use", ("get_weather", {"city": "Oslo"}))],
        "tool_use",
    ),
    (
        "thinking",
        think("The user greets me.", "Hi!", signature="sig-abc"),
        [("thinking", ("The user greets me.", "sig-abc")), ("text", "Hi!")],
        "end_turn",
    ),
]


@pytest.mark.parametrize(
    ("reply", "blocks", "stop"), [r[1:] for r in REPLIES], ids=[r[0] for r in REPLIES]
)
def test_sync_non_streaming(
    provider: FakeProvider,
    reply: Reply,
    blocks: list[Any],
    stop: str,
    sdk: anthropic.Anthropic,
) -> None:
    provider.script.push(reply)
    raw = sdk.messages.with_raw_response.create(
        model=MODEL, max_tokens=256, messages=HI, tools=TOOLS
    )
    assert raw.headers["request-id"].startswith("req_")
    message = raw.parse()
    assert message.id.startswith("msg_")
    assert blocks_of(message) == blocks
    assert message.stop_reason == stop
    assert message.usage.input_tokens > 0


@pytest.mark.parametrize(
    ("reply", "blocks", "stop"), [r[1:] for r in REPLIES], ids=[r[0] for r in REPLIES]
)
async def test_async_streaming(
    provider: FakeProvider,
    reply: Reply,
    blocks: list[Any],
    stop: str,
    async_sdk: anthropic.AsyncAnthropic,
) -> None:
    provider.script.push(reply)
    events = []
    async with async_sdk.messages.stream(
        model=MODEL, max_tokens=256, messages=HI, tools=TOOLS
    ) as stream:
        async for event in stream:
            events.append(event)
        message = await stream.get_final_message()
    assert blocks_of(message) == blocks
    assert message.stop_reason == stop
    deltas = [e.delta for e in events if e.type == "content_block_delta"]
    assert len(deltas) > len(blocks), "replies stream in many small deltas"
    assert all(len(getattr(d, "text", "")) <= 3 for d in deltas)


def test_sync_streaming_text_is_token_sized(
    provider: FakeProvider, url: str, sdk: anthropic.Anthropic
) -> None:
    provider.script.push(say("The quick brown fox jumps over the lazy dog."))
    with sdk.messages.stream(model=MODEL, max_tokens=64, messages=HI) as stream:
        texts = list(stream.text_stream)
    assert "".join(texts) == "The quick brown fox jumps over the lazy dog."
    assert len(texts) == 15


async def raw_stream(
    url: str, provider: FakeProvider, body: dict[str, Any], path: str = "/v1/messages"
) -> str:
    headers = {"x-api-key": provider.credentials.anthropic_key, "anthropic-version": "2023-06-01"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + path, json=body, headers=headers) as response,
    ):
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        return await response.text()


async def test_stream_wire_format_is_anthropics(provider: FakeProvider, url: str) -> None:
    provider.script.push(say("Hi there"))
    text = await raw_stream(
        url, provider, {"model": MODEL, "max_tokens": 9, "messages": HI, "stream": True}
    )
    frames = [f for f in text.split("\n\n") if f]
    names = [f.split("\n")[0] for f in frames]
    assert names == [
        "event: message_start",
        "event: content_block_start",
        "event: ping",
        "event: content_block_delta",
        "event: content_block_delta",
        "event: content_block_delta",
        "event: content_block_stop",
        "event: message_delta",
        "event: message_stop",
    ]
    assert frames[2] == 'event: ping\ndata: {"type": "ping"}'
    assert frames[3] == (
        "event: content_block_delta\n"
        'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi "}}'
    )
    delta = json.loads(frames[7].split("data: ", 1)[1])
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}


async def test_legacy_text_completions_speak_their_wire_format(
    provider: FakeProvider, url: str
) -> None:
    provider.script.push(say("Hi there"), say("Hi there"))
    body = {
        "model": "claude-2.1",
        "max_tokens_to_sample": 9,
        "prompt": "\n\nHuman: hi\n\nAssistant:",
    }
    text = await raw_stream(url, provider, {**body, "stream": True}, "/v1/complete")
    frames = [f.split("\n") for f in text.split("\n\n") if f]
    assert [f[0] for f in frames] == [
        "event: completion",
        "event: ping",
        *["event: completion"] * 3,
    ]
    pieces = [json.loads(f[1].removeprefix("data: ")) for f in frames if f[0] != "event: ping"]
    assert [(p["completion"], p["stop_reason"]) for p in pieces] == [
        ("Hi ", None),
        ("the", None),
        ("re", None),
        ("", "stop_sequence"),
    ]
    assert all(p["type"] == "completion" and p["model"] == "claude-2.1" for p in pieces)
    headers = {"x-api-key": provider.credentials.anthropic_key, "anthropic-version": "2023-06-01"}
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/v1/complete", json=body, headers=headers) as response:
            whole = await response.json()
        assert whole["completion"] == "Hi there" and whole["stop_reason"] == "stop_sequence"
        async with session.post(
            url + "/v1/complete", json={**body, "prompt": "hi"}, headers=headers
        ) as response:
            assert response.status == 400


async def test_tool_arguments_stream_as_json_fragments(provider: FakeProvider, url: str) -> None:
    arguments = {"command": "echo hi", "description": "say hi"}
    provider.script.push(call_tool("Bash", arguments))
    body = {"model": MODEL, "max_tokens": 9, "messages": HI, "stream": True, "tools": TOOLS}
    text = await raw_stream(url, provider, body)
    events = [json.loads(f.split("data: ", 1)[1]) for f in text.split("\n\n") if f]
    start = next(e for e in events if e["type"] == "content_block_start")
    assert start["content_block"]["input"] == {}
    fragments = [e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta"]
    assert fragments[0] == ""
    assert len(fragments) > 3
    assert json.loads("".join(fragments)) == arguments


ERRORS = [
    (
        "bad request",
        fail(400, "messages: too long"),
        anthropic.BadRequestError,
        "invalid_request_error",
    ),
    ("rate limited", fail(429, "slow down"), anthropic.RateLimitError, "rate_limit_error"),
    ("server error", fail(500, "boom"), anthropic.InternalServerError, "api_error"),
    ("overloaded", fail(529, "Overloaded"), anthropic.OverloadedError, "overloaded_error"),
    ("forbidden", fail(403, "nope"), anthropic.PermissionDeniedError, "permission_error"),
]


@pytest.mark.parametrize(
    ("reply", "exception", "kind"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_scripted_errors_raise_the_sdk_exception(
    provider: FakeProvider,
    reply: Reply,
    exception: type[Exception],
    kind: str,
    sdk: anthropic.Anthropic,
) -> None:
    provider.script.push(reply)
    with pytest.raises(exception) as raised:
        sdk.messages.create(model=MODEL, max_tokens=9, messages=HI)
    assert isinstance(raised.value, anthropic.APIStatusError)
    assert raised.value.body["error"]["type"] == kind  # type: ignore[index]
    assert raised.value.request_id is not None


async def test_error_mid_stream_arrives_as_an_error_event(
    provider: FakeProvider, async_sdk: anthropic.AsyncAnthropic
) -> None:
    failure = Failure(529, "Overloaded", after_deltas=2)
    provider.script.push(Reply(blocks=(Text("This will not finish"),), failure=failure))
    received = []
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        async with async_sdk.messages.stream(model=MODEL, max_tokens=9, messages=HI) as stream:
            async for text in stream.text_stream:
                received.append(text)
    assert received == ["Thi", "s w"]


REJECTED = [
    (
        "wrong key",
        {"api_key": "sk-ant-wrong"},
        {},
        anthropic.AuthenticationError,
        "invalid x-api-key",
    ),
    ("unknown model", {}, {"model": "gpt-4o"}, anthropic.NotFoundError, "model: gpt-4o"),
    (
        "bad image",
        {},
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "%%%"},
                        }
                    ],
                }
            ]
        },
        anthropic.BadRequestError,
        "invalid base64",
    ),
    (
        "system role without the beta",
        {},
        {"messages": [{"role": "system", "content": "be brief"}]},
        anthropic.BadRequestError,
        "messages.0.role",
    ),
]


@pytest.mark.parametrize(
    ("client_args", "overrides", "exception", "message"),
    [r[1:] for r in REJECTED],
    ids=[r[0] for r in REJECTED],
)
def test_invalid_requests_are_rejected(
    provider: FakeProvider,
    url: str,
    client_args: dict[str, Any],
    overrides: dict[str, Any],
    exception: type[Exception],
    message: str,
) -> None:
    with (
        anthropic.Anthropic(
            base_url=url,
            max_retries=0,
            **{"api_key": provider.credentials.anthropic_key, **client_args},
        ) as client,
        pytest.raises(exception, match=message),
    ):
        client.messages.create(**{"model": MODEL, "max_tokens": 9, "messages": HI, **overrides})


async def test_api_key_header_and_version_are_required(provider: FakeProvider, url: str) -> None:
    body = {"model": MODEL, "max_tokens": 9, "messages": HI}
    cases = [
        ({}, 401, "x-api-key header is required"),
        (
            {"x-api-key": provider.credentials.anthropic_key},
            400,
            "anthropic-version: header is required",
        ),
        (
            {"x-api-key": provider.credentials.anthropic_key, "anthropic-version": "2023-06-01"},
            200,
            None,
        ),
    ]
    async with aiohttp.ClientSession() as session:
        for headers, status, message in cases:
            async with session.post(url + "/v1/messages", json=body, headers=headers) as response:
                assert response.status == status
                answer = await response.json()
                if message:
                    assert answer["type"] == "error"
                    assert answer["error"]["message"] == message


def test_images_are_accepted(sdk: anthropic.Anthropic) -> None:
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "text", "text": "what is this?"},
    ]
    message = sdk.messages.create(
        model=MODEL, max_tokens=9, messages=[{"role": "user", "content": content}]
    )
    assert blocks_of(message) == [("text", "ok: what is this?")]


def test_count_tokens_and_models(sdk: anthropic.Anthropic) -> None:
    assert sdk.messages.count_tokens(model=MODEL, messages=HI).input_tokens > 0
    models = [m.id for m in sdk.models.list()]
    assert MODEL in models
    assert sdk.models.retrieve(MODEL).display_name == "Claude Sonnet 4.6"
    with pytest.raises(anthropic.NotFoundError):
        sdk.models.retrieve("claude-nope")


def test_side_requests_do_not_take_the_scripted_reply(
    provider: FakeProvider, sdk: anthropic.Anthropic
) -> None:
    provider.script.push(say("main turn", match=Match(has_tools=True)))
    side = sdk.messages.create(model="claude-haiku-4-5", max_tokens=9, messages=HI)
    main = sdk.messages.create(model=MODEL, max_tokens=9, messages=HI, tools=TOOLS)
    assert blocks_of(side) == [("text", "ok: hi")]
    assert blocks_of(main) == [("text", "main turn")]


def test_requests_are_recorded_as_received(
    provider: FakeProvider, sdk: anthropic.Anthropic
) -> None:
    sdk.messages.create(
        model=MODEL, max_tokens=9, messages=HI, extra_headers={"anthropic-beta": "x-2025"}
    )
    [seen] = provider.recorder.to("/v1/messages")
    assert seen.header("authorization") == f"Bearer {provider.credentials.anthropic_key}"
    assert seen.header("anthropic-beta") == "x-2025"
    assert seen.json == {"model": MODEL, "max_tokens": 9, "messages": HI}
    assert seen.status == 200
    assert provider.recorder.anywhere(provider.credentials.anthropic_key)
    assert not provider.recorder.anywhere("gateway-token")
