"""The fake speaks OpenAI chat, responses, embeddings and models for the official SDK."""

import base64
import json
import struct
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import openai
import pytest

from tests.fakes.provider import FakeProvider
from tests.fakes.script import Failure, Reply, Text, call_tool, fail, say, think

HI = [{"role": "user", "content": "hi"}]
CHAT_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
RESPONSE_TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


@pytest.fixture
def sdk(provider: FakeProvider, url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=url + "/v1", api_key=provider.credentials.openai_key, max_retries=0
    ) as client:
        yield client


@pytest.fixture
async def async_sdk(provider: FakeProvider, url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=url + "/v1", api_key=provider.credentials.openai_key, max_retries=0
    ) as client:
        yield client


CHATS = [
    ("text", say("Hello, world!"), "Hello, world!", [], "stop"),
    (
        "tool call",
        call_tool("get_weather", {"city": "Paris"}),
        None,
        [("get_weather", {"city": "Paris"})],
        "tool_calls",
    ),
    (
        "text and tool call",
        call_tool("get_weather", {"city": "Oslo", "days": [1, 2, 3]}, text="Checking."),
        "Checking.",
        [("get_weather", {"city": "Oslo", "days": [1, 2, 3]})],
        "tool_calls",
    ),
]
CHAT_IDS = [c[0] for c in CHATS]


def calls_of(message: Any) -> list[tuple[str, Any]]:
    return [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]


@pytest.mark.parametrize(("reply", "text", "calls", "finish"), [c[1:] for c in CHATS], ids=CHAT_IDS)
def test_chat_sync(
    provider: FakeProvider,
    sdk: openai.OpenAI,
    reply: Reply,
    text: str | None,
    calls: list[Any],
    finish: str,
) -> None:
    provider.script.push(reply)
    raw = sdk.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=HI, tools=CHAT_TOOLS
    )
    assert raw.headers["x-request-id"].startswith("req_")
    completion = raw.parse()
    [choice] = completion.choices
    assert (choice.message.content, calls_of(choice.message), choice.finish_reason) == (
        text,
        calls,
        finish,
    )
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0


@pytest.mark.parametrize(("reply", "text", "calls", "finish"), [c[1:] for c in CHATS], ids=CHAT_IDS)
async def test_chat_async_streaming(
    provider: FakeProvider,
    async_sdk: openai.AsyncOpenAI,
    reply: Reply,
    text: str | None,
    calls: list[Any],
    finish: str,
) -> None:
    provider.script.push(reply)
    chunks = []
    async with async_sdk.chat.completions.stream(
        model="gpt-4o", messages=HI, tools=CHAT_TOOLS, stream_options={"include_usage": True}
    ) as stream:
        async for event in stream:
            if event.type == "chunk":
                chunks.append(event.chunk)
        completion = await stream.get_final_completion()
    [choice] = completion.choices
    assert (choice.message.content, calls_of(choice.message), choice.finish_reason) == (
        text,
        calls,
        finish,
    )
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    assert len(chunks) > 4


def test_chat_stream_without_usage_ends_with_done(
    provider: FakeProvider, sdk: openai.OpenAI
) -> None:
    provider.script.push(say("abcdefg"))
    stream = sdk.chat.completions.create(model="gpt-4o", messages=HI, stream=True)
    pieces = [c.choices[0].delta.content for c in stream if c.choices]
    assert pieces == ["", "abc", "def", "g", None]


async def test_chat_wire_format(provider: FakeProvider, url: str) -> None:
    provider.script.push(call_tool("f", {"a": "bcdefghijk"}, call_id="call_1"))
    headers = {"Authorization": f"Bearer {provider.credentials.openai_key}"}
    body = {"model": "gpt-4o", "messages": HI, "stream": True}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/v1/chat/completions", json=body, headers=headers) as response,
    ):
        text = await response.text()
    frames = text.split("\n\n")
    assert frames[-2:] == ["data: [DONE]", ""]
    deltas = [json.loads(f[len("data: ") :])["choices"][0]["delta"] for f in frames[:-2]]
    assert deltas == [
        {"role": "assistant", "content": None, "refusal": None},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"a": "b'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": "cdefghij"}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 'k"}'}}]},
        {},
    ]


RESPONSES = [
    ("text", say("Hello there"), [("message", "Hello there")]),
    (
        "function call",
        call_tool("get_weather", {"city": "Rome"}),
        [("function_call", ("get_weather", {"city": "Rome"}))],
    ),
    (
        "reasoning then text",
        think("Short answer is best.", "Hi"),
        [("reasoning", "Short answer is best."), ("message", "Hi")],
    ),
]
RESPONSE_IDS = [r[0] for r in RESPONSES]


def items_of(response: Any) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for item in response.output:
        if item.type == "message":
            out.append(("message", item.content[0].text))
        elif item.type == "function_call":
            out.append(("function_call", (item.name, json.loads(item.arguments))))
        elif item.type == "reasoning":
            out.append(("reasoning", item.summary[0].text))
    return out


@pytest.mark.parametrize(("reply", "items"), [r[1:] for r in RESPONSES], ids=RESPONSE_IDS)
def test_responses_sync(
    provider: FakeProvider, sdk: openai.OpenAI, reply: Reply, items: list[Any]
) -> None:
    provider.script.push(reply)
    response = sdk.responses.create(model="gpt-5", input="hi", tools=RESPONSE_TOOLS)
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert items_of(response) == items


def test_what_it_answered_is_kept_for_retrieval(provider: FakeProvider, sdk: openai.OpenAI) -> None:
    provider.script.push(say("kept"), say("not kept"), say("chat kept"), say("chat not kept"))
    kept = sdk.responses.create(model="gpt-5", input="hi")
    fleeting = sdk.responses.create(model="gpt-5", input="hi", store=False)
    assert sdk.responses.retrieve(kept.id).output_text == "kept"
    events = [e.type for e in sdk.responses.retrieve(kept.id, stream=True)]
    assert events[0] == "response.created" and events[-1] == "response.completed"
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(fleeting.id)
    chat = sdk.chat.completions.create(model="gpt-4o", messages=HI, store=True)
    sdk.chat.completions.create(model="gpt-4o", messages=HI)  # store defaults to false
    assert sdk.chat.completions.retrieve(chat.id).choices[0].message.content == "chat kept"
    assert [c.id for c in sdk.chat.completions.list().data] == [chat.id]
    assert sdk.chat.completions.update(chat.id, metadata={"a": "b"}).metadata == {"a": "b"}
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.retrieve(kept.id)


def test_a_conversation_keeps_its_items(provider: FakeProvider, sdk: openai.OpenAI) -> None:
    first = [{"type": "message", "role": "user", "content": "one"}]
    conversation = sdk.conversations.create(items=first)  # type: ignore[arg-type]
    provider.script.push(say("two"))
    sdk.responses.create(model="gpt-5", input="and?", conversation=conversation.id)
    items = sdk.conversations.items.list(conversation.id, order="asc").data
    assert [(i.type, i.role) for i in items] == [  # type: ignore[union-attr]
        ("message", "user"),
        ("message", "user"),
        ("message", "assistant"),
    ]
    newest = sdk.conversations.items.list(conversation.id).data[0]
    assert sdk.conversations.items.retrieve(newest.id, conversation_id=conversation.id) == newest
    with pytest.raises(openai.NotFoundError):
        sdk.conversations.items.list("conv_missing")


@pytest.mark.parametrize(("reply", "items"), [r[1:] for r in RESPONSES], ids=RESPONSE_IDS)
async def test_responses_async_streaming(
    provider: FakeProvider, async_sdk: openai.AsyncOpenAI, reply: Reply, items: list[Any]
) -> None:
    provider.script.push(reply)
    events = []
    async with async_sdk.responses.stream(
        model="gpt-5", input=[{"role": "user", "content": "hi"}], tools=RESPONSE_TOOLS
    ) as stream:
        async for event in stream:
            events.append(event)
        response = await stream.get_final_response()
    assert items_of(response) == items
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created"
    assert events[1].type == "response.in_progress"
    assert events[-1].type == "response.completed"


def test_responses_event_sequence(provider: FakeProvider, sdk: openai.OpenAI) -> None:
    provider.script.push(call_tool("get_weather", {"city": "Rome"}, text="Let me see"))
    stream = sdk.responses.create(model="gpt-5", input="hi", stream=True)
    kinds = [e.type for e in stream]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]


def test_responses_failure_mid_stream(provider: FakeProvider, sdk: openai.OpenAI) -> None:
    failure = Failure(500, "The server had an error", after_deltas=1)
    provider.script.push(Reply(blocks=(Text("never finished"),), failure=failure))
    events = list(sdk.responses.create(model="gpt-5", input="hi", stream=True))
    assert [e.type for e in events][-2:] == ["response.output_text.delta", "response.failed"]
    assert events[-1].response.error.message == "The server had an error"


def test_chat_failure_mid_stream(provider: FakeProvider, sdk: openai.OpenAI) -> None:
    failure = Failure(500, "The server had an error", after_deltas=1)
    provider.script.push(Reply(blocks=(Text("never finished"),), failure=failure))
    received = []
    with pytest.raises(openai.APIError, match="The server had an error"):
        for chunk in sdk.chat.completions.create(model="gpt-4o", messages=HI, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received == ["", "nev"]


def test_embeddings_are_deterministic_in_both_encodings(sdk: openai.OpenAI) -> None:
    def embed(inputs: list[str], encoding: Any) -> list[Any]:
        result = sdk.embeddings.create(
            model="text-embedding-3-small", input=inputs, encoding_format=encoding
        )
        return [d.embedding for d in result.data]

    first, second = embed(["alpha", "beta"], "float")
    assert len(first) == 1536
    assert first != second
    [packed] = embed(["alpha"], "base64")
    assert list(struct.unpack("<1536f", base64.b64decode(packed))) == pytest.approx(first)


def test_embeddings_sdk_default_is_base64_and_decodes(
    provider: FakeProvider, sdk: openai.OpenAI
) -> None:
    result = sdk.embeddings.create(model="text-embedding-3-large", input="x", dimensions=8)
    assert len(result.data[0].embedding) == 8
    assert provider.recorder.to("/v1/embeddings")[0].json["encoding_format"] == "base64"


def test_models(sdk: openai.OpenAI) -> None:
    assert "gpt-4o" in [m.id for m in sdk.models.list()]
    assert sdk.models.retrieve("gpt-5").owned_by == "system"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("gpt-nope")


ERRORS = [
    ("bad request", fail(400, "Invalid value"), openai.BadRequestError, "invalid_request_error"),
    ("rate limit", fail(429, "Rate limit reached"), openai.RateLimitError, "requests"),
    (
        "server error",
        fail(500, "The server had an error"),
        openai.InternalServerError,
        "server_error",
    ),
    ("unavailable", fail(503, "Overloaded"), openai.InternalServerError, "server_error"),
]


@pytest.mark.parametrize(
    ("reply", "exception", "kind"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
@pytest.mark.parametrize("api", ["chat", "responses"])
def test_scripted_errors_raise_the_sdk_exception(
    provider: FakeProvider,
    sdk: openai.OpenAI,
    api: str,
    reply: Reply,
    exception: type[openai.APIStatusError],
    kind: str,
) -> None:
    provider.script.push(reply)
    with pytest.raises(exception) as raised:
        if api == "chat":
            sdk.chat.completions.create(model="gpt-4o", messages=HI)
        else:
            sdk.responses.create(model="gpt-5", input="hi")
    assert raised.value.type == kind
    assert raised.value.request_id is not None


def test_wrong_key_is_rejected_without_echoing_it(provider: FakeProvider, url: str) -> None:
    wrong = "sk-proj-this-key-is-wrong-1234"
    with (
        openai.OpenAI(base_url=url + "/v1", api_key=wrong, max_retries=0) as client,
        pytest.raises(openai.AuthenticationError) as raised,
    ):
        client.chat.completions.create(model="gpt-4o", messages=HI)
    assert raised.value.code == "invalid_api_key"
    assert wrong not in str(raised.value)
    assert "1234" in str(raised.value)


def test_missing_parameter(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.post("/chat/completions", body={"model": "gpt-4o"}, cast_to=object)
    assert (raised.value.param, raised.value.code) == ("messages", "missing_required_parameter")


def test_requests_are_recorded_as_received(provider: FakeProvider, sdk: openai.OpenAI) -> None:
    sdk.chat.completions.create(model="gpt-4o", messages=HI, extra_body={"unknown_field": [1]})
    [seen] = provider.recorder.to("/v1/chat/completions")
    assert seen.header("Authorization") == f"Bearer {provider.credentials.openai_key}"
    assert seen.json == {"model": "gpt-4o", "messages": HI, "unknown_field": [1]}
    assert seen.status == 200
