"""The OpenAI Responses API (`POST /v1/responses`), JSON and the streamed event sequence."""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.openai_chat import (
    ApiError,
    Authorize,
    Handler,
    bearer_auth,
    guarded,
    last_user_text,
    read_json,
    request_id,
)
from tests.fakes.script import (
    Failure,
    ModelRequest,
    Reply,
    Text,
    Thinking,
    ToolCall,
    estimate_tokens,
    pieces,
)
from tests.fakes.wire import SseStream, json_response, token

if TYPE_CHECKING:
    from tests.fakes.provider import FakeProvider

_HEX = "0123456789abcdef"


def item_id(prefix: str) -> str:
    return prefix + "_" + token(48, _HEX)


def user_text(items: Any) -> str:
    if isinstance(items, str):
        return items
    messages = [i for i in items if isinstance(i, dict) and "role" in i]
    return last_user_text(messages)


def output_item(block: Thinking | Text | ToolCall, encrypted: bool) -> dict[str, Any]:
    if isinstance(block, Thinking):
        item: dict[str, Any] = {
            "id": item_id("rs"),
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": block.thinking}],
        }
        if encrypted:
            item["encrypted_content"] = block.signature
        return item
    if isinstance(block, Text):
        return {
            "id": item_id("msg"),
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": block.text, "annotations": [], "logprobs": []}
            ],
        }
    return {
        "id": item_id("fc"),
        "type": "function_call",
        "status": "completed",
        "arguments": json.dumps(block.arguments),
        "call_id": block.id or "call_" + token(24),
        "name": block.name,
    }


def response_object(body: dict[str, Any], rid: str, reply: Reply) -> dict[str, Any]:
    encrypted = "reasoning.encrypted_content" in (body.get("include") or [])
    output = [output_item(b, encrypted) for b in reply.blocks]
    prompt = estimate_tokens(body.get("input"))
    completion = max(1, sum(estimate_tokens(i) for i in output))
    reasoning = sum(estimate_tokens(b.thinking) for b in reply.blocks if isinstance(b, Thinking))
    return {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body["model"],
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": prompt + completion,
        },
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def responses(provider: FakeProvider, authorize: Authorize) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = await read_json(request, ("model",))
        if "input" not in body and "previous_response_id" not in body:
            raise ApiError(400, "Missing required parameter: 'input'.", param="input")
        reply = provider.script.next_for(
            ModelRequest(
                dialect="openai-responses",
                model=body["model"],
                has_tools=bool(body.get("tools")),
                last_user_text=user_text(body.get("input", "")),
                body=body,
            )
        )
        failure = reply.failure
        streaming = bool(body.get("stream"))
        if failure is not None and (failure.after_deltas is None or not streaming):
            raise ApiError.scripted(failure)
        full = response_object(body, item_id("resp"), reply)
        if full["store"]:
            provider.stored[full["id"]] = full
        conversation = body.get("conversation")
        if isinstance(conversation, str):
            # The turn joins the conversation: what was sent, then what came back.
            items = find_conversation(provider, conversation)["items"]
            items.extend(as_items(body.get("input", [])))
            items.extend(full["output"])
        if not streaming:
            return json_response(full, headers={"x-request-id": request_id()})
        return await stream_response(request, provider.pacing(reply), full, failure)

    return guarded(authorize, handle)


class _Events:
    """Numbers every event and counts deltas so a scripted failure can cut in."""

    def __init__(self, sse: SseStream, failure: Failure | None) -> None:
        self.sse = sse
        self.failure = failure
        self.sequence = 0
        self.deltas = 0

    async def send(self, kind: str, **fields: Any) -> None:
        await self.sse.send({"type": kind, "sequence_number": self.sequence, **fields}, kind)
        self.sequence += 1

    async def delta(self, kind: str, **fields: Any) -> bool:
        """Sends a delta; False when the scripted failure fires instead."""
        if self.failure is not None and self.deltas == self.failure.after_deltas:
            return False
        await self.send(kind, **fields)
        self.deltas += 1
        await self.sse.pace()
        return True


async def stream_response(
    request: web.Request, delay: float, full: dict[str, Any], failure: Failure | None
) -> web.StreamResponse:
    sse = await SseStream.open(request, delay, {"x-request-id": request_id()})
    events = _Events(sse, failure)
    pending = {**full, "status": "in_progress", "output": [], "usage": None}
    await events.send("response.created", response=pending)
    await events.send("response.in_progress", response=pending)
    for index, item in enumerate(full["output"]):
        if not await stream_item(events, index, item):
            assert failure is not None
            error = {"code": "server_error", "message": failure.message}
            failed = {**pending, "status": "failed", "error": error}
            await events.send("response.failed", response=failed)
            return await sse.close()
    await events.send("response.completed", response=full)
    return await sse.close()


async def stream_item(events: _Events, index: int, item: dict[str, Any]) -> bool:
    where = {"item_id": item["id"], "output_index": index}
    if item["type"] == "message":
        text = item["content"][0]["text"]
        empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        opened = {**item, "status": "in_progress", "content": []}
        await events.send("response.output_item.added", output_index=index, item=opened)
        await events.send("response.content_part.added", **where, content_index=0, part=empty)
        for piece in pieces(text):
            kind = "response.output_text.delta"
            if not await events.delta(kind, **where, content_index=0, delta=piece, logprobs=[]):
                return False
        await events.send(
            "response.output_text.done", **where, content_index=0, text=text, logprobs=[]
        )
        await events.send(
            "response.content_part.done", **where, content_index=0, part=item["content"][0]
        )
    elif item["type"] == "function_call":
        opened = {**item, "status": "in_progress", "arguments": ""}
        await events.send("response.output_item.added", output_index=index, item=opened)
        for piece in pieces(item["arguments"], 8):
            if not await events.delta(
                "response.function_call_arguments.delta", **where, delta=piece
            ):
                return False
        await events.send(
            "response.function_call_arguments.done", **where, arguments=item["arguments"]
        )
    else:
        summary = item["summary"][0]
        opened = {**item, "summary": []}
        await events.send("response.output_item.added", output_index=index, item=opened)
        part = {"type": "summary_text", "text": ""}
        at = {**where, "summary_index": 0}
        await events.send("response.reasoning_summary_part.added", **at, part=part)
        for piece in pieces(summary["text"]):
            if not await events.delta("response.reasoning_summary_text.delta", **at, delta=piece):
                return False
        await events.send("response.reasoning_summary_text.done", **at, text=summary["text"])
        await events.send("response.reasoning_summary_part.done", **at, part=summary)
    await events.send("response.output_item.done", output_index=index, item=item)
    return True


def retrieve(provider: FakeProvider, authorize: Authorize) -> Handler:
    """A stored response by id: its object, or with ``stream=true`` its events
    again (from the start: ``starting_after`` is not modelled)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        wanted = request.match_info["response_id"]
        found = provider.stored.get(wanted)
        if found is None or found.get("object") != "response":
            raise ApiError(404, f"Response with id '{wanted}' not found.", param="response_id")
        if request.query.get("stream") == "true":
            return await stream_response(request, 0.0, found, None)
        return json_response(found, headers={"x-request-id": request_id()})

    return guarded(authorize, handle)


def find_conversation(provider: FakeProvider, wanted: str) -> dict[str, Any]:
    found = provider.stored.get(wanted)
    if found is None or found.get("object") != "conversation":
        raise ApiError(404, f"Conversation with id '{wanted}' not found.", param="conversation_id")
    return found


def as_items(sent: Any) -> list[dict[str, Any]]:
    """Input as the items a conversation keeps: each with an id, a bare
    string or ``{"role", "content"}`` message as a ``message`` item."""
    if isinstance(sent, str):
        sent = [{"role": "user", "content": sent}]
    items = []
    for item in sent if isinstance(sent, list) else []:
        if not isinstance(item, dict):
            continue
        kept = {"type": "message", **item} if "role" in item and "type" not in item else dict(item)
        if isinstance(kept.get("content"), str):
            kept["content"] = [{"type": "input_text", "text": kept["content"]}]
        kept.setdefault("id", item_id("msg" if kept["type"] == "message" else "item"))
        kept.setdefault("status", "completed")
        items.append(kept)
    return items


def conversations(provider: FakeProvider, authorize: Authorize) -> list[tuple[str, str, Handler]]:
    """A conversation, its items (added, listed, one by id); responses created
    with ``conversation`` add their input and output to it."""

    def page(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "object": "list",
            "data": items,
            "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None,
            "has_more": False,
        }

    async def create(request: web.Request) -> web.StreamResponse:
        body = await read_json(request, ())
        conversation = {
            "id": "conv_" + token(40, "0123456789abcdef"),
            "object": "conversation",
            "created_at": int(time.time()),
            "metadata": body.get("metadata") or {},
        }
        provider.stored[conversation["id"]] = {**conversation, "items": as_items(body.get("items"))}
        return json_response(conversation, headers={"x-request-id": request_id()})

    async def add(request: web.Request) -> web.StreamResponse:
        found = find_conversation(provider, request.match_info["conversation_id"])
        body = await read_json(request, ("items",))
        added = as_items(body["items"])
        found["items"].extend(added)
        return json_response(page(added), headers={"x-request-id": request_id()})

    async def listing(request: web.Request) -> web.StreamResponse:
        found = find_conversation(provider, request.match_info["conversation_id"])
        items = found["items"] if request.query.get("order") == "asc" else found["items"][::-1]
        return json_response(page(items), headers={"x-request-id": request_id()})

    async def one(request: web.Request) -> web.StreamResponse:
        found = find_conversation(provider, request.match_info["conversation_id"])
        wanted = request.match_info["item_id"]
        for item in found["items"]:
            if item["id"] == wanted:
                return json_response(item, headers={"x-request-id": request_id()})
        raise ApiError(404, f"Item with id '{wanted}' not found.", param="item_id")

    return [
        ("POST", "/v1/conversations", guarded(authorize, create)),
        ("POST", "/v1/conversations/{conversation_id}/items", guarded(authorize, add)),
        ("GET", "/v1/conversations/{conversation_id}/items", guarded(authorize, listing)),
        ("GET", "/v1/conversations/{conversation_id}/items/{item_id}", guarded(authorize, one)),
    ]


def compact(provider: FakeProvider, authorize: Authorize) -> Handler:
    """``POST /v1/responses/compact``: the history back as the user's messages,
    kept as sent, and one opaque ``compaction`` item for the rest."""

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await read_json(request, ("model",))
        items = body.get("input") or []
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        kept = [
            {
                "id": item_id("msg"),
                "type": "message",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_text", "text": text}]
                if isinstance(text := i.get("content"), str)
                else text,
            }
            for i in items
            if isinstance(i, dict) and i.get("role") == "user"
        ]
        summary = base64.b64encode(json.dumps(items).encode()[:64]).decode()
        prompt = estimate_tokens(items)
        return json_response(
            {
                "id": item_id("resp"),
                "object": "response.compaction",
                "created_at": int(time.time()),
                "output": [
                    *kept,
                    {"id": item_id("cmp"), "type": "compaction", "encrypted_content": summary},
                ],
                "usage": {
                    "input_tokens": prompt,
                    "input_tokens_details": {"cached_tokens": 0},
                    "output_tokens": 1,
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": prompt + 1,
                },
            },
            headers={"x-request-id": request_id()},
        )

    return guarded(authorize, handle)


def input_tokens(authorize: Authorize) -> Handler:
    """``POST /v1/responses/input_tokens``: what a request would cost."""

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await read_json(request, ("model",))
        counted = {k: body.get(k) for k in ("instructions", "input", "tools")}
        return json_response(
            {"object": "response.input_tokens", "input_tokens": estimate_tokens(counted)},
            headers={"x-request-id": request_id()},
        )

    return guarded(authorize, handle)


def routes(provider: FakeProvider) -> list[tuple[str, str, Handler]]:
    authorize = bearer_auth(provider)
    return [
        ("POST", "/v1/responses", responses(provider, authorize)),
        ("POST", "/v1/responses/compact", compact(provider, authorize)),
        ("POST", "/v1/responses/input_tokens", input_tokens(authorize)),
        *conversations(provider, authorize),
        ("GET", "/v1/responses/{response_id}", retrieve(provider, authorize)),
    ]
