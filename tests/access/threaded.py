"""A gateway's auth routes on an event loop in a thread, for tests of the sync CLI,
and a browser (urllib with a cookie jar) to sign in with a local account."""

from __future__ import annotations

import asyncio
import http.cookiejar
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from tests.access.support import free_port
from warden.access.config import IdentityConfig
from warden.access.service import AccessService, ConnectionAccess
from warden.web.auth_api import add_routes

T = TypeVar("T")


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@contextmanager
def threaded_gateway(
    identity: IdentityConfig,
    *,
    store_url: str,
    state_dir: Path,
    connections: dict[str, ConnectionAccess] | None = None,
) -> Iterator[tuple[str, AccessService, LoopThread]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service = AccessService(
        identity, issuer=url, state_dir=state_dir, store_url=store_url, connections=connections
    )
    app = web.Application()
    add_routes(app, service)
    runner = web.AppRunner(app)
    loop = LoopThread()

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    loop.run(start())
    try:
        yield url, service, loop
    finally:
        loop.run(runner.cleanup())
        loop.stop()


def browser_sign_in(verification_url: str, username: str, password: str) -> str:
    """What a person does in the browser after `warden login`: confirm, sign in."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def fetch(url: str, data: bytes | None = None) -> str:
        with opener.open(url, data=data) as response:
            text: str = response.read().decode()
            return text

    page = fetch(verification_url)
    csrf = re.search(r"name=csrf value='([^']+)'", page)
    code = re.search(r"name=user_code value='([^']+)'", page)
    assert csrf is not None and code is not None, page
    origin = verification_url.split("/auth/", 1)[0]
    form = urllib.parse.urlencode(
        {"csrf": csrf.group(1), "user_code": code.group(1), "method": "local"}
    ).encode()
    page = fetch(f"{origin}/auth/device", form)
    state = re.search(r"name=state value='([^']+)'", page)
    assert state is not None, page
    form = urllib.parse.urlencode(
        {"state": state.group(1), "username": username, "password": password}
    ).encode()
    return fetch(f"{origin}/auth/login/local", form)
