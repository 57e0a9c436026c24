"""The tokenize round trip on the data path, in every dialect, streamed and not.

The agent sends a secret; the provider sees only its placeholder and writes
it back into a tool call; the agent gets the value back in the tool call's
arguments (so an edit keeps the real key), while the recording, the
decisions and any text keep the placeholder.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
import yaml
from aiohttp import web

from tests.fakes.provider import FakeProvider
from tests.fakes.script import ModelRequest, Reply, ToolCall, call_tool, respond, say
from tests.helpers.gateway import GATEWAY_TOKEN, gateway_config, run_gateway
from warden.config.loader import load_config, parse_config
from warden.config.model import MaskingConfig
from warden.pipeline.types import Exchange
from warden.server import inspectors
from warden.server.masking import policy_for

# Built at run time so that no secret scanner flags this file.
SECRET = "sk_live_" + "51Hx8KqLm2Nf7Rt4Yp9Wz3Bv6Cd1Eg0Ja5Kh8Mn2Qs7Tu4Vx9Yz3Ab6Cd1Ef0Gh"
PLACEHOLDER = re.compile(r"\[TOKEN:stripe-secret-key:[0-9a-f]{16}\]")
FILE = f'STRIPE_KEY = "{SECRET}"\nREGION = "eu-west-1"\n'
POLICY = """policies:
  default:
    masking:
      detokenize: tool-input
"""


class Captured:
    """A recorder that keeps payloads as handed over (it owns them, like the real one)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    async def record(self, exchange: Exchange, kind: Any, payload: dict[str, Any]) -> None:
        self.events.append((exchange.session_id, str(kind), payload))

    async def settle(self, exchange: Exchange) -> None:
        return None

    def strict_for(self, exchange: Exchange) -> bool:
        return False

    def text(self, session: str | None = None) -> str:
        return json.dumps(
            [(kind, p) for s, kind, p in self.events if session is None or s == session]
        )

    def decisions(self) -> list[dict[str, Any]]:
        return [p for _, kind, p in self.events if kind == "decision"]

    def wait_for_end(self, session: str, timeout: float = 10.0) -> None:
        """The gateway records a stream's last decisions and its end just after
        the agent has the last bytes: wait for the end before reading them."""
        deadline = time.monotonic() + timeout
        while not any(s == session and kind == "end" for s, kind, _ in list(self.events)):
            assert time.monotonic() < deadline, f"the exchange of {session} never ended"
            time.sleep(0.01)


@pytest.fixture
def recorder() -> Captured:
    return Captured()


@pytest.fixture
def gateway_url(upstream: str, env: dict[str, str], recorder: Captured) -> Iterator[str]:
    config = parse_config(gateway_config(upstream) + POLICY, env=env)
    factories = [inspectors.guardrails, inspectors.masking]
    with run_gateway(config, factories=factories, recorder=recorder) as (url, _):
        yield url


def edit(token: str) -> dict[str, str]:
    """An edit of the line under the key, with the key's line as context."""
    return {
        "file_path": "config.py",
        "old_string": f'STRIPE_KEY = "{token}"\nREGION = "eu-west-1"',
        "new_string": f'STRIPE_KEY = "{token}"\nREGION = "us-east-2"',
    }


def edit_with_the_placeholder(request: ModelRequest) -> Reply:
    """The model: read the file it was shown, then edit it by its placeholder."""
    sent = json.dumps(request.body)
    found = PLACEHOLDER.search(sent)
    if SECRET in sent or found is None:
        return say("the provider saw the secret, or no placeholder")
    return call_tool("Edit", edit(found.group(0)), text="Changing the region.")


def expect_restored(arguments: dict[str, Any]) -> None:
    assert arguments == edit(SECRET)


def assert_recording_masked(recorder: Captured, session: str) -> None:
    recorder.wait_for_end(session)
    recorded = recorder.text(session)
    assert SECRET not in recorded
    assert PLACEHOLDER.search(recorded)  # the tool call was recorded as the provider wrote it
    restored = [d for d in recorder.decisions() if d["action"] == "detokenize"]
    assert restored and all(d["rule"] == "stripe-secret-key" for d in restored)
    assert {d["channel"].split("#")[1] for d in restored} >= {"/old_string", "/new_string"}


def ask(session: str) -> dict[str, str]:
    return {"X-Warden-Session": session}


def claude(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url + "/claude", api_key=GATEWAY_TOKEN, max_retries=0)


def oai(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/openai/v1", api_key=GATEWAY_TOKEN, max_retries=0)


PROMPT = f"Here is config.py:\n{FILE}\nMove it to us-east-2."


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "whole"])
def test_anthropic_tool_use_gets_the_value_and_the_recording_keeps_the_placeholder(
    gateway_url: str, provider: FakeProvider, recorder: Captured, streamed: bool
) -> None:
    provider.script.push(respond(edit_with_the_placeholder))
    session = f"anthropic-{streamed}"
    messages: Any = [{"role": "user", "content": PROMPT}]
    client = claude(gateway_url)
    if streamed:
        with client.messages.stream(
            model="claude-x", max_tokens=200, messages=messages, extra_headers=ask(session)
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text == "Changing the region."
    else:
        final = client.messages.create(
            model="claude-x", max_tokens=200, messages=messages, extra_headers=ask(session)
        )
    [tool_use] = [b for b in final.content if b.type == "tool_use"]
    expect_restored(tool_use.input)  # type: ignore[arg-type]
    assert final.stop_reason == "tool_use"
    assert not provider.recorder.anywhere(SECRET)
    assert_recording_masked(recorder, session)


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "whole"])
def test_chat_tool_call_gets_the_value_and_the_recording_keeps_the_placeholder(
    gateway_url: str, provider: FakeProvider, recorder: Captured, streamed: bool
) -> None:
    provider.script.push(respond(edit_with_the_placeholder))
    session = f"chat-{streamed}"
    messages: Any = [{"role": "user", "content": PROMPT}]
    client = oai(gateway_url)
    if streamed:
        arguments = ""
        names = []
        for chunk in client.chat.completions.create(
            model="gpt-x", messages=messages, stream=True, extra_headers=ask(session)
        ):
            for choice in chunk.choices:
                for call in choice.delta.tool_calls or []:
                    assert call.function is not None
                    names.append(call.function.name)
                    arguments += call.function.arguments or ""
        assert [n for n in names if n] == ["Edit"]
    else:
        completion = client.chat.completions.create(
            model="gpt-x", messages=messages, extra_headers=ask(session)
        )
        [call] = completion.choices[0].message.tool_calls or []
        arguments = call.function.arguments  # type: ignore[union-attr]
    expect_restored(json.loads(arguments))
    assert not provider.recorder.anywhere(SECRET)
    assert_recording_masked(recorder, session)


def test_what_was_released_is_recorded_when_the_agent_is_gone(
    gateway_url: str,
    provider: FakeProvider,
    recorder: Captured,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The write to the agent is where an agent that has gone away surfaces
    (an SDK closes the connection as soon as it has ``[DONE]``). What the
    gateway released in that write, and the decisions taken on it, must
    still be in the record."""
    provider.script.push(respond(edit_with_the_placeholder))
    session = "gone"
    write = web.StreamResponse.write

    async def vanishing(self: web.StreamResponse, data: bytes) -> None:
        if b"old_string" in data:  # the restored tool call: the agent is gone
            raise ConnectionResetError("the agent went away")
        await write(self, data)

    monkeypatch.setattr(web.StreamResponse, "write", vanishing)
    messages: Any = [{"role": "user", "content": PROMPT}]
    with pytest.raises(openai.APIError):
        for _ in oai(gateway_url).chat.completions.create(
            model="gpt-x", messages=messages, stream=True, extra_headers=ask(session)
        ):
            pass
    recorder.wait_for_end(session)
    restored = [d for d in recorder.decisions() if d["action"] == "detokenize"]
    assert {d["channel"].split("#")[1] for d in restored} >= {"/old_string", "/new_string"}
    released = [
        p
        for s, kind, p in recorder.events
        if s == session and kind == "response.event" and "old_string" in json.dumps(p)
    ]
    assert released and PLACEHOLDER.search(json.dumps(released))
    assert SECRET not in recorder.text(session)


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "whole"])
def test_responses_function_call_gets_the_value_everywhere_it_is_carried(
    gateway_url: str, provider: FakeProvider, recorder: Captured, streamed: bool
) -> None:
    provider.script.push(respond(edit_with_the_placeholder))
    session = f"responses-{streamed}"
    client = oai(gateway_url)
    if streamed:
        deltas = ""
        done: list[str] = []
        items: list[str] = []
        with client.responses.stream(
            model="gpt-x", input=PROMPT, extra_headers=ask(session)
        ) as stream:
            for event in stream:
                if event.type == "response.function_call_arguments.delta":
                    deltas += event.delta
                elif event.type == "response.function_call_arguments.done":
                    done.append(event.arguments)
                elif event.type == "response.output_item.done" and event.item.type == (
                    "function_call"
                ):
                    items.append(event.item.arguments)
            response = stream.get_final_response()
        for arguments in (deltas, *done, *items):
            expect_restored(json.loads(arguments))
    else:
        response = client.responses.create(model="gpt-x", input=PROMPT, extra_headers=ask(session))
    [call] = [item for item in response.output if item.type == "function_call"]
    expect_restored(json.loads(call.arguments))
    assert not provider.recorder.anywhere(SECRET)
    assert_recording_masked(recorder, session)


def test_a_later_turn_of_the_session_restores_and_another_session_does_not(
    gateway_url: str, provider: FakeProvider, recorder: Captured
) -> None:
    """The vault lives as long as the session, not the exchange."""
    seen: list[str] = []

    def remember(request: ModelRequest) -> Reply:
        found = PLACEHOLDER.search(json.dumps(request.body))
        assert found is not None
        seen.append(found.group(0))
        return say("noted")

    def reuse(request: ModelRequest) -> Reply:
        return Reply(blocks=(ToolCall("Edit", edit(seen[0])),))

    provider.script.push(respond(remember), respond(reuse), respond(reuse))
    client = claude(gateway_url)
    first: Any = [{"role": "user", "content": PROMPT}]
    later: Any = [{"role": "user", "content": "go on"}]
    client.messages.create(
        model="claude-x", max_tokens=50, messages=first, extra_headers=ask("turns")
    )
    again = client.messages.create(
        model="claude-x", max_tokens=50, messages=later, extra_headers=ask("turns")
    )
    [tool_use] = [b for b in again.content if b.type == "tool_use"]
    expect_restored(tool_use.input)  # type: ignore[arg-type]
    other = client.messages.create(
        model="claude-x", max_tokens=50, messages=later, extra_headers=ask("someone-else")
    )
    [kept] = [b for b in other.content if b.type == "tool_use"]
    assert kept.input == edit(seen[0])  # not this session's placeholder: it stays
    assert SECRET not in recorder.text()


def test_text_keeps_the_placeholder(
    gateway_url: str, provider: FakeProvider, recorder: Captured
) -> None:
    def echo(request: ModelRequest) -> Reply:
        found = PLACEHOLDER.search(json.dumps(request.body))
        assert found is not None
        return say(f"Your key is {found.group(0)}.")

    provider.script.push(respond(echo))
    messages: Any = [{"role": "user", "content": PROMPT}]
    with claude(gateway_url).messages.stream(
        model="claude-x", max_tokens=50, messages=messages, extra_headers=ask("text")
    ) as stream:
        text = "".join(stream.text_stream)
    assert PLACEHOLDER.fullmatch(text.removeprefix("Your key is ").removesuffix("."))
    assert SECRET not in recorder.text()


@pytest.mark.parametrize(
    ("line", "restores"),
    [("", False), ("detokenize: off", False), ("detokenize: tool-input", True)],
)
def test_the_setting(line: str, restores: bool) -> None:
    masking = MaskingConfig.model_validate(yaml.safe_load(line) or {})
    assert policy_for(masking).detokenize_tool_input is restores


def test_the_quickstart_restores_tool_input() -> None:
    config = load_config(Path("examples/quickstart.yaml"), env={})
    assert config.policies["default"].masking.detokenize == "tool-input"
