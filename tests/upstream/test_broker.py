"""Scrubbing the upstream credential out of what comes back, whole or in pieces."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warden.config.model import ConnectionConfig
from warden.upstream.broker import SCRUBBED, Broker

KEY = "sk-ant-api03-" + "Q" * 80


def broker_for(monkeypatch: pytest.MonkeyPatch, key: str = KEY) -> Broker:
    monkeypatch.setenv("TEST_BROKER_KEY", key)
    config = ConnectionConfig.model_validate(
        {"type": "anthropic", "upstream": "http://up", "credential": {"env": "TEST_BROKER_KEY"}}
    )
    return Broker(config, session=None)  # type: ignore[arg-type]  # unused: no Entra


async def sent(broker: Broker) -> str:
    headers = await broker.headers({"x-api-key": "the agent's gateway token"})
    return headers["x-api-key"]


@given(
    body=st.binary(max_size=300)
    | st.lists(st.sampled_from([b"data: x\n", b"\n", b"ab"])).map(b"".join),
    at=st.integers(0, 300),
    echo_at=st.none() | st.integers(0, 300),
    cuts=st.lists(st.integers(1, 500)),
)
async def test_a_credential_split_across_reads_is_scrubbed(
    body: bytes, at: int, echo_at: int | None, cuts: list[int]
) -> None:
    """Any split of a body gives what scrubbing it whole gives."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        broker = broker_for(monkeypatch)
        assert await sent(broker) == KEY
    if echo_at is not None:  # a starred echo, as in a provider's 401
        echo_at = min(echo_at, len(body))
        body = body[:echo_at] + b"sk-ant-api03-****QQQQ" + body[echo_at:]
    at = min(at, len(body))
    wire = body[:at] + KEY.encode() + body[at:]
    scrubber = broker.scrubber()
    out = b""
    start = 0
    for cut in sorted(set(cuts)):
        out += scrubber.feed(wire[start:cut])
        start = max(start, cut)
    out += scrubber.feed(wire[start:]) + scrubber.finish()
    assert out == broker.scrub(wire)
    assert KEY.encode() not in out and SCRUBBED in out


async def test_a_starred_echo_split_across_reads_is_scrubbed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = broker_for(monkeypatch)
    await sent(broker)
    scrubber = broker.scrubber()
    out = scrubber.feed(b'{"error": "invalid key sk-ant-api03-****') + scrubber.feed(b'QQQQ"}')
    out += scrubber.finish()
    assert out == b'{"error": "invalid key ' + SCRUBBED + b'"}'


async def test_only_the_latest_credentials_are_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An Entra token changes hourly: scrubbing must not slow down over months."""
    broker = broker_for(monkeypatch)
    for n in range(20):
        monkeypatch.setenv("TEST_BROKER_KEY", f"token-number-{n:04d}")
        await sent(broker)
    assert broker.scrub(b"token-number-0019 token-number-0012") == SCRUBBED + b" " + SCRUBBED
    assert broker.scrub(b"token-number-0011") == b"token-number-0011"
