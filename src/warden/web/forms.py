"""Reading small request bodies safely: capped before parsing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from warden.httpio import read_up_to

FORM_LIMIT = 64 * 1024


async def read_form(request: web.Request, limit: int = FORM_LIMIT) -> dict[str, str] | None:
    """An urlencoded body of at most ``limit`` bytes; ``None`` if larger or malformed."""
    declared = request.content_length
    if declared is not None and declared > limit:
        return None
    body = await read_up_to(request.content, limit + 1)
    if len(body) > limit:
        return None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        return None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            return None  # RFC 6749 §3.1: parameters must not repeat
        form[key] = value
    return form


async def read_json(request: web.Request, limit: int = FORM_LIMIT) -> dict[str, Any] | None:
    body = await read_up_to(request.content, limit + 1)
    if len(body) > limit:
        return None
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
