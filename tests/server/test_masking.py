"""Masking on the data path, driven by the SDKs: streamed output, what agents
send, and a blocking rule, with the default catalogue and policy."""

from __future__ import annotations

import http.client
import json
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes.provider import FakeProvider
from tests.fakes.script import say, think
from tests.helpers.gateway import GATEWAY_TOKEN, gateway_config, run_gateway
from tests.helpers.inspectors import TestInspector
from tests.helpers.upstream import QuietHandler, answering, paced, serving
from warden.config.loader import parse_config
from warden.config.model import MaskingConfig
from warden.pipeline.record import RecordingFailed, RecordKind
from warden.pipeline.types import Exchange
from warden.server import inspectors
from warden.server.masking import engine_for

ANTHROPIC_KEY = (
    "sk-ant-api03-abcDEF1234567890abcDEF1234567890abcDEF1234567890abcDEF1234567890"
    "abcDEF1234567890-AbCdEfAA"
)
GITHUB_PAT = "ghp_R8zX2kQ9mW4nV7bT1yL5pH3sJ6dF0gC8aE2u"
PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBXnT1xL0s2ZpW7QJd7pV9w8QeLrG0m4Z3cYH2bXw8cJAAAAJi4m6Vx\n"
    "-----END OPENSSH PRIVATE KEY-----"
)
POLICY = """policies:
  default:
    masking:
      actions: {private-key-block: block}
"""


@pytest.fixture
def masked(upstream: str, env: dict[str, str]) -> Iterator[str]:
    config = parse_config(gateway_config(upstream) + POLICY, env=env)
    factories = [inspectors.guardrails, inspectors.masking]
    with run_gateway(config, factories=factories) as (url, _):
        yield url


def test_streamed_secrets_are_redacted_in_every_dialect(
    masked: str, provider: FakeProvider
) -> None:
    text = f"Use {ANTHROPIC_KEY} for the API and {GITHUB_PAT} to push."
    provider.script.push(say(text), say(text), say(text))
    claude = anthropic.Anthropic(base_url=masked + "/claude", api_key=GATEWAY_TOKEN, max_retries=0)
    with claude.messages.stream(
        model="claude-x", max_tokens=200, messages=[{"role": "user", "content": "keys?"}]
    ) as stream:
        got = "".join(stream.text_stream)
        final = stream.get_final_message()
    expected = (
        "Use [REDACTED:anthropic-api-key] for the API and [REDACTED:github-pat-classic] to push."
    )
    assert got == expected
    assert final.content[0].type == "text" and final.content[0].text == expected
    client = openai.OpenAI(base_url=masked + "/openai/v1", api_key=GATEWAY_TOKEN, max_retries=0)
    chunks = client.chat.completions.create(
        model="gpt-x", messages=[{"role": "user", "content": "keys?"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == expected
    with client.responses.stream(model="gpt-x", input="keys?") as rstream:
        assert rstream.get_final_response().output_text == expected


def test_what_agents_send_is_tokenized_before_the_provider(
    masked: str, provider: FakeProvider
) -> None:
    provider.script.push(say("noted"))
    claude = anthropic.Anthropic(base_url=masked + "/claude", api_key=GATEWAY_TOKEN, max_retries=0)
    claude.messages.create(
        model="claude-x",
        max_tokens=20,
        messages=[{"role": "user", "content": f"deploy with {GITHUB_PAT} please"}],
    )
    (request,) = provider.recorder.to("/v1/messages")
    sent = request.json["messages"][0]["content"]
    assert GITHUB_PAT not in sent
    assert "[TOKEN:github-pat-classic:" in sent


def test_a_local_shell_call_resent_in_the_history_is_tokenized(
    masked: str, provider: FakeProvider
) -> None:
    """The Responses API's local shell calls come back in ``input`` as whole
    ``action`` objects: every string in them is scanned like any tool input."""
    provider.script.push(say("done"))
    client = openai.OpenAI(base_url=masked + "/openai/v1", api_key=GATEWAY_TOKEN, max_retries=0)
    action = {
        "type": "exec",
        "command": ["git", "push", f"https://x:{GITHUB_PAT}@github.com/o/r.git"],
        "env": {"GH_TOKEN": GITHUB_PAT},
    }
    history = [
        {
            "type": "local_shell_call",
            "id": "lsh_1",
            "call_id": "c1",
            "status": "completed",
            "action": action,
        },
        {"type": "local_shell_call_output", "call_id": "c1", "output": "pushed"},
    ]
    client.responses.create(model="gpt-x", input=history)  # type: ignore[arg-type]
    (request,) = provider.recorder.to("/v1/responses")
    assert not request.contains(GITHUB_PAT)
    sent = request.json["input"][0]["action"]
    assert "[TOKEN:github-pat-classic:" in sent["command"][2]
    assert sent["env"]["GH_TOKEN"].startswith("[TOKEN:github-pat-classic:")


def test_a_blocking_rule_refuses_the_request(masked: str, provider: FakeProvider) -> None:
    client = openai.OpenAI(base_url=masked + "/openai/v1", api_key=GATEWAY_TOKEN, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gpt-x", messages=[{"role": "user", "content": f"here is my key\n{PRIVATE_KEY}"}]
        )
    assert "private-key-block" in str(caught.value)
    assert not provider.recorder.requests


def test_the_engine_compiles_what_the_policy_can_turn_on() -> None:
    off, on = engine_for(MaskingConfig()), engine_for(MaskingConfig(pii=True))
    text = "write to dana.reyes@northwind-traders.com"
    actions = list(on.default_actions)
    actions[on.catalogue.index("email-address")] = "redact"
    assert [f.rule_id for f in on.scan(text, actions)] == ["email-address"]
    assert off.scan(text) == []
    with pytest.raises(ValueError, match="email-address"):
        off.scan(text, actions)  # PII is off: its rules are not in the pass
    assert engine_for(MaskingConfig()) is off  # shared by policies that reach the same rules


def test_a_lone_surrogate_survives_a_rewritten_request(masked: str, provider: FakeProvider) -> None:
    """``\\ud83d`` is legal JSON (half an emoji a client's truncation cut), but
    not encodable as UTF-8: a body the gateway rewrites keeps it escaped."""
    provider.script.push(say("noted"))
    body = (
        '{"model":"claude-x","max_tokens":5,"messages":[{"role":"user",'
        f'"content":"half an emoji \\ud83d and {GITHUB_PAT}"}}]}}'
    ).encode()
    request = urllib.request.Request(
        masked + "/claude/v1/messages",
        data=body,
        method="POST",
        headers={
            "x-api-key": GATEWAY_TOKEN,
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    (sent,) = provider.recorder.to("/v1/messages")
    assert b"\\ud83d" in sent.body
    content = json.loads(sent.body)["messages"][0]["content"]
    assert content.startswith("half an emoji \ud83d and [TOKEN:github-pat-classic:")


def test_no_event_of_a_responses_stream_repeats_a_secret_in_reasoning(
    masked: str, provider: FakeProvider
) -> None:
    """A reasoning summary streams as deltas, then comes whole again in its
    ``.done``, ``reasoning_summary_part.done``, ``output_item.done`` and
    ``response.completed``: every copy is the masked one."""
    provider.script.push(think(f"the key is {GITHUB_PAT} so", "done"))
    request = urllib.request.Request(
        masked + "/openai/v1/responses",
        data=json.dumps({"model": "gpt-x", "input": "hi", "stream": True}).encode(),
        method="POST",
        headers={"authorization": f"Bearer {GATEWAY_TOKEN}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        wire = response.read()
    assert b"reasoning_summary_part.done" in wire
    assert GITHUB_PAT.encode() not in wire
    assert wire.count(b"[REDACTED:github-pat-classic]") >= 4


def _logprobs(text: str) -> list[dict[str, object]]:
    """Chat-style log probabilities of ``text`` in three tokens."""
    third = len(text) // 3
    tokens = [text[:third], text[third : 2 * third], text[2 * third :]]
    return [
        {
            "token": t,
            "logprob": -0.1,
            "bytes": list(t.encode()),
            "top_logprobs": [{"token": t, "logprob": -0.1, "bytes": list(t.encode())}],
        }
        for t in tokens
    ]


def _sse(*events: tuple[str | None, dict[str, object] | str]) -> bytes:
    out = b""
    for name, data in events:
        if name:
            out += f"event: {name}\n".encode()
        payload = data if isinstance(data, str) else json.dumps(data)
        out += f"data: {payload}\n\n".encode()
    return out


_TEXT = f"push with {GITHUB_PAT} now"
_CHUNK = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x"}
_PART = {"type": "output_text", "text": _TEXT, "annotations": [], "logprobs": _logprobs(_TEXT)}
_RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "model": "gpt-x",
    "output": [
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [_PART],
        }
    ],
}
_WHERE = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
_LOGPROB_ANSWERS: dict[str, tuple[str, str, bytes]] = {
    "chat": (
        "/openai/v1/chat/completions",
        "application/json",
        json.dumps(
            {
                **_CHUNK,
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": _TEXT},
                        "logprobs": {"content": _logprobs(_TEXT), "refusal": None},
                        "finish_reason": "stop",
                    }
                ],
            }
        ).encode(),
    ),
    "chat, streamed": (
        "/openai/v1/chat/completions",
        "text/event-stream",
        _sse(
            *(
                (
                    None,
                    {
                        **_CHUNK,
                        "choices": [
                            {
                                "index": 0,
                                "delta": {"content": piece},
                                "logprobs": {"content": _logprobs(piece), "refusal": None},
                                "finish_reason": None,
                            }
                        ],
                    },
                )
                for piece in (_TEXT[:20], _TEXT[20:])
            ),
            (None, {**_CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            (None, "[DONE]"),
        ),
    ),
    "responses": ("/openai/v1/responses", "application/json", json.dumps(_RESPONSE).encode()),
    "responses, streamed": (
        "/openai/v1/responses",
        "text/event-stream",
        _sse(
            *(
                (
                    "response.output_text.delta",
                    {
                        "type": "response.output_text.delta",
                        **_WHERE,
                        "delta": piece,
                        "logprobs": _logprobs(piece),
                    },
                )
                for piece in (_TEXT[:20], _TEXT[20:])
            ),
            (
                "response.output_text.done",
                {
                    "type": "response.output_text.done",
                    **_WHERE,
                    "text": _TEXT,
                    "logprobs": _logprobs(_TEXT),
                },
            ),
            (
                "response.content_part.done",
                {"type": "response.content_part.done", **_WHERE, "part": _PART},
            ),
            ("response.completed", {"type": "response.completed", "response": _RESPONSE}),
        ),
    ),
}


def _answered(
    env: dict[str, str],
    upstream_handler: type[QuietHandler],
    path: str,
    payload: dict[str, object],
    headers: dict[str, str],
) -> bytes:
    """POST ``payload`` to ``path`` through a gateway with guardrails and
    masking, in front of ``upstream_handler``; the body the agent gets."""
    with serving(upstream_handler) as upstream:
        config = parse_config(gateway_config(upstream), env=env)
        factories = [inspectors.guardrails, inspectors.masking]
        with run_gateway(config, factories=factories) as (url, _):
            request = urllib.request.Request(
                url + path,
                data=json.dumps(payload).encode(),
                headers={**headers, "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                return bytes(response.read())


@pytest.mark.parametrize("answer", sorted(_LOGPROB_ANSWERS))
def test_log_probabilities_cannot_carry_what_was_masked(env: dict[str, str], answer: str) -> None:
    """``logprobs`` repeat the output token by token, beside the text the
    inspectors see: they are emptied, or a secret masked in the text would
    still reach the agent in pieces."""
    path, content_type, body = _LOGPROB_ANSWERS[answer]
    got = _answered(
        env,
        answering(content_type, body),
        path,
        {"model": "gpt-x", "messages": [], "input": "hi"},
        {"Authorization": f"Bearer {GATEWAY_TOKEN}"},
    )
    assert b"[REDACTED:github-pat-classic]" in got
    assert GITHUB_PAT[4:].encode() not in got
    # not one token of the output is left, as text or as bytes
    assert b'"token"' not in got
    assert b'"bytes"' not in got


def _completions_upstream(seen: list[dict[str, object]], text: str) -> type[QuietHandler]:
    """A legacy text Completions upstream: records each request body and
    answers ``text``, streamed in three chunks or whole, as asked."""

    class Upstream(QuietHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(request)
            base = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "gpt-x"}
            third = len(text) // 3
            pieces = [text[:third], text[third : 2 * third], text[2 * third :]]
            if request.get("stream"):
                chunks = [
                    {
                        **base,
                        "choices": [
                            {"text": p, "index": 0, "logprobs": None, "finish_reason": None}
                        ],
                    }
                    for p in pieces
                ]
                body = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks)
                body += b"data: [DONE]\n\n"
                content_type = "text/event-stream"
            else:
                choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}
                body = json.dumps({**base, "choices": [choice]}).encode()
                content_type = "application/json"
            self.answer(content_type, body)

    return Upstream


def test_legacy_text_completions_are_inspected_both_ways(env: dict[str, str]) -> None:
    """``/completions`` (the text API before chat) is not a pass-through: the
    prompt and suffix are scanned on the way out, the text on the way back."""
    seen: list[dict[str, object]] = []
    answer = f"Use {ANTHROPIC_KEY} to call it."
    with serving(_completions_upstream(seen, answer)) as upstream:
        config = parse_config(gateway_config(upstream) + POLICY, env=env)
        factories = [inspectors.guardrails, inspectors.masking]
        with run_gateway(config, factories=factories) as (url, _):
            client = openai.OpenAI(
                base_url=url + "/openai/v1", api_key=GATEWAY_TOKEN, max_retries=0
            )
            whole = client.completions.create(
                model="gpt-x", prompt=f"push with {GITHUB_PAT}", suffix=GITHUB_PAT
            )
            streamed = "".join(
                c.choices[0].text
                for c in client.completions.create(
                    model="gpt-x", prompt=["hi", f"token {GITHUB_PAT}"], stream=True
                )
                if c.choices
            )
    expected = "Use [REDACTED:anthropic-api-key] to call it."
    assert whole.choices[0].text == expected
    assert streamed == expected
    assert GITHUB_PAT not in json.dumps(seen)
    assert "[TOKEN:github-pat-classic:" in str(seen[0]["prompt"])
    assert "[TOKEN:github-pat-classic:" in str(seen[0]["suffix"])
    assert "[TOKEN:github-pat-classic:" in str(seen[1]["prompt"])


_DB_ANSWER = f"rows: 2; connect with {ANTHROPIC_KEY}"
_MCP_RESULT = {
    "type": "mcp_tool_result",
    "tool_use_id": "mcptoolu_1",
    "is_error": False,
    "content": [{"type": "text", "text": _DB_ANSWER}],
}
_MCP_CALL = {
    "type": "mcp_call",
    "id": "mcp_1",
    "server_label": "db",
    "name": "query",
    "arguments": "{}",
    "output": _DB_ANSWER,
}
_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [_MCP_RESULT],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}
_MCP_RESPONSE = {**_RESPONSE, "output": [_MCP_CALL]}
_MCP_ANSWERS: dict[str, tuple[str, str, bytes]] = {
    "messages": ("/claude/v1/messages", "application/json", json.dumps(_MESSAGE).encode()),
    "messages, streamed": (
        "/claude/v1/messages",
        "text/event-stream",
        _sse(
            ("message_start", {"type": "message_start", "message": {**_MESSAGE, "content": []}}),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": _MCP_RESULT},
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_stop", {"type": "message_stop"}),
        ),
    ),
    "responses": ("/openai/v1/responses", "application/json", json.dumps(_MCP_RESPONSE).encode()),
    "responses, streamed": (
        "/openai/v1/responses",
        "text/event-stream",
        _sse(
            (
                "response.output_item.added",
                {
                    "type": "response.output_item.added",
                    "output_index": 0,
                    "item": {**_MCP_CALL, "output": None},
                },
            ),
            (
                "response.output_item.done",
                {"type": "response.output_item.done", "output_index": 0, "item": _MCP_CALL},
            ),
            ("response.completed", {"type": "response.completed", "response": _MCP_RESPONSE}),
        ),
    ),
}


@pytest.mark.parametrize("answer", sorted(_MCP_ANSWERS))
def test_what_a_providers_mcp_server_answers_is_masked(env: dict[str, str], answer: str) -> None:
    """An MCP server the provider calls (Anthropic's MCP connector, a
    Responses ``mcp`` tool) answers inside the response: that text reaches
    the agent like the model's own, so it is masked like it."""
    path, content_type, body = _MCP_ANSWERS[answer]
    got = _answered(
        env,
        answering(content_type, body),
        path,
        {"model": "m", "max_tokens": 5, "messages": [], "input": "q"},
        {"x-api-key": GATEWAY_TOKEN},
    )
    assert ANTHROPIC_KEY.encode() not in got
    assert b"rows: 2; connect with [REDACTED:anthropic-api-key]" in got


def test_a_cancelled_response_is_masked(env: dict[str, str]) -> None:
    """Cancelling a background response returns it with what it had said so
    far: that text is masked like the answer itself."""
    seen: list[str] = []

    class Upstream(QuietHandler):
        def do_POST(self) -> None:
            seen.append(self.path)
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            cancelled = {**_RESPONSE, "status": "cancelled", "background": True}
            self.answer("application/json", json.dumps(cancelled).encode())

    with serving(Upstream) as upstream:
        config = parse_config(gateway_config(upstream), env=env)
        factories = [inspectors.guardrails, inspectors.masking]
        with run_gateway(config, factories=factories) as (url, _):
            client = openai.OpenAI(
                base_url=url + "/openai/v1", api_key=GATEWAY_TOKEN, max_retries=0
            )
            cancelled = client.responses.cancel("resp_1")
    assert seen == ["/v1/responses/resp_1/cancel"]
    assert cancelled.status == "cancelled"
    assert cancelled.output_text == "push with [REDACTED:github-pat-classic] now"
    assert GITHUB_PAT not in cancelled.model_dump_json()


def _results_line(custom_id: str, text: str) -> bytes:
    message = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}
    line = {"custom_id": custom_id, "result": {"type": "succeeded", "message": message}}
    return json.dumps(line).encode() + b"\n"


def _fetch_results(
    env: dict[str, str],
    pieces: list[bytes],
    *,
    factories: Sequence[Any] = (inspectors.guardrails, inspectors.masking),
    recorder: Any = None,
) -> bytes:
    """A batch's results through a gateway in front of ``pieces``: the body
    the agent gets (``http.client.IncompleteRead`` when it is cut)."""
    with serving(paced("application/binary", pieces)) as upstream:
        config = parse_config(gateway_config(upstream), env=env)
        with run_gateway(config, factories=factories, recorder=recorder) as (url, _):
            request = urllib.request.Request(
                url + "/claude/v1/messages/batches/msgbatch_1/results",
                headers={"x-api-key": GATEWAY_TOKEN},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                return bytes(response.read())


def test_batch_results_are_masked_line_by_line_across_reads(env: dict[str, str]) -> None:
    first = _results_line("a", f"use {GITHUB_PAT}")
    second = _results_line("b", "fine")
    got = _fetch_results(env, [first[:40], first[40:] + second[:10], second[10:]])
    lines = [json.loads(line) for line in got.splitlines()]
    assert [line["custom_id"] for line in lines] == ["a", "b"]
    texts = [line["result"]["message"]["content"][0]["text"] for line in lines]
    assert texts == ["use [REDACTED:github-pat-classic]", "fine"]


def test_batch_results_that_are_not_json_lines_are_cut_short(env: dict[str, str]) -> None:
    """The status is out by then: the body ends without its last chunk, so
    the client reports it incomplete, and nothing after the bad line is sent."""
    with pytest.raises(http.client.IncompleteRead) as cut:
        _fetch_results(env, [_results_line("a", "ok"), b"not json\n", _results_line("c", "late")])
    assert b'"late"' not in cut.value.partial


def test_an_upload_a_blocking_rule_matches_never_reaches_the_provider(
    masked: str, provider: FakeProvider
) -> None:
    client = openai.OpenAI(base_url=masked + "/openai/v1", api_key=GATEWAY_TOKEN, max_retries=0)
    with pytest.raises(openai.BadRequestError, match="private-key-block"):
        client.files.create(file=("id_ed25519", PRIVATE_KEY.encode()), purpose="user_data")
    assert not provider.recorder.requests and not provider.stored


def _chunked(client: openai.OpenAI, content: bytes, part_size: int) -> Any:
    return client.uploads.upload_file_chunked(
        file=content,
        filename="notes.txt",
        bytes=len(content),
        mime_type="text/plain",
        purpose="user_data",
        part_size=part_size,
    )


def test_a_clean_chunked_upload_goes_through_part_by_part(
    masked: str, provider: FakeProvider
) -> None:
    client = openai.OpenAI(base_url=masked + "/openai/v1", api_key=GATEWAY_TOKEN, max_retries=0)
    content = ("caf\u00e9 notes, nothing secret in them. " * 40).encode()
    upload = _chunked(client, content, part_size=333)  # parts cut inside "é"
    assert upload.status == "completed" and upload.file is not None
    assert provider.stored[upload.file.id]["content"] == content


def test_a_chunked_upload_part_with_a_secret_is_refused_unsent(
    masked: str, provider: FakeProvider
) -> None:
    """A part cannot be masked (the upload's size is fixed when it is
    created): one the masker would change is refused, and never sent."""
    client = openai.OpenAI(base_url=masked + "/openai/v1", api_key=GATEWAY_TOKEN, max_retries=0)
    # 301-byte parts: the second starts and ends inside an "é", and holds the key
    content = ("\u00e9" * 200 + f" token {GITHUB_PAT} " + "\u00e9" * 200).encode()
    with pytest.raises(openai.BadRequestError, match=r"github-pat-classic.*POST /v1/files"):
        _chunked(client, content, part_size=301)
    sent = [r.body for r in provider.recorder.requests if r.path.endswith("/parts")]
    assert len(sent) == 1 and GITHUB_PAT.encode() not in b"".join(sent)  # the first, clean
    upload = next(v for v in provider.stored.values() if v.get("object") == "upload")
    assert upload["status"] == "pending" and upload["parts"]  # the clean parts before it


def test_a_policy_can_refuse_uploads_it_cannot_read(
    upstream: str, env: dict[str, str], provider: FakeProvider
) -> None:
    strict = POLICY + "      binary_uploads: refuse\n"
    config = parse_config(gateway_config(upstream) + strict, env=env)
    factories = [inspectors.guardrails, inspectors.masking]
    with run_gateway(config, factories=factories) as (url, _):
        client = openai.OpenAI(base_url=url + "/openai/v1", api_key=GATEWAY_TOKEN, max_retries=0)
        with pytest.raises(openai.BadRequestError, match=r"'x\.png' is not text"):
            client.files.create(file=("x.png", b"\x89PNG\r\n\x1a\n\xff"), purpose="vision")
        text = client.files.create(file=("a.txt", b"fine"), purpose="user_data")
    assert [k for k, v in provider.stored.items() if v.get("object") == "file"] == [text.id]


class _FailingLines:
    """A strict recorder whose store fails on a results file's lines (with
    ``fail``), keeping the kind of each event and the exchange's outcome."""

    def __init__(self, *, fail: bool = True) -> None:
        self.fail = fail
        self.kinds: list[str] = []
        self.outcome: str | None = None

    async def record(self, exchange: Exchange, kind: RecordKind, payload: dict[str, Any]) -> None:
        self.kinds.append(kind.value)
        if kind is RecordKind.END:
            self.outcome = payload.get("outcome")
        if "lines" in payload and self.fail:
            raise RecordingFailed("the store is gone")

    async def settle(self, exchange: Exchange) -> None:
        pass

    def strict_for(self, exchange: Exchange) -> bool:
        return True


def test_batch_results_that_cannot_be_recorded_are_not_sent(env: dict[str, str]) -> None:
    """Strict mode: a line is recorded before it is sent; when it cannot be,
    the body is cut (the status is out), never sent unrecorded."""
    recorder = _FailingLines()
    with pytest.raises(http.client.IncompleteRead) as cut:
        _fetch_results(env, [_results_line("a", "secret plans")], recorder=recorder)
    assert b"secret plans" not in cut.value.partial
    assert "response.event" in recorder.kinds and recorder.outcome == "recording_failed"


def test_batch_results_an_inspector_fails_on_are_cut(env: dict[str, str]) -> None:
    failing = [lambda *_: [TestInspector(raise_on_text=True)]]
    recorder = _FailingLines(fail=False)
    with pytest.raises(http.client.IncompleteRead) as cut:
        _fetch_results(env, [_results_line("a", "fine")], factories=failing, recorder=recorder)
    assert b"fine" not in cut.value.partial
    assert recorder.outcome == "error"  # an inspector failed: not the upstream's doing
