"""Small wire helpers the dialects share: ids, JSON bodies, SSE frames with pacing."""

from __future__ import annotations

import email
import email.policy
import json
import secrets
import string
from asyncio import sleep
from typing import Any

from aiohttp import web

_BASE62 = string.digits + string.ascii_letters


def token(length: int, alphabet: str = _BASE62) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=compact(body).encode(),
        content_type="application/json",
        headers=headers,
    )


class SseStream:
    """Writes server-sent events, pausing `delay` seconds after each delta."""

    def __init__(self, response: web.StreamResponse, delay: float) -> None:
        self._response = response
        self._delay = delay

    @classmethod
    async def open(cls, request: web.Request, delay: float, headers: dict[str, str]) -> SseStream:
        response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                **headers,
            },
        )
        await response.prepare(request)
        return cls(response, delay)

    async def send(self, data: Any, event: str | None = None) -> None:
        payload = data if isinstance(data, str) else compact(data)
        frame = f"event: {event}\ndata: {payload}\n\n" if event else f"data: {payload}\n\n"
        await self._response.write(frame.encode())

    async def pace(self) -> None:
        if self._delay > 0:
            await sleep(self._delay)

    async def close(self) -> web.StreamResponse:
        await self._response.write_eof()
        return self._response


async def form_fields(request: web.Request) -> dict[str, tuple[str | None, str | None, bytes]]:
    """A multipart/form-data body as name -> (file name, content type, bytes).

    Parsed from the body bytes (the recording middleware has read the stream
    already, so aiohttp's ``request.post()`` would find it empty)."""
    raw = await request.read()
    head = f"Content-Type: {request.headers.get('Content-Type', '')}\r\n\r\n".encode()
    message = email.message_from_bytes(head + raw, policy=email.policy.HTTP)
    if not message.is_multipart():
        return {}
    fields: dict[str, tuple[str | None, str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            kind = part.get_content_type() if part.get("content-type") else None
            fields[name] = (part.get_filename(), kind, payload)
    return fields
