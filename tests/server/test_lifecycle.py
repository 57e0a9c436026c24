"""The gateway as a process: health, reload, logs, disconnects, shutdown."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import anthropic
import openai
import pytest
from aiohttp import web

from tests.fakes.provider import Credentials, FakeProvider
from tests.fakes.script import say
from tests.helpers.gateway import GATEWAY_TOKEN, gateway_config, run_gateway
from warden.server.keys import STATE
from warden.server.logs import JsonFormatter

MSG = [{"role": "user", "content": "hi"}]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_health_ready_and_metrics(gateway: str, provider: FakeProvider) -> None:
    assert get(gateway + "/healthz") == (200, '{"status": "ok"}')
    status, body = get(gateway + "/readyz")
    assert status == 200 and json.loads(body)["status"] == "ready"
    provider.script.push(say("x"))
    anthropic.Anthropic(base_url=gateway + "/claude", api_key=GATEWAY_TOKEN).messages.create(
        model="claude-x", max_tokens=5, messages=MSG
    )
    status, text = get(gateway + "/metrics")
    assert status == 200
    assert 'warden_exchanges_total{connection="claude",status="200",outcome="ok"} 1' in text


class SlowUpstream:
    """An SSE upstream that streams forever and notes when its client left."""

    def __init__(self) -> None:
        self.client_left = threading.Event()

    async def handler(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        start = {"type": "message_start", "message": {"id": "m", "content": []}}
        block = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        delta = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "x"},
        }
        try:
            await response.write(f"event: message_start\ndata: {json.dumps(start)}\n\n".encode())
            await response.write(
                f"event: content_block_start\ndata: {json.dumps(block)}\n\n".encode()
            )
            for _ in range(400):
                await response.write(
                    f"event: content_block_delta\ndata: {json.dumps(delta)}\n\n".encode()
                )
                await asyncio.sleep(0.02)
        except (ConnectionResetError, asyncio.CancelledError):
            self.client_left.set()
            raise
        return response


@pytest.fixture
def slow_upstream() -> Iterator[tuple[str, SlowUpstream]]:
    upstream = SlowUpstream()
    app = web.Application()
    app.router.add_post("/v1/messages", upstream.handler)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, handler_cancellation=True)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", upstream
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_client_disconnect_cancels_the_upstream(
    slow_upstream: tuple[str, SlowUpstream], env: dict[str, str]
) -> None:
    url, upstream = slow_upstream
    with run_gateway(gateway_config(url), env=env) as (gateway, _):

        async def read_a_little_then_leave() -> None:
            async with aiohttp.ClientSession() as session:
                async with session.post(
                    gateway + "/claude/v1/messages",
                    json={"model": "claude-x", "max_tokens": 5, "messages": MSG, "stream": True},
                    headers={"x-api-key": GATEWAY_TOKEN},
                ) as reply:
                    assert reply.status == 200
                    await reply.content.readuntil(b"text_delta")

        asyncio.run(read_a_little_then_leave())
        assert upstream.client_left.wait(5), "the upstream request was not cancelled"
        outcome = 'connection="claude",status="200",outcome="cancelled"'
        for _ in range(50):
            if outcome in get(gateway + "/metrics")[1]:
                break
            time.sleep(0.1)
        assert outcome in get(gateway + "/metrics")[1], "a disconnect is not an upstream error"


def test_reload_swaps_atomically_and_refuses_a_bad_file(
    tmp_path: Path, upstream: str, env: dict[str, str], provider: FakeProvider
) -> None:
    from warden.config.loader import load_config

    path = tmp_path / "warden.yaml"
    path.write_text(gateway_config(upstream))
    config = load_config(path)
    with run_gateway(config) as (url, app):
        state = app[STATE]
        first = state.runtime
        path.write_text("connections: [this is not a mapping")
        assert state.reload() is False
        assert state.runtime is first
        path.write_text(gateway_config(upstream).replace("  openai:\n", "  openai2:\n"))
        assert state.reload() is True
        assert "openai2" in state.runtime.connections
        assert state.runtime.generation == first.generation + 1
        provider.script.push(say("after reload"))
        client = openai.OpenAI(base_url=url + "/openai2/v1", api_key=GATEWAY_TOKEN, max_retries=0)
        reply = client.chat.completions.create(model="gpt-x", messages=MSG)
        assert reply.choices[0].message.content == "after reload"


def test_logs_carry_no_payloads_or_credentials(
    gateway: str, provider: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    secret_text = "the launch code is tangerine-42"
    provider.script.push(say(secret_text))
    caplog.set_level(logging.DEBUG)
    anthropic.Anthropic(base_url=gateway + "/claude", api_key=GATEWAY_TOKEN).messages.create(
        model="claude-x",
        max_tokens=5,
        messages=[{"role": "user", "content": "tell me " + secret_text}],
    )
    for _ in range(100):  # the answer goes out before its log line is written
        ours = [r for r in caplog.records if r.name.startswith(("warden", "aiohttp"))]
        lines = [JsonFormatter().format(record) for record in ours]
        exchange = [json.loads(line) for line in lines if '"msg":"exchange"' in line]
        if exchange:
            break
        time.sleep(0.05)
    assert exchange and exchange[0]["status"] == 200 and exchange[0]["subject"] == "dev"
    joined = "\n".join(lines)
    for forbidden in (secret_text, "tangerine", GATEWAY_TOKEN, Credentials().anthropic_key):
        assert forbidden not in joined


def test_azure_entra_service_principal(
    upstream: str, env: dict[str, str], provider: FakeProvider
) -> None:
    creds = Credentials()
    os.environ["TEST_ENTRA_SECRET"] = creds.azure_client_secret
    try:
        config = gateway_config(upstream).replace(
            "    credential: {env: TEST_AZURE_KEY}",
            f"""    entra:
      tenant_id: {creds.azure_tenant}
      client_id: {creds.azure_client_id}
      client_secret: {{env: TEST_ENTRA_SECRET}}
      authority: {upstream}""",
        )
        provider.script.push(say("via entra"), say("again"))
        with run_gateway(config, env=env) as (url, _):
            client = openai.AzureOpenAI(
                azure_endpoint=url + "/azure",
                api_key=GATEWAY_TOKEN,
                api_version="2024-10-21",
                max_retries=0,
            )
            for expected in ("via entra", "again"):
                reply = client.chat.completions.create(model="gpt-4o", messages=MSG)
                assert reply.choices[0].message.content == expected
    finally:
        del os.environ["TEST_ENTRA_SECRET"]
    token_calls = [r for r in provider.recorder.requests if r.path.endswith("/oauth2/v2.0/token")]
    assert len(token_calls) == 1, "the Entra token is cached"
    data = [r for r in provider.recorder.requests if "deployments" in r.path]
    assert all((r.header("authorization") or "").startswith("Bearer ey") for r in data)
    assert not any(r.contains(creds.azure_client_secret) for r in data)


def test_reserved_connection_names_are_refused_at_load(upstream: str, env: dict[str, str]) -> None:
    """Before anything is served (and on reload: the old config keeps serving)."""
    from warden.config.loader import ConfigError, parse_config

    with pytest.raises(ConfigError, match="taken by the gateway's own /metrics routes"):
        parse_config(gateway_config(upstream).replace("  openai:\n", "  metrics:\n"), env=env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_graceful_shutdown_lets_open_streams_finish(
    tmp_path: Path, upstream: str, env: dict[str, str], provider: FakeProvider
) -> None:
    port = _free_port()
    path = tmp_path / "warden.yaml"
    path.write_text(gateway_config(upstream).replace("127.0.0.1:0", f"127.0.0.1:{port}"))
    process = subprocess.Popen(
        [sys.executable, "-m", "warden", "serve", "-c", str(path)],
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if get(base + "/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        text = "word " * 40
        provider.script.push(say(text, delay=0.02))
        client = anthropic.Anthropic(
            base_url=base + "/claude", api_key=GATEWAY_TOKEN, max_retries=0
        )
        with client.messages.stream(model="claude-x", max_tokens=500, messages=MSG) as stream:
            received = []
            for piece in stream.text_stream:
                if not received:
                    process.send_signal(signal.SIGTERM)
                received.append(piece)
        assert "".join(received) == text
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate(timeout=10)
    assert '"msg":"shutting down"' in stderr


class FloodUpstream:
    """Streams as fast as the connection allows and counts what it wrote."""

    def __init__(self) -> None:
        self.written = 0

    async def handler(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        start = {"type": "message_start", "message": {"id": "m", "content": []}}
        block = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        text = "y" * 4000
        delta = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": text},
        }
        event = f"event: content_block_delta\ndata: {json.dumps(delta)}\n\n".encode()
        await response.write(f"event: message_start\ndata: {json.dumps(start)}\n\n".encode())
        await response.write(f"event: content_block_start\ndata: {json.dumps(block)}\n\n".encode())
        try:
            for _ in range(50_000):  # 200 MB if nothing pushed back
                await response.write(event)
                self.written += len(event)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response


def test_a_client_that_stops_reading_stops_the_upstream(env: dict[str, str]) -> None:
    upstream = FloodUpstream()
    app = web.Application()
    app.router.add_post("/v1/messages", upstream.handler)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, handler_cancellation=True)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        with run_gateway(gateway_config(f"http://127.0.0.1:{port}"), env=env) as (gateway, _):
            body = json.dumps(
                {"model": "claude-x", "max_tokens": 5, "messages": MSG, "stream": True}
            ).encode()
            sock = socket.create_connection(("127.0.0.1", int(gateway.rsplit(":", 1)[1])))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            sock.sendall(
                b"POST /claude/v1/messages HTTP/1.1\r\nHost: x\r\n"
                + b"Content-Type: application/json\r\n"
                + f"x-api-key: {GATEWAY_TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            sock.recv(1024)  # the stream started; now read nothing more
            settled = -1
            for _ in range(50):
                time.sleep(0.1)
                if upstream.written == settled:
                    break
                settled = upstream.written
            # Socket buffers on both legs hold a few MB at most; without
            # back-pressure the upstream would have pushed all 200 MB.
            assert upstream.written < 32 * 1024 * 1024
            sock.close()
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
