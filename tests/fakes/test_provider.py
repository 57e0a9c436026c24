"""The fake's scripting, recording and subprocess mode."""

import anthropic
import openai
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes import wire
from tests.fakes.control import spawn
from tests.fakes.provider import FakeProvider
from tests.fakes.script import (
    Failure,
    Match,
    ModelRequest,
    Reply,
    Script,
    Text,
    Thinking,
    ToolCall,
    call_tool,
    pieces,
    reply_from_json,
    reply_to_json,
    respond,
    say,
)


@given(st.text(), st.integers(min_value=1, max_value=9))
def test_pieces_cover_the_text_in_small_nonempty_deltas(text: str, size: int) -> None:
    parts = list(pieces(text, size))
    assert "".join(parts) == text
    assert all(0 < len(p) <= size for p in parts)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
blocks = st.one_of(
    st.builds(Text, st.text()),
    st.builds(Thinking, st.text(), st.text()),
    st.builds(
        ToolCall,
        st.text(min_size=1),
        st.dictionaries(st.text(), json_values, max_size=3),
        st.none() | st.text(min_size=1),
    ),
)
replies = st.builds(
    Reply,
    blocks=st.lists(blocks, max_size=4).map(tuple),
    failure=st.none()
    | st.builds(
        Failure, st.integers(400, 599), st.text(), st.none(), st.none() | st.integers(0, 9)
    ),
    match=st.builds(
        Match, st.none() | st.just("anthropic"), st.none() | st.text(), st.none() | st.booleans()
    ),
    delay=st.none() | st.floats(0, 1),
)


@given(replies)
def test_replies_round_trip_through_json(reply: Reply) -> None:
    assert reply_from_json(reply_to_json(reply)) == reply


def request(dialect: str = "anthropic", *, tools: bool = True, text: str = "hi") -> ModelRequest:
    return ModelRequest(dialect=dialect, model="claude-x", has_tools=tools, last_user_text=text)  # type: ignore[arg-type]


def test_script_hands_out_replies_in_order_to_matching_requests() -> None:
    script = Script()
    script.push(
        say("first", match=Match(has_tools=True)),
        say("for openai", match=Match(dialect="openai-responses")),
        say("second", match=Match(has_tools=True)),
    )
    transcript = [
        (request(tools=False, text="side call"), "ok: side call"),
        (request(), "first"),
        (request("openai-responses"), "for openai"),
        (request(), "second"),
        (request(), "ok: hi"),
    ]
    for asked, said in transcript:
        assert script.next_for(asked).text == said
    assert script.pending() == []


def test_a_computed_reply_reads_the_request_that_takes_it() -> None:
    script = Script()
    script.push(respond(lambda r: say(f"you sent {r.body['n']}"), match=Match(has_tools=True)))
    assert script.next_for(request(tools=False)).text == "ok: hi"  # not for side calls
    asked = ModelRequest("anthropic", "claude-x", True, "hi", body={"n": 7})
    assert script.next_for(asked).text == "you sent 7"
    assert script.pending() == []
    with pytest.raises(ValueError, match="in-process"):
        reply_to_json(respond(lambda r: say("x")))


def test_subprocess_mode_is_driven_over_the_control_api() -> None:
    with spawn() as fake:
        fake.push(
            say("from the script"),
            call_tool("exec_command", {"cmd": "echo hi"}, match=Match(dialect="openai-responses")),
        )
        creds = fake.credentials
        with anthropic.Anthropic(base_url=fake.base_url, api_key=creds.anthropic_key) as client:
            message = client.messages.create(
                model="claude-sonnet-4-6", max_tokens=9, messages=[{"role": "user", "content": "x"}]
            )
        with openai.OpenAI(base_url=fake.base_url + "/v1", api_key=creds.openai_key) as client:
            response = client.responses.create(model="gpt-5", input="run it")
        assert message.content[0].text == "from the script"  # type: ignore[union-attr]
        assert response.output[0].name == "exec_command"  # type: ignore[union-attr]
        seen = fake.requests
        assert [(r.method, r.path, r.status) for r in seen] == [
            ("POST", "/v1/messages", 200),
            ("POST", "/v1/responses", 200),
        ]
        assert seen[1].json["input"] == "run it"
        assert fake.anywhere(creds.openai_key)
        fake.clear_requests()
        assert fake.requests == []


async def test_deltas_are_paced_by_the_provider_or_the_reply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In-process, under aiohttp's TestServer; the sleeps are recorded, not waited for."""
    slept: list[float] = []

    async def record_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(wire, "sleep", record_sleep)
    provider = FakeProvider(delay=0.25)
    provider.script.push(say("abcdef"), say("abcdef", delay=0.0), say("abcdef", delay=1.5))
    headers = {"x-api-key": provider.credentials.anthropic_key, "anthropic-version": "2023-06-01"}
    body = {"model": "claude-sonnet-4-6", "max_tokens": 9, "messages": [], "stream": True}
    async with TestClient(TestServer(provider.app())) as client:
        for expected in ([0.25, 0.25], [], [1.5, 1.5]):
            slept.clear()
            async with client.post("/v1/messages", json=body, headers=headers) as response:
                assert "event: message_stop" in await response.text()
            assert slept == expected
