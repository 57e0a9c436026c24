"""Running a gateway in-process, in front of the fake provider, for tests.

The gateway runs on its own event loop in a thread so that the official
*sync* SDK clients can call it from the test's thread, exactly as an agent
would.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from aiohttp import web

from warden.config.loader import parse_config
from warden.config.model import Config
from warden.server.app import create_app
from warden.server.runtime import InspectorFactory

GATEWAY_TOKEN = "wdn-test-gateway-token-0001"


def gateway_config(upstream: str, *, extra: str = "", policy: str = "") -> str:
    """A config with the three connection types in front of ``upstream``; each
    call gets its own state directory (store, keys)."""
    state = tempfile.mkdtemp(prefix="warden-test-")
    return f"""
listen: 127.0.0.1:0
state_dir: {state}
tokens:
  - name: dev
    subject: dev
    groups: [developers]
    env: TEST_WARDEN_TOKEN
connections:
  claude:
    type: anthropic
    upstream: {upstream}
    credential: {{env: TEST_ANTHROPIC_KEY}}
  openai:
    type: openai
    upstream: {upstream}
    credential: {{env: TEST_OPENAI_KEY}}
  azure:
    type: azure-openai
    upstream: {upstream}
    api_version: 2024-10-21
    credential: {{env: TEST_AZURE_KEY}}
{extra}
{policy}
"""


@contextlib.contextmanager
def run_gateway(
    config: Config | str,
    *,
    env: dict[str, str] | None = None,
    factories: Sequence[InspectorFactory] = (),
    recorder: Any = None,
    approvals: Any = None,
) -> Iterator[tuple[str, web.Application]]:
    if isinstance(config, str):
        config = parse_config(config, env=env or {})
    ready = threading.Event()
    box: dict[str, Any] = {}
    stop: asyncio.Event | None = None
    loop = asyncio.new_event_loop()

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        if hasattr(recorder, "start"):  # the audit recorder runs on the gateway's loop
            await recorder.start()
        app = create_app(config, factories=factories, recorder=recorder, approvals=approvals)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=2)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        box["url"] = f"http://127.0.0.1:{port}"
        box["app"] = app
        ready.set()
        await stop.wait()
        await runner.cleanup()
        if hasattr(recorder, "stop"):
            await recorder.stop()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the gateway did not start")
    try:
        yield box["url"], box["app"]
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
