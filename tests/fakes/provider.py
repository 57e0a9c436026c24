"""A faithful fake of the Anthropic, OpenAI and Azure OpenAI APIs, for tests and benchmarks.

In-process::

    provider = FakeProvider()
    provider.script.push(say("hello"), call_tool("Bash", {"command": "echo hi"}))
    async with TestServer(provider.app()) as server: ...   # or: with serve(provider) as url: ...
    provider.recorder.requests                              # everything it received

As a subprocess (drive it over `/_fake/` with tests.fakes.control.RemoteProvider)::

    python -m tests.fakes.provider --port 0     # prints "fake provider listening on URL"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from tests.fakes import anthropic_api, azure, openai_chat, openai_responses
from tests.fakes.openai_chat import Handler
from tests.fakes.recording import Recorder, record
from tests.fakes.script import Reply, Script, reply_from_json

CONTROL = "/_fake/"


@dataclass
class Credentials:
    """The REAL upstream credentials: only the gateway should ever hold these."""

    anthropic_key: str = "sk-ant-api03-fake-real-anthropic-key-0000"
    openai_key: str = "sk-proj-fake-real-openai-key-0000"
    azure_key: str = "fake-real-azure-resource-key-0000"
    azure_tenant: str = "00000000-0000-4000-8000-0000000000aa"
    azure_client_id: str = "11111111-1111-4111-8111-111111111111"
    azure_client_secret: str = "fake-real-client-secret-0000"
    azure_token_lifetime: int = 3599


class FakeProvider:
    def __init__(self, credentials: Credentials | None = None, *, delay: float = 0.0) -> None:
        self.credentials = credentials or Credentials()
        self.delay = delay
        self.script = Script()
        self.recorder = Recorder()
        self.entra = azure.EntraTokens()
        self.stored: dict[str, dict[str, Any]] = {}
        """Responses (``store`` defaults to true) and chat completions created
        with ``store: true``, by id, as the API keeps them for retrieval."""

    def pacing(self, reply: Reply) -> float:
        return self.delay if reply.delay is None else reply.delay

    def reset(self) -> None:
        self.script.clear()
        self.recorder.clear()
        self.stored.clear()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record], client_max_size=64 * 1024 * 1024)
        grouped: dict[tuple[str, str], list[Handler]] = {}
        for module in (anthropic_api, openai_chat, openai_responses, azure):
            for method, path, handler in module.routes(self):
                grouped.setdefault((method, path), []).append(handler)
        for (method, path), handlers in grouped.items():
            app.router.add_route(method, path, by_dialect(handlers))
        app.router.add_routes(control_routes(self))
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL):
            return await handler(request)
        recorded = await record(request)
        self.recorder.add(recorded)
        try:
            response = await handler(request)
        except web.HTTPException as error:
            self.recorder.answered(recorded, error.status)
            raise
        self.recorder.answered(recorded, response.status)
        return response


def by_dialect(handlers: list[Handler]) -> Handler:
    """Anthropic and OpenAI share `/v1/models`: the Anthropic headers decide."""
    if len(handlers) == 1:
        return handlers[0]
    anthropic, openai = handlers

    async def pick(request: web.Request) -> web.StreamResponse:
        if "x-api-key" in request.headers or "anthropic-version" in request.headers:
            return await anthropic(request)
        return await openai(request)

    return pick


def control_routes(provider: FakeProvider) -> list[web.RouteDef]:
    async def push(request: web.Request) -> web.Response:
        body = await request.json()
        provider.script.push(*(reply_from_json(r) for r in body["replies"]))
        return web.json_response({"pending": len(provider.script.pending())})

    async def clear_script(request: web.Request) -> web.Response:
        provider.script.clear()
        return web.json_response({"pending": 0})

    async def requests(request: web.Request) -> web.Response:
        return web.json_response({"requests": [r.to_json() for r in provider.recorder.requests]})

    async def clear_requests(request: web.Request) -> web.Response:
        provider.recorder.clear()
        return web.json_response({"requests": []})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    return [
        web.post(CONTROL + "script", push),
        web.delete(CONTROL + "script", clear_script),
        web.get(CONTROL + "requests", requests),
        web.delete(CONTROL + "requests", clear_requests),
        web.get(CONTROL + "health", health),
    ]


@contextlib.contextmanager
def serve(provider: FakeProvider, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serves `provider` from a background thread; yields its base URL.

    For tests that block (sync SDK clients, subprocesses) while the fake must answer.
    """
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(provider.app(), access_log=None)
    started = threading.Event()
    stopped: asyncio.Event | None = None
    address: list[Any] = []

    async def main() -> None:
        nonlocal stopped
        stopped = asyncio.Event()
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        address.extend(runner.addresses[0][:2])
        started.set()
        await stopped.wait()
        await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait()
    try:
        yield f"http://{address[0]}:{address[1]}"
    finally:
        assert stopped is not None
        loop.call_soon_threadsafe(stopped.set)
        thread.join()
        loop.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.provider",
        description="Fake Anthropic/OpenAI/Azure provider. Credentials come from FAKE_<FIELD> "
        "env vars (FAKE_ANTHROPIC_KEY, FAKE_OPENAI_KEY, FAKE_AZURE_KEY, FAKE_AZURE_TENANT, "
        "FAKE_AZURE_CLIENT_ID, FAKE_AZURE_CLIENT_SECRET, FAKE_AZURE_TOKEN_LIFETIME).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between deltas")
    args = parser.parse_args(argv)
    defaults = asdict(Credentials())
    credentials = Credentials(
        **{
            name: type(value)(os.environ[env])
            for name, value in defaults.items()
            if (env := "FAKE_" + name.upper()) in os.environ
        }
    )
    asyncio.run(run_forever(FakeProvider(credentials, delay=args.delay), args.host, args.port))


async def run_forever(provider: FakeProvider, host: str, port: int) -> None:
    runner = web.AppRunner(provider.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound_host, bound_port = runner.addresses[0][:2]
    print(f"fake provider listening on http://{bound_host}:{bound_port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    main()
