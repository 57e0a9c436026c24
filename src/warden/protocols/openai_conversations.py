"""OpenAI's Conversations API: a conversation's items, kept by the provider.

Items have the shape of Responses input and output items. What the agent
adds (``POST /conversations`` with ``items``, ``POST /conversations/{id}/items``)
is inspected like a Responses ``input`` (:func:`iter_conversation_slots`);
what it reads back (the items list, one item, the items a create returns)
holds the model's answers too, so every item is inspected like Responses
output (:func:`transform_items`). Conversation objects themselves (an id,
metadata) carry no text and pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from warden.pipeline.chain import Pipeline
from warden.pipeline.types import Exchange, TextSlot
from warden.protocols.base import Block, Patch
from warden.protocols.openai_responses import transform_responses_body
from warden.protocols.openai_responses_request import iter_responses_slots


def iter_conversation_slots(body: Any) -> Iterator[TextSlot]:
    """The texts of ``items``, as in a Responses ``input``, addressed under ``items``."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return
    for slot in iter_responses_slots({"input": body["items"]}):
        yield replace(slot, path=("items", *slot.path[1:]))


def transform_items(
    body: Any, exchange: Exchange, pipeline: Pipeline
) -> list[Block] | list[Patch] | None:
    """A list of items (``data``) or one item, inspected in place like the
    ``output`` of a Responses answer."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("data"), list):
        return transform_responses_body({"output": body["data"]}, exchange, pipeline)
    if isinstance(body.get("type"), str):
        items = [body]
        found = transform_responses_body({"output": items}, exchange, pipeline)
        if items[0] is not body:  # the item was rebuilt (a denied call): keep its new form
            body.clear()
            body.update(items[0])
            exchange.state["rewritten"] = True
        return found
    return None
