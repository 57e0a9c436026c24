"""OpenAI's Batch API output: a batch's answers, fetched as a file.

A batch's results are a JSON Lines file (``GET /files/{id}/content`` of its
``output_file_id``), one line per request: ``{"id", "custom_id", "response":
{"status_code", "request_id", "body"}, "error"}``, ``body`` being the answer
the endpoint would have given (a chat completion, a Response, a text
completion). Each is inspected as that endpoint's non-streamed answer is.
An answer a blocking rule stops becomes a ``400`` with the error in
OpenAI's format in its place, so the other lines still arrive.

The download endpoint serves every kind of file, so which downloads are
batch output is read from the first line (:func:`is_output_line`); any
other file passes as it is. (The batch input side is :mod:`uploads`.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from warden.errors import Flavor, error_object
from warden.pipeline.chain import Pipeline
from warden.pipeline.types import Exchange
from warden.protocols.base import Block, Patch, blocked_error
from warden.protocols.openai_chat import transform_chat_body
from warden.protocols.openai_completions import transform_completion_body
from warden.protocols.openai_responses import transform_responses_body

_ANSWERS: dict[str, Callable[[Any, Exchange, Pipeline], list[Block] | list[Patch] | None]] = {
    "chat.completion": transform_chat_body,
    "response": transform_responses_body,
    "text_completion": transform_completion_body,
}
"""An answer's ``object`` -> how that endpoint's whole answer is inspected."""


def is_output_line(line: bytes) -> bool:
    """Whether a file's first line is a batch output (or error) line."""
    try:
        data = json.loads(line)
    except ValueError:
        return False
    return isinstance(data, dict) and "custom_id" in data and "response" in data


def transform_output_line(line: Any, exchange: Exchange, pipeline: Pipeline) -> list[Patch] | None:
    """Inspect one output line's answer in place (what is recorded); returns
    the patches of the agent's copy."""
    response = line.get("response") if isinstance(line, dict) else None
    body = response.get("body") if isinstance(response, dict) else None
    if not isinstance(response, dict) or not isinstance(body, dict):
        return None
    transform = _ANSWERS.get(str(body.get("object")))
    if transform is None:
        return None
    found = transform(body, exchange, pipeline) or []
    blocks = [item for item in found if isinstance(item, Block)]
    if blocks:
        error = blocked_error(blocks[0].decision)
        response["status_code"] = error.status
        response["body"] = error_object(error, Flavor.OPENAI)
        return None
    patches = [item for item in found if isinstance(item, Patch)]
    return patches or None
