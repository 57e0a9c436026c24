"""The data path through the gateway, driven by the official SDKs."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from contextlib import AbstractContextManager
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from aiohttp import web

from tests.fakes.provider import Credentials, FakeProvider
from tests.fakes.script import call_tool, fail, say, think
from tests.helpers.gateway import GATEWAY_TOKEN, gateway_config, run_gateway
from tests.helpers.inspectors import TestInspector
from tests.helpers.upstream import QuietHandler, closing_after, serving
from warden.config.loader import parse_config

MSG = [{"role": "user", "content": "hi"}]


def claude(gateway: str, key: str = GATEWAY_TOKEN) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway + "/claude", api_key=key, max_retries=0)


def oai(gateway: str, key: str = GATEWAY_TOKEN) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway + "/openai/v1", api_key=key, max_retries=0)


def assert_brokered(provider: FakeProvider) -> None:
    creds = Credentials()
    assert provider.recorder.requests, "the upstream saw no request"
    for request in provider.recorder.requests:
        assert not request.contains(GATEWAY_TOKEN), "the gateway token reached the upstream"
        real = request.header("x-api-key") or request.header("authorization") or ""
        real = real or (request.header("api-key") or "")
        assert real.removeprefix("Bearer ") in (
            creds.anthropic_key,
            creds.openai_key,
            creds.azure_key,
        )


def test_anthropic_non_streamed_and_streamed(gateway: str, provider: FakeProvider) -> None:
    provider.script.push(say("hello there"), say("streamed hello"))
    message = claude(gateway).messages.create(model="claude-x", max_tokens=50, messages=MSG)
    assert message.content[0].type == "text" and message.content[0].text == "hello there"
    with claude(gateway).messages.stream(model="claude-x", max_tokens=50, messages=MSG) as stream:
        assert "".join(stream.text_stream) == "streamed hello"
        assert stream.get_final_message().stop_reason == "end_turn"
    assert_brokered(provider)


async def test_anthropic_async_tool_use_and_thinking(gateway: str, provider: FakeProvider) -> None:
    provider.script.push(call_tool("Bash", {"command": "ls -la"}), think("let me see", "done"))
    client = anthropic.AsyncAnthropic(
        base_url=gateway + "/claude", api_key=GATEWAY_TOKEN, max_retries=0
    )
    async with client.messages.stream(model="claude-x", max_tokens=50, messages=MSG) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "tool_use"
    tool = final.content[0]
    assert tool.type == "tool_use" and tool.input == {"command": "ls -la"}
    message = await client.messages.create(model="claude-x", max_tokens=50, messages=MSG)
    assert [b.type for b in message.content] == ["thinking", "text"]
    await client.close()
    assert_brokered(provider)


def test_headers_pass_through(gateway: str, provider: FakeProvider) -> None:
    provider.script.push(say("x"))
    claude(gateway).messages.create(
        model="claude-x",
        max_tokens=5,
        messages=MSG,
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14", "x-custom": "1"},
    )
    (request,) = provider.recorder.to("/v1/messages")
    assert request.header("anthropic-beta") == "interleaved-thinking-2025-05-14"
    assert request.header("x-custom") == "1"


def test_other_paths_pass_through(gateway: str, provider: FakeProvider) -> None:
    models = claude(gateway).models.list()
    assert models.data
    count = claude(gateway).messages.count_tokens(model="claude-x", messages=MSG)
    assert count.input_tokens > 0
    assert oai(gateway).models.list().data
    assert_brokered(provider)


def test_openai_chat_responses_embeddings(gateway: str, provider: FakeProvider) -> None:
    client = oai(gateway)
    provider.script.push(
        say("chat plain"), say("chat streamed"), say("resp plain"), say("resp stream")
    )
    chat = client.chat.completions.create(model="gpt-x", messages=MSG)
    assert chat.choices[0].message.content == "chat plain"
    chunks = client.chat.completions.create(model="gpt-x", messages=MSG, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "chat streamed"
    assert client.responses.create(model="gpt-x", input="hi").output_text == "resp plain"
    with client.responses.stream(model="gpt-x", input="hi") as stream:
        assert stream.get_final_response().output_text == "resp stream"
    emb = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(emb.data) == 2
    assert_brokered(provider)


async def test_openai_async_tool_call_stream(gateway: str, provider: FakeProvider) -> None:
    provider.script.push(call_tool("shell", {"command": ["bash", "-lc", "ls"]}))
    client = openai.AsyncOpenAI(
        base_url=gateway + "/openai/v1", api_key=GATEWAY_TOKEN, max_retries=0
    )
    stream = await client.chat.completions.create(model="gpt-x", messages=MSG, stream=True)
    args = ""
    finish = None
    async for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                args += call.function.arguments or "" if call.function else ""
            finish = choice.finish_reason or finish
    assert json.loads(args) == {"command": ["bash", "-lc", "ls"]}
    assert finish == "tool_calls"
    await client.close()


def test_azure_deployment_with_api_version(gateway: str, provider: FakeProvider) -> None:
    provider.script.push(say("from azure"))
    client = openai.AzureOpenAI(
        azure_endpoint=gateway + "/azure",
        api_key=GATEWAY_TOKEN,
        api_version="2024-10-21",
        max_retries=0,
    )
    reply = client.chat.completions.create(model="gpt-4o", messages=MSG)
    assert reply.choices[0].message.content == "from azure"
    (request,) = [r for r in provider.recorder.requests if "deployments" in r.path]
    assert request.header("api-key") == Credentials().azure_key
    assert request.query["api-version"] == "2024-10-21"


def test_missing_or_bad_credential_is_401_with_a_hint(gateway: str) -> None:
    with pytest.raises(anthropic.AuthenticationError) as caught:
        claude(gateway, key="not-a-gateway-token").messages.create(
            model="claude-x", max_tokens=1, messages=MSG
        )
    assert "warden token" in str(caught.value).lower()
    with pytest.raises(openai.AuthenticationError):
        oai(gateway, key="sk-proj-some-real-looking-key").models.list()


def test_unknown_connection_is_404(gateway: str) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        anthropic.Anthropic(
            base_url=gateway + "/nope", api_key=GATEWAY_TOKEN, max_retries=0
        ).messages.create(model="claude-x", max_tokens=1, messages=MSG)
    assert "claude" in str(caught.value)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_malformed_json_is_400_in_each_format(gateway: str) -> None:
    headers = {"x-api-key": GATEWAY_TOKEN, "content-type": "application/json"}
    status, body = post(gateway + "/claude/v1/messages", b"{not json", headers)
    assert status == 400
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    status, body = post(
        gateway + "/openai/v1/chat/completions",
        b"[",
        {"authorization": f"Bearer {GATEWAY_TOKEN}"},
    )
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


def test_oversize_body_is_413(upstream: str, env: dict[str, str]) -> None:
    text = gateway_config(upstream) + "limits:\n  max_body_bytes: 1000\n"
    with run_gateway(text, env=env) as (url, _):
        with pytest.raises(anthropic.APIStatusError) as caught:
            claude(url).messages.create(
                model="claude-x", max_tokens=1, messages=[{"role": "user", "content": "x" * 5000}]
            )
    assert caught.value.status_code == 413


def test_upstream_errors_pass_through(gateway: str, provider: FakeProvider) -> None:
    provider.script.push(fail(429, "slow down", kind="rate_limit_error"))
    with pytest.raises(anthropic.RateLimitError):
        claude(gateway).messages.create(model="claude-x", max_tokens=1, messages=MSG)
    provider.script.push(fail(400, "bad field", kind="invalid_request_error"))
    with pytest.raises(openai.BadRequestError):
        oai(gateway).chat.completions.create(model="gpt-x", messages=MSG)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_upstream_is_502(env: dict[str, str]) -> None:
    with run_gateway(gateway_config(f"http://127.0.0.1:{_free_port()}"), env=env) as (url, _):
        with pytest.raises(anthropic.InternalServerError) as caught:
            claude(url).messages.create(model="claude-x", max_tokens=1, messages=MSG)
    assert caught.value.status_code == 502
    assert "unreachable" in str(caught.value)


def test_silent_upstream_is_504(env: dict[str, str]) -> None:
    """An upstream that accepts the connection and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    try:
        config = gateway_config(f"http://127.0.0.1:{port}").replace(
            "credential: {env: TEST_ANTHROPIC_KEY}",
            "credential: {env: TEST_ANTHROPIC_KEY}\n    timeouts: {read: 0.5}",
        )
        with run_gateway(config, env=env) as (url, _):
            with pytest.raises(anthropic.APIStatusError) as caught:
                claude(url).messages.create(model="claude-x", max_tokens=1, messages=MSG)
        assert caught.value.status_code == 504
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)
        for conn in accepted:
            conn.close()


def test_upstream_credential_never_echoed(gateway: str, provider: FakeProvider) -> None:
    key = Credentials().anthropic_key
    provider.script.push(fail(401, f"invalid x-api-key {key}", kind="authentication_error"))
    with pytest.raises(anthropic.AuthenticationError) as caught:
        claude(gateway).messages.create(model="claude-x", max_tokens=1, messages=MSG)
    assert key not in str(caught.value.body)
    provider.script.push(say(f"the key is {key}"))
    reply = claude(gateway).messages.create(model="claude-x", max_tokens=20, messages=MSG)
    assert key not in reply.model_dump_json()


def _with(
    upstream: str, env: dict[str, str], inspector: TestInspector
) -> AbstractContextManager[tuple[str, web.Application]]:
    config = parse_config(gateway_config(upstream), env=env)
    return run_gateway(config, factories=[lambda name, policy, cfg: [inspector]])


def test_inspector_rewrites_stream_and_request(
    upstream: str, env: dict[str, str], provider: FakeProvider
) -> None:
    inspector = TestInspector(request_upper=True)
    provider.script.push(say("quiet words"))
    with _with(upstream, env, inspector) as (url, _):
        with claude(url).messages.stream(model="claude-x", max_tokens=9, messages=MSG) as stream:
            assert "".join(stream.text_stream) == "QUIET WORDS"
    (request,) = provider.recorder.to("/v1/messages")
    assert request.json["messages"][0]["content"] == "HI"


def test_inspector_failure_fails_closed(
    upstream: str, env: dict[str, str], provider: FakeProvider
) -> None:
    provider.script.push(say("raw words that must not pass"))
    with _with(upstream, env, TestInspector(raise_on_text=True)) as (url, _):
        with pytest.raises(anthropic.APIError) as caught:
            with claude(url).messages.stream(
                model="claude-x", max_tokens=9, messages=MSG
            ) as stream:
                got = "".join(stream.text_stream)
                assert "raw words" not in got
        assert "inspector failed" in str(caught.value)


def test_request_block_names_the_rule(
    upstream: str, env: dict[str, str], provider: FakeProvider
) -> None:
    with _with(upstream, env, TestInspector(request_block=True)) as (url, _):
        with pytest.raises(openai.BadRequestError) as caught:
            oai(url).chat.completions.create(model="gpt-x", messages=MSG)
    assert "test-block" in str(caught.value)
    assert not provider.recorder.requests


def test_denied_tool_call_in_every_dialect(
    upstream: str, env: dict[str, str], provider: FakeProvider
) -> None:
    from warden.pipeline.types import Flow

    inspector = TestInspector(tool_flow=Flow.DENY)
    provider.script.push(
        call_tool("Bash", {"command": "rm -rf /"}),
        call_tool("shell", {"command": "rm -rf /"}),
        call_tool("shell", {"command": "rm -rf /"}),
    )
    with _with(upstream, env, inspector) as (url, _):
        with claude(url).messages.stream(model="claude-x", max_tokens=9, messages=MSG) as stream:
            final = stream.get_final_message()
        assert final.stop_reason == "end_turn"
        assert final.content[0].type == "text" and "test-tool" in final.content[0].text
        chunks = list(oai(url).chat.completions.create(model="gpt-x", messages=MSG, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert "test-tool" in text
        assert not any(c.choices and c.choices[0].delta.tool_calls for c in chunks)
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
        with oai(url).responses.stream(model="gpt-x", input="hi") as rstream:
            response = rstream.get_final_response()
        assert "test-tool" in response.output_text
        assert all(item.type != "function_call" for item in response.output)


def get(gateway: str, path: str) -> Any:
    request = urllib.request.Request(f"{gateway}{path}", headers={"x-api-key": GATEWAY_TOKEN})
    return urllib.request.urlopen(request, timeout=30)


def test_upstream_cookies_are_neither_kept_nor_replayed(env: dict[str, str]) -> None:
    """The upstream session is shared by every agent: a cookie one response
    sets must not ride along on anyone's next request (nor reach the agent)."""
    seen: list[str | None] = []

    class Upstream(QuietHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Cookie"))
            body = b'{"data": [], "has_more": false}'
            self.answer(
                "application/json", body, {"Set-Cookie": "__cf_bm=abc123; Path=/; HttpOnly"}
            )

    # "localhost", not an IP: aiohttp's default cookie jar ignores IP hosts
    with serving(Upstream, "localhost") as upstream:
        with run_gateway(gateway_config(upstream), env=env) as (url, _):
            for _ in range(2):
                with get(url, "/claude/v1/models") as response:
                    assert response.status == 200
                    assert response.headers.get("Set-Cookie") is None
    assert seen == [None, None]


def test_pass_through_bodies_stream_and_stay_scrubbed(env: dict[str, str]) -> None:
    """A large download is not buffered whole, an SSE stream the gateway does
    not parse gets each event at once, and a credential the upstream echoes
    across two writes is still scrubbed."""
    first, rest = b"a" * 65536, b"b" * 65536
    released = threading.Event()
    waited: list[bool] = []

    class Upstream(QuietHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            if "/events/" in self.path:  # an SSE stream the gateway does not parse
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                parts = [b"data: one\n\n", b"data: two\n\n"]
            elif "/big/" in self.path:
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(first) + len(rest)))
                self.end_headers()
                parts = [first, rest]
            else:  # the credential, echoed in two writes
                key = (self.headers.get("x-api-key") or "").encode()
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(key) + 10))
                self.end_headers()
                self.wfile.write(b"echo: " + key[:10])
                self.wfile.flush()
                time.sleep(0.05)
                self.wfile.write(key[10:] + b" end")
                return
            self.wfile.write(parts[0])
            self.wfile.flush()
            waited.append(released.wait(10))  # until the agent has the first part
            self.wfile.write(parts[1])

    try:
        with serving(Upstream) as upstream:
            with run_gateway(gateway_config(upstream), env=env) as (url, _):
                with get(url, "/claude/v1/files/big/content") as response:
                    head = response.read(4096)  # arrives while the upstream still waits
                    released.set()
                    body = head + response.read()
                released.clear()
                with get(url, "/claude/v1/files/events/content") as response:
                    event = response.read(11)  # the whole first event, before the second
                    released.set()
                    events = event + response.read()
                with get(url, "/claude/v1/files/echo/content") as response:
                    echoed = response.read()
    finally:
        released.set()
    assert body == first + rest
    assert events == b"data: one\n\ndata: two\n\n"
    assert waited == [True, True]
    assert echoed == b"echo: [REDACTED:upstream-credential] end"
    assert env["TEST_ANTHROPIC_KEY"].encode() not in echoed


def test_a_json_body_that_arrives_in_pieces_is_read_whole(env: dict[str, str]) -> None:
    """A non-streamed answer larger than one read (any real one, over TLS)."""
    text = "word " * 40_000
    message = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 40_000},
    }
    body = json.dumps(message).encode()

    class Upstream(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for at in range(0, len(body), 50_000):
                self.wfile.write(body[at : at + 50_000])
                self.wfile.flush()
                time.sleep(0.02)

    with serving(Upstream) as upstream, run_gateway(gateway_config(upstream), env=env) as (url, _):
        reply = claude(url).messages.create(model="claude-x", max_tokens=5, messages=MSG)
    assert reply.content[0].type == "text"
    assert reply.content[0].text == text


def test_paths_and_queries_reach_the_upstream_as_sent(env: dict[str, str]) -> None:
    """Percent-escapes are the agent's: decoded, ``%2F`` would split a segment,
    ``%3F`` start a query and ``%26`` split a parameter."""
    seen: list[str] = []

    class Upstream(QuietHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(204)
            self.end_headers()

    sent = ["/v1/files/a%2Fb/content?name=a%26b&x=1", "/v1/files/c%3Fd", "/v1/models/caf%C3%A9"]
    with serving(Upstream) as upstream, run_gateway(gateway_config(upstream), env=env) as (url, _):
        for path in sent:
            with get(url, "/claude" + path) as response:
                assert response.status == 204
    assert seen == sent


def test_a_compressed_request_goes_on_decoded(gateway: str, provider: FakeProvider) -> None:
    """The gateway reads (and inspects) a gzip body decoded: it must not tell
    the upstream the plain body it forwards is still gzip."""
    provider.script.push(say("hello"))
    body = json.dumps({"model": "claude-x", "max_tokens": 5, "messages": MSG}).encode()
    request = urllib.request.Request(
        gateway + "/claude/v1/messages",
        data=gzip.compress(body),
        method="POST",
        headers={
            "x-api-key": GATEWAY_TOKEN,
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
            "content-encoding": "gzip",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["content"][0]["text"] == "hello"
    (sent,) = provider.recorder.to("/v1/messages")
    assert sent.header("content-encoding") is None
    assert json.loads(sent.body)["messages"] == MSG


_CUT_STREAMS = {
    "anthropic": [
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
        b'"type":"message","role":"assistant","model":"claude-x","content":[],'
        b'"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}\n\n',
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n',
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Hello the"}}\n\n',
    ],
    "chat": [
        b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-x",'
        b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hello the"},'
        b'"finish_reason":null}]}\n\n',
    ],
    "responses": [
        b'event: response.created\ndata: {"type":"response.created","sequence_number":0,'
        b'"response":{"id":"resp_1","object":"response","status":"in_progress","output":[]}}\n\n',
        b'event: response.output_item.added\ndata: {"type":"response.output_item.added",'
        b'"sequence_number":1,"output_index":0,"item":{"id":"msg_1","type":"message",'
        b'"role":"assistant","status":"in_progress","content":[]}}\n\n',
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
        b'"sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,'
        b'"delta":"Hello the"}\n\n',
    ],
}


def _read_cut_stream(url: str, api: str) -> list[str]:
    """Streams one request of ``api`` through the gateway: the text it got,
    then the error that ended it (the SDK must raise or, for the Responses
    API, yield it last)."""
    got: list[str] = []
    if api == "anthropic":
        with pytest.raises(anthropic.APIError) as caught:
            events = claude(url).messages.create(
                model="claude-x", max_tokens=5, messages=MSG, stream=True
            )
            for event in events:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    got.append(event.delta.text)
    elif api == "chat":
        with pytest.raises(openai.APIError) as caught:
            chunks = oai(url).chat.completions.create(model="gpt-x", messages=MSG, stream=True)
            for chunk in chunks:
                got.extend(c.delta.content or "" for c in chunk.choices)
    else:
        # the Responses API's error is an event of its own (the SDK yields it)
        events = list(oai(url).responses.create(model="gpt-x", input="hi", stream=True))
        got.extend(e.delta for e in events if e.type == "response.output_text.delta")
        assert events[-1].type == "error"
        return [*got, events[-1].message]
    got.append(str(caught.value))
    return got


@pytest.mark.parametrize("api", sorted(_CUT_STREAMS))
@pytest.mark.parametrize("cut", ["between events", "inside an event"])
def test_an_upstream_stream_that_stops_short_ends_in_an_error(
    env: dict[str, str], api: str, cut: str
) -> None:
    """An upstream that closes before its stream's last event (``message_stop``,
    ``[DONE]``, ``response.completed``) must not look like a finished answer:
    the agent gets what was said, then an error in its own format, so the
    SDK raises instead of returning a truncated reply."""
    body = b"".join(_CUT_STREAMS[api])
    if cut == "inside an event":
        body += b'data: {"type":"content_blo'
    upstream_handler = closing_after("text/event-stream", body)
    with (
        serving(upstream_handler) as upstream,
        run_gateway(gateway_config(upstream), env=env) as (url, _),
    ):
        *text, error = _read_cut_stream(url, api)
    if cut == "between events":
        assert "".join(text) == "Hello the"
    assert "upstream" in error


def _raw_get(url: str, path: str) -> bytes:
    """One GET over a plain socket: the response's bytes exactly as sent."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {GATEWAY_TOKEN}\r\n\r\n".encode()
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_an_upstream_that_breaks_a_passed_through_body_cuts_the_agents_body(
    env: dict[str, str],
) -> None:
    """A pass-through body (a file download) the upstream stops sending
    halfway: its status line already went to the agent, so the agent's
    connection is closed without the body's end and its client raises.
    Before, a 502 response was written into the body being sent. (A file
    download's first line is read before anything is sent, to tell a
    batch's output from other files: the break comes after it.)"""
    sent = b"A" * 100 + b"\n" + b"A" * 200
    upstream_handler = closing_after("application/octet-stream", sent, declared=5000)
    with (
        serving(upstream_handler) as upstream,
        run_gateway(gateway_config(upstream), env=env) as (url, _),
    ):
        raw = _raw_get(url, "/openai/v1/files/file-1/content")
        with pytest.raises(openai.APIConnectionError):
            oai(url).files.content("file-1")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding: chunked" in head.lower()
    assert b"HTTP/1.1" not in body
    # Whole chunks of the upstream's bytes, and no last chunk ("0\r\n\r\n").
    data = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        assert size > 0
        data, body = data + body[:size], body[size + 2 :]
    assert sent.startswith(data)


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", None])
def test_model_output_the_gateway_cannot_read_is_refused(
    env: dict[str, str], content_type: str | None
) -> None:
    """A 200 to a Messages or Chat request is inspected as JSON or SSE; an
    answer in any other form would pass every response inspector by, so it
    is refused (fail closed) rather than relayed unread."""
    secret = b"here is the key: AKIAIOSFODNN7EXAMPLE"

    class Upstream(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.answer(content_type, secret)

    with serving(Upstream) as upstream, run_gateway(gateway_config(upstream), env=env) as (url, _):
        with pytest.raises(anthropic.APIStatusError) as refused:
            claude(url).messages.create(model="claude-x", max_tokens=5, messages=MSG)
        with pytest.raises(openai.APIStatusError) as refused_too:
            oai(url).chat.completions.create(model="gpt-x", messages=MSG)
    for caught in (refused.value, refused_too.value):
        assert caught.status_code == 502
        assert "cannot inspect" in str(caught)
        assert "AKIA" not in caught.response.text


def test_the_deprecated_functions_api_is_refused_with_a_hint(
    gateway: str, provider: FakeProvider
) -> None:
    """Calls made through ``functions`` stream as ``function_call``, which is
    not inspected as a tool call: the request is refused before the provider
    sees it, with what to send instead."""
    functions = [{"name": "shell", "parameters": {"type": "object", "properties": {}}}]
    with pytest.raises(openai.BadRequestError) as refused:
        oai(gateway).chat.completions.create(
            model="gpt-x",
            messages=MSG,
            functions=functions,  # type: ignore[arg-type]
        )
    assert "`tools`" in str(refused.value)
    assert not provider.recorder.requests


@pytest.mark.parametrize(
    "tool", [{"type": "shell"}, {"type": "apply_patch"}, {"type": "computer_use_preview"}]
)
def test_responses_tools_whose_calls_are_not_inspected_are_refused(
    gateway: str, provider: FakeProvider, tool: dict[str, str]
) -> None:
    """The hosted ``shell``, ``apply_patch`` and computer-use tools return
    calls the agent carries out that Warden does not inspect yet:
    the request is refused with what to use instead, not relayed unchecked."""
    with pytest.raises(openai.BadRequestError) as refused:
        oai(gateway).responses.create(model="gpt-x", input="hi", tools=[tool])  # type: ignore[list-item]
    assert tool["type"] in str(refused.value) and "function" in str(refused.value)
    assert not provider.recorder.requests


async def test_a_websocket_upgrade_is_refused_clearly(gateway: str, provider: FakeProvider) -> None:
    """The Realtime API's WebSocket would carry frames no inspector reads:
    the handshake is refused with an error that says so, not relayed as a GET."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(
                gateway + "/openai/v1/realtime?model=gpt-realtime",
                headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
            )
        assert refused.value.status == 400
        async with session.get(
            gateway + "/openai/v1/realtime",
            headers={
                "Authorization": f"Bearer {GATEWAY_TOKEN}",
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        ) as response:
            error = (await response.json())["error"]
    assert response.status == 400 and "WebSocket" in error["message"]
    assert error["type"] == "invalid_request_error"
    assert not provider.recorder.requests


def test_a_download_that_breaks_before_its_first_line_is_a_502(env: dict[str, str]) -> None:
    """Nothing went to the agent yet while the gateway read the first line (to
    tell a batch's output from other files), so a break there is an error
    answer in the provider's format, not a cut body."""
    upstream_handler = closing_after("application/octet-stream", b"A" * 300, declared=5000)
    with (
        serving(upstream_handler) as upstream,
        run_gateway(gateway_config(upstream), env=env) as (url, _),
        pytest.raises(openai.APIStatusError) as raised,
    ):
        oai(url).files.content("file-1")
    assert raised.value.status_code == 502
    assert "upstream" in raised.value.message
