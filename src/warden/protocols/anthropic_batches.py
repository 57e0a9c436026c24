"""Anthropic's Message Batches: many Messages requests at once, answered later.

Request side: ``POST /v1/messages/batches`` carries ``requests``, each with
its ``params`` (a whole Messages request): every text in them is inspected
as in ``/v1/messages`` (:func:`iter_batch_slots`), so a batch is no way
around masking.

Response side: the results come back as a ``.jsonl`` file, one line per
request, ``{"custom_id": ..., "result": {"type": "succeeded", "message":
{...}}}``; each succeeded ``message`` is inspected like a non-streamed
answer (:func:`transform_result`). A result a blocking rule stops becomes
an ``errored`` result that says why, so the other lines still arrive.

The batch object names where its results are: ``results_url``, an absolute
URL at the provider, which the SDKs fetch as given. Left alone it would send
the agent (with its gateway token) to the provider directly, around the
gateway; :func:`rewrite_links` points it at the gateway's own path for the
same file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from warden.errors import Flavor, error_object
from warden.pipeline.chain import Pipeline
from warden.pipeline.types import Exchange, TextSlot
from warden.protocols import anthropic
from warden.protocols.base import Block, Patch, blocked_error

LINKS = "links"
"""``exchange.state`` key: (the upstream's base URL, the gateway's base URL
for this connection), set by the handler for operations that rewrite links."""


def iter_batch_slots(body: Any) -> Iterator[TextSlot]:
    """Every text of every request's ``params``, addressed from the body's root."""
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        return
    for i, entry in enumerate(body["requests"]):
        if isinstance(entry, dict) and isinstance(entry.get("params"), dict):
            prefix: tuple[str | int, ...] = ("requests", i, "params")
            for slot in anthropic.iter_slots(entry["params"]):
                yield replace(slot, path=(*prefix, *slot.path))


def rewrite_links(body: Any, exchange: Exchange, pipeline: Pipeline) -> None:
    """Point a batch's ``results_url`` (or every batch's, in a list) at the gateway."""
    links = exchange.state.get(LINKS)
    if links is None or not isinstance(body, dict):
        return None
    data = body.get("data")
    for batch in data if isinstance(data, list) else [body]:
        if isinstance(batch, dict) and isinstance(batch.get("results_url"), str):
            batch["results_url"] = gateway_url(batch["results_url"], *links)
            exchange.state["rewritten"] = True
    return None


def gateway_url(url: str, upstream: str, gateway: str) -> str:
    """``url``'s path and query under the gateway's base, whatever host it named.

    The upstream's own path prefix, if ``url`` starts with it, is dropped, as
    the gateway adds it again when it forwards."""
    parts = urlsplit(url)
    path = parts.path
    prefix = urlsplit(upstream).path.rstrip("/")
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        path = path[len(prefix) :]
    query = f"?{parts.query}" if parts.query else ""
    return f"{gateway.rstrip('/')}/{path.lstrip('/')}{query}"


def transform_result(line: Any, exchange: Exchange, pipeline: Pipeline) -> list[Patch] | None:
    """Inspect one results line in place (what is recorded); returns the
    patches of the agent's copy. A blocked message becomes an error result."""
    if not isinstance(line, dict):
        return None
    result = line.get("result")
    if not isinstance(result, dict) or result.get("type") != "succeeded":
        return None
    found = anthropic.transform_body(result.get("message"), exchange, pipeline) or []
    blocks = [item for item in found if isinstance(item, Block)]
    if blocks:
        error = error_object(blocked_error(blocks[0].decision), Flavor.ANTHROPIC)
        line["result"] = {"type": "errored", "error": error}
        return None
    patches = [item for item in found if isinstance(item, Patch)]
    return patches or None
