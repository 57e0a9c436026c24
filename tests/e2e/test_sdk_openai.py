"""The official openai SDK (OpenAI and Azure OpenAI), sync and async, through `warden serve`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest

from tests.e2e.support import Gateway, assert_only_gateway_token_upstream
from tests.fakes.provider import FakeProvider
from tests.fakes.script import Reply, call_tool, fail, say, think

pytestmark = pytest.mark.e2e

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
API_VERSION = "2024-10-21"


@pytest.fixture
def sdk(gateway: Gateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=gateway.base("openai") + "/v1", api_key=gateway.token, max_retries=0
    ) as client:
        yield client


@pytest.fixture
async def async_sdk(gateway: Gateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=gateway.base("openai") + "/v1", api_key=gateway.token, max_retries=0
    ) as client:
        yield client


def said(message: Any) -> tuple[str | None, list[tuple[str, Any]]]:
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]
    return message.content, calls


CHATS = [
    ("text", say("Hello through the gateway."), ("Hello through the gateway.", [])),
    (
        "tool call",
        call_tool("get_weather", {"city": "Lima"}),
        (None, [("get_weather", {"city": "Lima"})]),
    ),
]


@pytest.mark.parametrize(("reply", "expected"), [c[1:] for c in CHATS], ids=[c[0] for c in CHATS])
def test_chat_sync(
    fake_provider: FakeProvider,
    gateway: Gateway,
    sdk: openai.OpenAI,
    reply: Reply,
    expected: Any,
) -> None:
    fake_provider.script.push(reply)
    completion = sdk.chat.completions.create(model="gpt-4o", messages=HI, tools=CHAT_TOOLS)
    assert said(completion.choices[0].message) == expected
    [seen] = fake_provider.recorder.to("/v1/chat/completions")
    assert seen.json == {"model": "gpt-4o", "messages": HI, "tools": CHAT_TOOLS}
    assert_only_gateway_token_upstream(fake_provider, gateway)


@pytest.mark.parametrize(("reply", "expected"), [c[1:] for c in CHATS], ids=[c[0] for c in CHATS])
async def test_chat_async_streaming(
    fake_provider: FakeProvider,
    gateway: Gateway,
    async_sdk: openai.AsyncOpenAI,
    reply: Reply,
    expected: Any,
) -> None:
    fake_provider.script.push(reply)
    async with async_sdk.chat.completions.stream(
        model="gpt-4o", messages=HI, tools=CHAT_TOOLS, stream_options={"include_usage": True}
    ) as stream:
        completion = await stream.get_final_completion()
    assert said(completion.choices[0].message) == expected
    assert completion.usage is not None
    assert_only_gateway_token_upstream(fake_provider, gateway)


RESPONSES = [
    ("text", say("Plain answer."), [("message", "Plain answer.")]),
    (
        "function call",
        call_tool("get_weather", {"city": "Rome"}),
        [("function_call", {"city": "Rome"})],
    ),
    (
        "reasoning",
        think("Think first.", "Then answer."),
        [("reasoning", "Think first."), ("message", "Then answer.")],
    ),
]


RESPONSE_IDS = [r[0] for r in RESPONSES]


def items_of(response: Any) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for item in response.output:
        if item.type == "message":
            out.append(("message", item.content[0].text))
        elif item.type == "function_call":
            out.append(("function_call", json.loads(item.arguments)))
        else:
            out.append((item.type, item.summary[0].text))
    return out


@pytest.mark.parametrize(
    ("reply", "items"), [r[1:] for r in RESPONSES], ids=[r[0] for r in RESPONSES]
)
def test_responses_sync(
    fake_provider: FakeProvider, gateway: Gateway, sdk: openai.OpenAI, reply: Reply, items: Any
) -> None:
    fake_provider.script.push(reply)
    response = sdk.responses.create(model="gpt-5", input="hi", tools=RESPONSE_TOOLS)
    assert items_of(response) == items
    assert_only_gateway_token_upstream(fake_provider, gateway)


@pytest.mark.parametrize(
    ("reply", "items"), [r[1:] for r in RESPONSES], ids=[r[0] for r in RESPONSES]
)
async def test_responses_async_streaming(
    fake_provider: FakeProvider,
    gateway: Gateway,
    async_sdk: openai.AsyncOpenAI,
    reply: Reply,
    items: Any,
) -> None:
    fake_provider.script.push(reply)
    sequence = []
    async with async_sdk.responses.stream(
        model="gpt-5", input="hi", tools=RESPONSE_TOOLS
    ) as stream:
        async for event in stream:
            sequence.append(event.sequence_number)
        response = await stream.get_final_response()
    assert items_of(response) == items
    assert sequence == list(range(len(sequence)))
    assert_only_gateway_token_upstream(fake_provider, gateway)


def test_embeddings_and_models(
    fake_provider: FakeProvider, gateway: Gateway, sdk: openai.OpenAI
) -> None:
    result = sdk.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert [len(d.embedding) for d in result.data] == [1536, 1536]
    assert "gpt-4o" in [m.id for m in sdk.models.list()]
    assert_only_gateway_token_upstream(fake_provider, gateway)


ERRORS = [
    ("rate limited", fail(429, "Rate limit reached"), openai.RateLimitError, "requests"),
    ("bad request", fail(400, "Invalid 'tools'"), openai.BadRequestError, "invalid_request_error"),
    ("server error", fail(500, "Server error"), openai.InternalServerError, "server_error"),
]
ERROR_IDS = [e[0] for e in ERRORS]


@pytest.mark.parametrize(("reply", "exception", "kind"), [e[1:] for e in ERRORS], ids=ERROR_IDS)
def test_provider_errors_reach_the_client_in_its_own_format(
    fake_provider: FakeProvider,
    gateway: Gateway,
    sdk: openai.OpenAI,
    reply: Reply,
    exception: type[openai.APIStatusError],
    kind: str,
) -> None:
    fake_provider.script.push(reply)
    with pytest.raises(exception) as raised:
        sdk.chat.completions.create(model="gpt-4o", messages=HI)
    assert raised.value.type == kind
    assert fake_provider.credentials.openai_key not in str(raised.value)


def test_wrong_gateway_token_never_reaches_the_provider(
    fake_provider: FakeProvider, gateway: Gateway
) -> None:
    with (
        openai.OpenAI(
            base_url=gateway.base("openai") + "/v1", api_key="wdn-not-a-token", max_retries=0
        ) as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.chat.completions.create(model="gpt-4o", messages=HI)
    assert fake_provider.recorder.requests == []


@pytest.mark.parametrize("connection", ["azure", "azure-key"])
def test_azure_openai_with_service_principal_or_key(
    fake_provider: FakeProvider, gateway: Gateway, connection: str
) -> None:
    """`azure` holds an Entra service principal, `azure-key` a resource key; the agent neither."""
    fake_provider.script.push(say("from azure"), call_tool("lookup", {"id": 7}))
    with openai.AzureOpenAI(
        azure_endpoint=gateway.base(connection),
        api_key=gateway.token,
        api_version=API_VERSION,
        max_retries=0,
    ) as client:
        first = client.chat.completions.create(model="gpt4o-prod", messages=HI)
        streamed = list(
            client.chat.completions.create(model="gpt4o-prod", messages=HI, stream=True)
        )
    assert first.choices[0].message.content == "from azure"
    arguments = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments or ""  # type: ignore[index, union-attr]
        for c in streamed
        if c.choices and c.choices[0].delta.tool_calls
    )
    assert json.loads(arguments) == {"id": 7}
    calls = fake_provider.recorder.to("/openai/deployments/gpt4o-prod/chat/completions")
    assert [c.query["api-version"] for c in calls] == [API_VERSION, API_VERSION]
    if connection == "azure":
        assert fake_provider.entra.issued, "the gateway did not fetch an Entra token"
        assert {c.header("authorization") for c in calls} <= {
            f"Bearer {t}" for t in fake_provider.entra.issued
        }
    else:
        assert {c.header("api-key") for c in calls} == {fake_provider.credentials.azure_key}
    assert_only_gateway_token_upstream(fake_provider, gateway)


GITHUB_PAT = "ghp_R8zX2kQ9mW4nV7bT1yL5pH3sJ6dF0gC8aE2u"
REDACTED = "[REDACTED:github-pat-classic]"


def test_a_stored_response_is_masked_when_retrieved(
    fake_provider: FakeProvider, gateway: Gateway, sdk: openai.OpenAI
) -> None:
    """The provider keeps what it answered: fetching it again (whole, or its
    events streamed again) must not be a way around masking."""
    fake_provider.script.push(say(f"Push with {GITHUB_PAT} now."))
    created = sdk.responses.create(model="gpt-5", input="token?")
    assert created.output_text == f"Push with {REDACTED} now."
    again = sdk.responses.retrieve(created.id)
    assert again.output_text == created.output_text
    streamed = "".join(
        e.delta
        for e in sdk.responses.retrieve(created.id, stream=True)
        if e.type == "response.output_text.delta"
    )
    assert streamed == created.output_text
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve("resp_missing")
    assert not any(GITHUB_PAT in str(r) for r in (again.model_dump(), streamed))


def test_stored_chat_completions_are_masked_when_retrieved(
    fake_provider: FakeProvider, gateway: Gateway, sdk: openai.OpenAI
) -> None:
    fake_provider.script.push(say(f"Push with {GITHUB_PAT} now."))
    created = sdk.chat.completions.create(model="gpt-4o", messages=HI, store=True)
    expected = f"Push with {REDACTED} now."
    assert created.choices[0].message.content == expected
    assert sdk.chat.completions.retrieve(created.id).choices[0].message.content == expected
    listed = sdk.chat.completions.list()
    assert [c.choices[0].message.content for c in listed.data] == [expected]
    updated = sdk.chat.completions.update(created.id, metadata={"ticket": "7"})
    assert updated.choices[0].message.content == expected
    assert updated.metadata == {"ticket": "7"}


def test_a_history_sent_to_be_compacted_is_inspected(
    fake_provider: FakeProvider, gateway: Gateway, sdk: openai.OpenAI
) -> None:
    """Codex sends the whole conversation to ``/responses/compact`` when it
    grows long: what the agent read (a tool's output) is tokenized there as in
    every turn, and what comes back is inspected like output."""
    history: list[Any] = [
        {"role": "user", "content": f"push with {GITHUB_PAT}"},
        {"type": "function_call", "call_id": "call_1", "name": "cat", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": f"token={GITHUB_PAT}"},
    ]
    compacted = sdk.responses.compact(model="gpt-5", input=history)
    counted = sdk.responses.input_tokens.count(model="gpt-5", input=history)
    assert counted.input_tokens > 0
    assert not fake_provider.recorder.anywhere(GITHUB_PAT)
    sent = [r.json for r in fake_provider.recorder.requests if r.path.startswith("/v1/responses/")]
    assert [len(r["input"]) for r in sent] == [3, 3]
    assert all("[TOKEN:github-pat-classic:" in json.dumps(r) for r in sent)
    kinds = [item.type for item in compacted.output]
    assert kinds == ["message", "compaction"]
    # (the SDK types the user messages it returns as output messages: no warnings)
    assert GITHUB_PAT not in compacted.model_dump_json(warnings=False)


def test_conversation_items_are_inspected_both_ways(
    fake_provider: FakeProvider, gateway: Gateway, sdk: openai.OpenAI
) -> None:
    """The provider keeps a conversation's items: what the agent adds is
    tokenized before it, and reading the items back (the model's answers
    among them, as the provider stored them) is masked like an answer."""
    said = [{"type": "message", "role": "user", "content": f"my token is {GITHUB_PAT}"}]
    conversation = sdk.conversations.create(items=said)  # type: ignore[arg-type]
    fake_provider.script.push(say(f"Push with {GITHUB_PAT} now."))
    answer = sdk.responses.create(model="gpt-5", input="and?", conversation=conversation.id)
    assert answer.output_text == f"Push with {REDACTED} now."
    added = sdk.conversations.items.create(conversation.id, items=said)  # type: ignore[arg-type]
    assert len(added.data) == 1
    items = sdk.conversations.items.list(conversation.id, order="asc").data
    texts = [
        (item.role, part.text)  # type: ignore[union-attr]
        for item in items
        if item.type == "message"
        for part in item.content  # type: ignore[union-attr]
    ]
    assert [role for role, _ in texts] == ["user", "user", "assistant", "user"]
    assert texts[2][1] == f"Push with {REDACTED} now."
    assert texts[1] == ("user", "and?")
    assert all(
        text.startswith("my token is [TOKEN:github-pat-classic:")
        for text in (texts[0][1], texts[3][1])
    )
    one = sdk.conversations.items.retrieve(items[2].id, conversation_id=conversation.id)
    assert one.content[0].text == f"Push with {REDACTED} now."  # type: ignore[union-attr]
    assert not fake_provider.recorder.anywhere(GITHUB_PAT)


def test_no_session_around_the_gateway_is_handed_out(
    fake_provider: FakeProvider, gateway: Gateway, sdk: openai.OpenAI
) -> None:
    """A Realtime client secret (or a WebRTC call) minted with the gateway's
    key would let the agent talk to the provider directly: refused, and the
    provider never asked."""
    with pytest.raises(openai.PermissionDeniedError, match="bypass"):
        sdk.realtime.client_secrets.create()
    with pytest.raises(openai.PermissionDeniedError, match="bypass"):
        sdk.realtime.calls.create(sdp="v=0\r\n")
    assert not fake_provider.recorder.requests


PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBXnT1xL0s2ZpW7QJd7pV9w8QeLrG0m4Z3cYH2bXw8cJAAAAJi4m6Vx\n"
    "-----END OPENSSH PRIVATE KEY-----"
)


def test_uploaded_text_files_are_tokenized(
    fake_provider: FakeProvider, gateway: Gateway, sdk: openai.OpenAI
) -> None:
    """A file an agent uploads reaches the provider like a prompt: a text file
    is tokenized; a batch input is inspected request by request (so a key
    JSON-escaped inside a line is found as itself); a binary file passes."""
    notes = sdk.files.create(
        file=("notes.txt", f"TOKEN={GITHUB_PAT}\n".encode()), purpose="user_data"
    )
    kept = fake_provider.stored[notes.id]["content"].decode()
    assert kept.startswith("TOKEN=[TOKEN:github-pat-classic:") and GITHUB_PAT not in kept
    line = {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": PRIVATE_KEY}]},
    }
    batch = sdk.files.create(file=("in.jsonl", (json.dumps(line) + "\n").encode()), purpose="batch")
    [sent] = [json.loads(x) for x in fake_provider.stored[batch.id]["content"].splitlines()]
    assert sent["custom_id"] == "a" and sent["url"] == "/v1/chat/completions"
    assert sent["body"]["messages"][0]["content"].startswith("[TOKEN:")
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in json.dumps(sent)
    image = b"\x89PNG\r\n\x1a\n\xff\x00" + GITHUB_PAT.encode()
    picture = sdk.files.create(file=("x.png", image), purpose="vision")
    assert fake_provider.stored[picture.id]["content"] == image
    assert sdk.files.content(notes.id).read().decode() == kept


def test_a_batch_is_masked_both_ways(
    fake_provider: FakeProvider, gateway: Gateway, sdk: openai.OpenAI
) -> None:
    """The Batch API: the input file is tokenized request by request on
    upload, and the output file (the answers) is masked line by line when it
    is downloaded; any other download passes as it was."""
    fake_provider.script.push(say(f"Push with {GITHUB_PAT} now."), say("fine"))
    lines = [
        {
            "custom_id": name,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": asked}]},
        }
        for name, asked in (("a", f"my token is {GITHUB_PAT}"), ("b", "hi"))
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines).encode()
    uploaded = sdk.files.create(file=("in.jsonl", text), purpose="batch")
    batch = sdk.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    done = sdk.batches.retrieve(batch.id)
    assert done.status == "completed" and done.output_file_id
    output = [json.loads(x) for x in sdk.files.content(done.output_file_id).text.splitlines()]
    said = {
        o["custom_id"]: o["response"]["body"]["choices"][0]["message"]["content"] for o in output
    }
    assert said == {"a": f"Push with {REDACTED} now.", "b": "fine"}
    assert not fake_provider.recorder.anywhere(GITHUB_PAT)
    notes = sdk.files.create(file=("notes.txt", b"plain\nfile\n"), purpose="user_data")
    assert sdk.files.content(notes.id).read() == b"plain\nfile\n"
