"""The fake speaks Azure OpenAI (key or Entra token) and issues Entra client-credential tokens."""

import json
from typing import Any

import aiohttp
import openai
import pytest

from tests.fakes.provider import FakeProvider
from tests.fakes.script import call_tool, say

API_VERSION = "2024-10-21"
HI = [{"role": "user", "content": "hi"}]
SCOPE = "https://cognitiveservices.azure.com/.default"


def azure(url: str, **auth: Any) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(azure_endpoint=url, api_version=API_VERSION, max_retries=0, **auth)


async def entra_token(url: str, provider: FakeProvider, **overrides: str) -> tuple[int, Any]:
    creds = provider.credentials
    tenant = overrides.pop("tenant", creds.azure_tenant)
    form = {
        "grant_type": "client_credentials",
        "client_id": creds.azure_client_id,
        "client_secret": creds.azure_client_secret,
        "scope": SCOPE,
        **overrides,
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/{tenant}/oauth2/v2.0/token", data=form) as response,
    ):
        return response.status, await response.json()


def test_chat_with_the_resource_key(provider: FakeProvider, url: str) -> None:
    provider.script.push(say("Hello from Azure"))
    with azure(url, api_key=provider.credentials.azure_key) as client:
        raw = client.chat.completions.with_raw_response.create(model="gpt4o-prod", messages=HI)
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hello from Azure"
    body = json.loads(raw.text)
    assert body["prompt_filter_results"][0]["content_filter_results"]["hate"]["filtered"] is False
    assert "content_filter_results" in body["choices"][0]
    [seen] = provider.recorder.requests
    assert seen.path == "/openai/deployments/gpt4o-prod/chat/completions"
    assert seen.query == {"api-version": API_VERSION}
    assert seen.header("api-key") == provider.credentials.azure_key


def test_streamed_tool_call_starts_with_the_prompt_filter_chunk(
    provider: FakeProvider, url: str
) -> None:
    provider.script.push(call_tool("lookup", {"id": 7}))
    with azure(url, api_key=provider.credentials.azure_key) as client:
        chunks = list(client.chat.completions.create(model="dep", messages=HI, stream=True))
    assert chunks[0].choices == []
    arguments = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments or ""
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
    )
    assert json.loads(arguments) == {"id": 7}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_embeddings_on_a_deployment(provider: FakeProvider, url: str) -> None:
    with azure(url, api_key=provider.credentials.azure_key) as client:
        result = client.embeddings.create(model="embed-dep", input=["a", "b"])
    assert [len(d.embedding) for d in result.data] == [1536, 1536]


async def test_service_principal_token_opens_the_data_plane(
    provider: FakeProvider, url: str
) -> None:
    status, body = await entra_token(url, provider)
    assert status == 200
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3599)
    access = body["access_token"]
    assert access.count(".") == 2
    provider.script.push(say("token accepted"))
    with azure(url, azure_ad_token=access) as client:
        completion = client.chat.completions.create(model="dep", messages=HI)
    assert completion.choices[0].message.content == "token accepted"
    assert provider.recorder.requests[-1].header("Authorization") == f"Bearer {access}"

    provider.entra.expire_all()
    with azure(url, azure_ad_token=access) as client, pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="dep", messages=HI)


TOKEN_ERRORS = [
    ("wrong secret", {"client_secret": "nope"}, 401, "invalid_client", 7000215),
    ("unknown client", {"client_id": "who"}, 400, "unauthorized_client", 700016),
    ("wrong grant", {"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
    ("bad scope", {"scope": "https://cognitiveservices.azure.com"}, 400, "invalid_scope", 1002012),
    ("unknown tenant", {"tenant": "other"}, 400, "invalid_request", 90002),
]


@pytest.mark.parametrize(
    ("overrides", "status", "error", "code"),
    [t[1:] for t in TOKEN_ERRORS],
    ids=[t[0] for t in TOKEN_ERRORS],
)
async def test_token_endpoint_errors(
    provider: FakeProvider,
    url: str,
    overrides: dict[str, str],
    status: int,
    error: str,
    code: int,
) -> None:
    got_status, body = await entra_token(url, provider, **overrides)
    assert (got_status, body["error"], body["error_codes"]) == (status, error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert provider.entra.issued == []


def test_wrong_key_and_forged_token_are_rejected(provider: FakeProvider, url: str) -> None:
    for auth in ({"api_key": "wrong"}, {"azure_ad_token": "eyJforged.token.sig"}):
        with azure(url, **auth) as client, pytest.raises(openai.AuthenticationError) as raised:
            client.chat.completions.create(model="dep", messages=HI)
        assert raised.value.body["code"] == "401"  # type: ignore[index]


async def test_deployment_routes_need_an_api_version(provider: FakeProvider, url: str) -> None:
    headers = {"api-key": provider.credentials.azure_key}
    body = {"messages": HI}
    async with aiohttp.ClientSession() as session:
        path = "/openai/deployments/dep/chat/completions"
        async with session.post(url + path, json=body, headers=headers) as response:
            assert response.status == 404
            assert await response.json() == {
                "error": {"code": "404", "message": "Resource not found"}
            }


def test_v1_responses_with_the_plain_openai_client(provider: FakeProvider, url: str) -> None:
    provider.script.push(say("v1 works"))
    with openai.OpenAI(
        base_url=url + "/openai/v1", api_key=provider.credentials.azure_key, max_retries=0
    ) as client:
        response = client.responses.create(model="gpt-5-deployment", input="hi")
    assert response.output_text == "v1 works"
    assert provider.recorder.requests[-1].path == "/openai/v1/responses"
