"""What the gateway records for each shape of exchange, through the SDKs and
into a real store: every exchange opens with one ``request`` that names who
sent it and closes with one ``end``; a whole response travels in its ``end``."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.audit.helpers import event_rows
from tests.fakes.provider import FakeProvider
from tests.fakes.script import say
from tests.helpers.gateway import GATEWAY_TOKEN, gateway_config, run_gateway
from warden.audit.recorder import Recorder
from warden.audit.store import Store, open_store_sync
from warden.audit.verify import verify
from warden.config.loader import parse_config
from warden.pipeline.record import RecordKind
from warden.pipeline.types import Exchange
from warden.server import inspectors

PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBXnT1xL0s2ZpW7QJd7pV9w8QeLrG0m4Z3cYH2bXw8cJAAAAJi4m6Vx\n"
    "-----END OPENSSH PRIVATE KEY-----"
)
EXTRA = """limits:
  max_body_bytes: 65536
policies:
  default:
    masking:
      actions: {private-key-block: block}
"""
WHO = {"subject", "groups", "auth_method", "client_address", "user_agent", "connection"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store_sync(f"sqlite:///{tmp_path / 'warden.db'}", state_dir=tmp_path)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def recorded(upstream: str, env: dict[str, str], store: Store) -> Iterator[tuple[str, Recorder]]:
    config = parse_config(gateway_config(upstream) + EXTRA, env=env)
    recorder = Recorder(store, mode="strict", instance_id="gw-test", batch_interval=0.05)
    factories = [inspectors.guardrails, inspectors.masking]
    with run_gateway(config, factories=factories, recorder=recorder) as (url, _):
        yield url, recorder


def exchanges(store: Store, count: int) -> list[list[tuple[str, dict[str, Any]]]]:
    """(kind, payload) of each exchange's events, in chain order, once ``count``
    exchanges have ended (a stream's end is stored after the client has it)."""
    deadline = time.monotonic() + 10
    while True:
        out: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for row in event_rows(store, "gw-test"):
            if row.exchange_id is None:  # admin events (the gateway's start)
                continue
            out.setdefault(row.exchange_id, []).append((row.kind, json.loads(row.payload)))
        ended = sum(events[-1][0] == "end" for events in out.values())
        if ended >= count or time.monotonic() > deadline:
            return list(out.values())
        time.sleep(0.02)


def claude(url: str, session: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=url + "/claude",
        api_key=GATEWAY_TOKEN,
        max_retries=0,
        default_headers={"x-warden-session": session},
    )


def test_a_whole_response_is_two_events(
    recorded: tuple[str, Recorder], provider: FakeProvider, store: Store
) -> None:
    url, _ = recorded
    provider.script.push(say("hello there"))
    claude(url, "s-whole").messages.create(
        model="claude-x", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    client = openai.OpenAI(base_url=url + "/openai/v1", api_key=GATEWAY_TOKEN, max_retries=0)
    provider.script.push(say("hi from chat"))
    client.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "hi"}])
    (first, second) = exchanges(store, 2)
    assert [kind for kind, _ in first] == ["request", "end"]
    request, end = first[0][1], first[1][1]
    assert set(request) >= WHO and request["subject"] == "dev"
    assert request["method"] == "POST" and request["operation"] == "messages"
    assert request["body"]["messages"] == [{"role": "user", "content": "hi"}]
    assert end["outcome"] == "ok" and end["status"] == 200
    assert end["content_type"] == "application/json"
    assert end["body"]["content"][0]["text"] == "hello there"
    assert [kind for kind, _ in second] == ["request", "end"]
    assert second[1][1]["body"]["choices"][0]["message"]["content"] == "hi from chat"
    assert verify(store).ok


def test_a_stream_opens_with_who_and_ends_once(
    recorded: tuple[str, Recorder], provider: FakeProvider, store: Store
) -> None:
    url, _ = recorded
    provider.script.push(say("streamed words"))
    with claude(url, "s-stream").messages.stream(
        model="claude-x", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        assert "".join(stream.text_stream) == "streamed words"
    (events,) = exchanges(store, 1)
    kinds = [kind for kind, _ in events]
    assert kinds[:2] == ["request", "response.start"] and kinds[-1] == "end"
    assert set(kinds[2:-1]) == {"response.event"}
    assert set(events[0][1]) >= WHO and events[0][1]["streaming"] is True
    assert "body" not in events[-1][1] and events[-1][1]["outcome"] == "ok"


def test_a_blocked_request_records_its_size_not_its_body(
    recorded: tuple[str, Recorder], provider: FakeProvider, store: Store
) -> None:
    url, _ = recorded
    with pytest.raises(anthropic.BadRequestError):
        claude(url, "s-blocked").messages.create(
            model="claude-x",
            max_tokens=20,
            messages=[{"role": "user", "content": f"use this key\n{PRIVATE_KEY}"}],
        )
    assert not provider.recorder.requests
    (events,) = exchanges(store, 1)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "request" and "decision" in kinds and kinds[-1] == "end"
    request = events[0][1]
    assert set(request) >= WHO and "body" not in request and request["bytes"] > 0
    assert "PRIVATE KEY" not in json.dumps([payload for _, payload in events])
    assert events[-1][1]["outcome"] == "blocked"


def test_a_refused_request_still_names_who_sent_it(
    recorded: tuple[str, Recorder], provider: FakeProvider, store: Store
) -> None:
    url, _ = recorded
    with pytest.raises(anthropic.APIStatusError) as caught:
        claude(url, "s-large").messages.create(
            model="claude-x", max_tokens=20, messages=[{"role": "user", "content": "x" * 70000}]
        )
    assert caught.value.status_code == 413
    (events,) = exchanges(store, 1)
    assert [kind for kind, _ in events] == ["request", "end"]
    request = events[0][1]
    assert set(request) >= WHO and request["path"] == "v1/messages"
    assert events[1][1]["status"] == 413 and events[1][1]["outcome"] == "error"


class _HeldEnd:
    """A recorder whose ``end`` record waits until the test opens ``gate``."""

    def __init__(self, *, strict: bool) -> None:
        self.strict = strict
        self.gate = threading.Event()
        self.ended = threading.Event()

    async def record(self, exchange: Exchange, kind: RecordKind, payload: dict[str, Any]) -> None:
        if kind is RecordKind.END:
            await asyncio.to_thread(self.gate.wait, 10)
            self.ended.set()

    async def settle(self, exchange: Exchange) -> None:
        return None

    def strict_for(self, exchange: Exchange) -> bool:
        return self.strict


def test_a_whole_answer_does_not_wait_for_its_record_in_best_effort(
    upstream: str, env: dict[str, str], provider: FakeProvider
) -> None:
    recorder = _HeldEnd(strict=False)
    provider.script.push(say("hello there"))
    with run_gateway(gateway_config(upstream), env=env, recorder=recorder) as (url, _):
        reply = claude(url, "s-quick").messages.create(
            model="claude-x", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.content[0].text == "hello there"  # type: ignore[union-attr]
        assert not recorder.ended.is_set()  # answered while its record was held
        recorder.gate.set()
        assert recorder.ended.wait(10)


def test_a_whole_answer_waits_for_its_record_in_strict_mode(
    upstream: str, env: dict[str, str], provider: FakeProvider
) -> None:
    recorder = _HeldEnd(strict=True)
    provider.script.push(say("hello there"))
    with run_gateway(gateway_config(upstream), env=env, recorder=recorder) as (url, _):
        with ThreadPoolExecutor(1) as pool:
            asked = pool.submit(
                claude(url, "s-strict").messages.create,
                model="claude-x",
                max_tokens=20,
                messages=[{"role": "user", "content": "hi"}],
            )
            time.sleep(0.3)  # room for an answer that did not wait to arrive
            assert not asked.done()
            recorder.gate.set()
            assert asked.result(10).content[0].text == "hello there"  # type: ignore[union-attr]


def test_recorded_events_keep_line_separators_inside_json(
    recorded: tuple[str, Recorder], provider: FakeProvider, store: Store
) -> None:
    """JSON carries U+2028 and U+0085 raw inside a string: they are not line
    ends of the event, and the record keeps the text whole."""
    url, _ = recorded
    reply = "one\u2028two and three\u0085four"
    provider.script.push(say(reply))
    with claude(url, "s-separators").messages.stream(
        model="claude-x", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        assert "".join(stream.text_stream) == reply
    (events,) = exchanges(store, 1)
    texts = [
        json.loads(event["data"])["delta"]["text"]
        for kind, payload in events
        if kind == "response.event"
        for event in payload["events"]
        if event.get("event") == "content_block_delta"
    ]
    assert "".join(texts) == reply
