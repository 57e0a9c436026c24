"""Reading a body whole when it arrives in pieces."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestServer

from warden.httpio import read_up_to

Reader = Callable[[web.Request], Awaitable[bytes]]


async def received(read: Reader, *parts: bytes) -> bytes:
    """What ``read`` gets of a body sent in ``parts``, each its own write."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=await read(request))

    app = web.Application()
    app.router.add_post("/", handler)
    async with TestServer(app) as server:
        assert server.port is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        size = sum(map(len, parts))
        writer.write(
            f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        for part in parts:
            await writer.drain()
            await asyncio.sleep(0.02)
            writer.write(part)
        answer = await reader.read()
        writer.close()
    return answer.split(b"\r\n\r\n", 1)[1]


async def test_stream_read_alone_stops_at_the_first_piece() -> None:
    """Why the helper exists."""
    assert await received(lambda r: r.content.read(100), b"abc", b"def") == b"abc"


async def test_every_piece_is_read() -> None:
    body = await received(lambda r: read_up_to(r.content, 100), b"abc", b"def", b"gh")
    assert body == b"abcdefgh"


async def test_reading_stops_at_the_size() -> None:
    body = await received(lambda r: read_up_to(r.content, 5), b"abc", b"def", b"gh")
    assert body == b"abcde"
