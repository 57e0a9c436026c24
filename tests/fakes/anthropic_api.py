"""The Anthropic Messages API (and the legacy Text Completions API), as
api.anthropic.com speaks them on the wire."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

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
from tests.fakes.wire import SseStream, form_fields, json_response, token

if TYPE_CHECKING:
    from tests.fakes.provider import FakeProvider

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

MODELS = [
    ("claude-opus-4-8", "Claude Opus 4.8", "2026-05-01T00:00:00Z"),
    ("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ROLES = ("user", "assistant")
# Claude Code sends `system` messages mid-conversation under this beta.
PER_TURN_BETA = "per-turn-control-"
ROLES_WITH_SYSTEM = ("user", "assistant", "system")

IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind or ERROR_TYPES.get(status, "api_error")


def request_id() -> str:
    return "req_011C" + token(20)


def error_body(kind: str, message: str, rid: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": rid}


def error_response(error: ApiError) -> web.Response:
    rid = request_id()
    return json_response(
        error_body(error.kind, str(error), rid),
        status=error.status,
        headers={"request-id": rid},
    )


def check_headers(provider: FakeProvider, request: web.Request) -> None:
    """An API key goes in `x-api-key` or, as newer clients send it, `Authorization: Bearer`."""
    key = request.headers.get("x-api-key")
    header = request.headers.get("Authorization", "")
    if key is None and header.startswith("Bearer "):
        key = header[7:].strip()
    if key is None:
        raise ApiError(401, "x-api-key header is required")
    if key != provider.credentials.anthropic_key:
        raise ApiError(401, "invalid x-api-key")
    if "anthropic-version" not in request.headers:
        raise ApiError(400, "anthropic-version: header is required")


async def read_body(request: web.Request, required: tuple[str, ...]) -> dict[str, Any]:
    """Parses and checks the body as strictly as the real API does for what it covers."""
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "There was an error parsing the body of your request") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Input should be an object")
    for name in required:
        if name not in body:
            raise ApiError(400, f"{name}: Field required")
    model = body["model"]
    if not isinstance(model, str) or not model.startswith("claude"):
        raise ApiError(404, f"model: {model}")
    if not isinstance(body["messages"], list):
        raise ApiError(400, "messages: Input should be a valid list")
    roles = (
        ROLES_WITH_SYSTEM if PER_TURN_BETA in request.headers.get("anthropic-beta", "") else ROLES
    )
    for i, message in enumerate(body["messages"]):
        check_message(i, message, roles)
    return body


def check_message(index: int, message: Any, roles: tuple[str, ...]) -> None:
    if not isinstance(message, dict) or message.get("role") not in roles:
        allowed = " or ".join(f"'{r}'" for r in roles)
        raise ApiError(400, f"messages.{index}.role: Input should be {allowed}")
    content = message.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise ApiError(400, f"messages.{index}.content: Input should be a valid list")
    for j, block in enumerate(content):
        if isinstance(block, dict) and block.get("type") == "image":
            check_image(f"messages.{index}.content.{j}.image", block.get("source", {}))


def check_image(where: str, source: dict[str, Any]) -> None:
    if source.get("type") == "url":
        return
    if source.get("media_type") not in IMAGE_TYPES:
        raise ApiError(
            400, f"{where}.source.base64.media_type: Input should be one of the image types"
        )
    try:
        base64.b64decode(source.get("data", ""), validate=True)
    except binascii.Error:
        raise ApiError(400, f"{where}.source.base64.data: invalid base64 data") from None


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [b.get("text", "") for b in content if b.get("type") == "text"]
        if texts:
            return str(texts[-1])
    return ""


def model_request(body: dict[str, Any]) -> ModelRequest:
    return ModelRequest(
        dialect="anthropic",
        model=body["model"],
        has_tools=bool(body.get("tools")),
        last_user_text=last_user_text(body["messages"]),
        body=body,
    )


def content_block(block: Thinking | Text | ToolCall) -> dict[str, Any]:
    if isinstance(block, Thinking):
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if isinstance(block, Text):
        return {"type": "text", "text": block.text}
    return {
        "type": "tool_use",
        "id": block.id or "toolu_01" + token(22),
        "name": block.name,
        "input": block.arguments,
    }


def usage(body: dict[str, Any], blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "input_tokens": estimate_tokens(body["messages"]),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": max(1, sum(estimate_tokens(b) for b in blocks)),
        "service_tier": "standard",
    }


def message(body: dict[str, Any], reply: Reply, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "msg_01" + token(22),
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": blocks,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": usage(body, blocks),
    }


def routes(provider: FakeProvider) -> list[tuple[str, str, Handler]]:
    async def messages(request: web.Request) -> web.StreamResponse:
        try:
            check_headers(provider, request)
            body = await read_body(request, ("model", "max_tokens", "messages"))
        except ApiError as error:
            return error_response(error)
        reply = provider.script.next_for(model_request(body))
        failure = reply.failure
        if failure is not None and (failure.after_deltas is None or not body.get("stream")):
            return error_response(ApiError(failure.status, failure.message, failure.kind))
        blocks = [content_block(b) for b in reply.blocks]
        if not body.get("stream"):
            rid = request_id()
            return json_response(message(body, reply, blocks), headers={"request-id": rid})
        return await stream(request, provider.pacing(reply), message(body, reply, blocks), failure)

    async def count_tokens(request: web.Request) -> web.Response:
        try:
            check_headers(provider, request)
            body = await read_body(request, ("model", "messages"))
        except ApiError as error:
            return error_response(error)
        counted = {k: body.get(k) for k in ("system", "messages", "tools")}
        return json_response(
            {"input_tokens": estimate_tokens(counted)}, headers={"request-id": request_id()}
        )

    async def list_models(request: web.Request) -> web.Response:
        try:
            check_headers(provider, request)
        except ApiError as error:
            return error_response(error)
        data = [model_info(m) for m in MODELS][: int(request.query.get("limit", "20"))]
        return json_response(
            {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            },
            headers={"request-id": request_id()},
        )

    async def get_model(request: web.Request) -> web.Response:
        try:
            check_headers(provider, request)
            wanted = request.match_info["model"]
            found = [model_info(m) for m in MODELS if m[0] == wanted]
            if not found:
                raise ApiError(404, f"model: {wanted}")
        except ApiError as error:
            return error_response(error)
        return json_response(found[0], headers={"request-id": request_id()})

    async def complete(request: web.Request) -> web.StreamResponse:
        try:
            check_headers(provider, request)
            body = await read_complete_body(request)
        except ApiError as error:
            return error_response(error)
        turns = body["prompt"].split(HUMAN)
        heard = turns[-1].rsplit(ASSISTANT, 1)[0].strip()
        reply = provider.script.next_for(
            ModelRequest("anthropic", body["model"], False, heard, body=body)
        )
        failure = reply.failure
        if failure is not None and (failure.after_deltas is None or not body.get("stream")):
            return error_response(ApiError(failure.status, failure.message, failure.kind))
        whole = {
            "type": "completion",
            "id": "compl_01" + token(22),
            "completion": reply.text,
            "stop_reason": "stop_sequence",
            "model": body["model"],
        }
        if not body.get("stream"):
            return json_response(whole, headers={"request-id": request_id()})
        return await stream_completion(request, provider.pacing(reply), whole, failure)

    async def create_batch(request: web.Request) -> web.StreamResponse:
        try:
            check_headers(provider, request)
            body = await request.json()
            requests = body.get("requests") if isinstance(body, dict) else None
            if not isinstance(requests, list) or not requests:
                raise ApiError(400, "requests: Field required")
            results = [batch_result(provider, i, r) for i, r in enumerate(requests)]
        except ApiError as error:
            return error_response(error)
        except ValueError:
            return error_response(ApiError(400, "There was an error parsing the body"))
        batch_id = "msgbatch_01" + token(22)
        now = dt.datetime.now(dt.UTC)
        ended = {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended",
            "request_counts": {
                "processing": 0,
                "succeeded": sum(r["result"]["type"] == "succeeded" for r in results),
                "errored": sum(r["result"]["type"] == "errored" for r in results),
                "canceled": 0,
                "expired": 0,
            },
            "ended_at": now.isoformat(),
            "created_at": now.isoformat(),
            "expires_at": (now + dt.timedelta(days=1)).isoformat(),
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{request.url.origin()}/v1/messages/batches/{batch_id}/results",
        }
        provider.stored[batch_id] = {"batch": ended, "results": results}
        # It answers as the API does at creation; the batch has ended by the next look.
        counts = {**ended["request_counts"], "processing": len(results), "succeeded": 0}
        created = {**ended, "processing_status": "in_progress", "request_counts": counts}
        created.update(ended_at=None, results_url=None)
        created["request_counts"]["errored"] = 0
        return json_response(created, headers={"request-id": request_id()})

    def stored_batch(request: web.Request) -> dict[str, Any]:
        check_headers(provider, request)
        wanted = request.match_info["batch_id"]
        found = provider.stored.get(wanted)
        if found is None or "batch" not in found:
            raise ApiError(404, f"message_batch_id: {wanted} not found")
        return found

    async def get_batch(request: web.Request) -> web.StreamResponse:
        try:
            found = stored_batch(request)
        except ApiError as error:
            return error_response(error)
        return json_response(found["batch"], headers={"request-id": request_id()})

    async def upload_file(request: web.Request) -> web.StreamResponse:
        try:
            check_headers(provider, request)
            form = await form_fields(request)
            if "file" not in form or form["file"][0] is None:
                raise ApiError(400, "file: Field required")
        except ApiError as error:
            return error_response(error)
        filename, mime_type, content = form["file"]
        kept = {
            "id": "file_011C" + token(20),
            "type": "file",
            "filename": filename,
            "mime_type": mime_type or "application/octet-stream",
            "size_bytes": len(content),
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "downloadable": False,
        }
        provider.stored[kept["id"]] = {**kept, "content": content}
        return json_response(kept, headers={"request-id": request_id()})

    async def download_file(request: web.Request) -> web.StreamResponse:
        """A file's content: only the files Anthropic's tools wrote (put in
        ``provider.stored`` with ``"downloadable": True``) can be downloaded."""
        try:
            check_headers(provider, request)
            wanted = request.match_info["file_id"]
            found = provider.stored.get(wanted)
            if found is None or found.get("type") != "file":
                raise ApiError(404, f"File not found: {wanted}")
            if not found.get("downloadable"):
                raise ApiError(400, f"File {wanted} is not downloadable")
        except ApiError as error:
            return error_response(error)
        return web.Response(
            body=found["content"],
            headers={"Content-Type": found["mime_type"], "request-id": request_id()},
        )

    async def batch_results(request: web.Request) -> web.StreamResponse:
        try:
            found = stored_batch(request)
        except ApiError as error:
            return error_response(error)
        lines = "".join(json.dumps(r) + "\n" for r in found["results"])
        return web.Response(
            body=lines.encode(),
            content_type="application/binary",
            headers={"request-id": request_id()},
        )

    return [
        ("POST", "/v1/messages", messages),
        ("POST", "/v1/complete", complete),
        ("POST", "/v1/messages/batches", create_batch),
        ("POST", "/v1/files", upload_file),
        ("GET", "/v1/files/{file_id}/content", download_file),
        ("GET", "/v1/messages/batches/{batch_id}", get_batch),
        ("GET", "/v1/messages/batches/{batch_id}/results", batch_results),
        ("POST", "/v1/messages/count_tokens", count_tokens),
        ("GET", "/v1/models", list_models),
        ("GET", "/v1/models/{model}", get_model),
    ]


def batch_result(provider: FakeProvider, index: int, entry: Any) -> dict[str, Any]:
    """One line of a batch's results: the scripted reply to its ``params``."""
    if not isinstance(entry, dict) or not isinstance(entry.get("params"), dict):
        raise ApiError(400, f"requests.{index}.params: Field required")
    params = entry["params"]
    for name in ("model", "max_tokens", "messages"):
        if name not in params:
            raise ApiError(400, f"requests.{index}.params.{name}: Field required")
    reply = provider.script.next_for(model_request(params))
    if reply.failure is not None:
        kind = reply.failure.kind or ERROR_TYPES.get(reply.failure.status, "api_error")
        error = {"type": "error", "error": {"type": kind, "message": reply.failure.message}}
        return {"custom_id": entry.get("custom_id"), "result": {"type": "errored", "error": error}}
    blocks = [content_block(b) for b in reply.blocks]
    result = {"type": "succeeded", "message": message(params, reply, blocks)}
    return {"custom_id": entry.get("custom_id"), "result": result}


HUMAN = "\n\nHuman:"
ASSISTANT = "\n\nAssistant:"


async def read_complete_body(request: web.Request) -> dict[str, Any]:
    """A Text Completions body, checked as the real API checks its prompt."""
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "There was an error parsing the body of your request") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Input should be an object")
    for name in ("model", "prompt", "max_tokens_to_sample"):
        if name not in body:
            raise ApiError(400, f"{name}: Field required")
    prompt = body["prompt"]
    if not isinstance(prompt, str) or HUMAN not in prompt:
        raise ApiError(400, 'prompt must contain "\\n\\nHuman:" turns')
    if not prompt.endswith(ASSISTANT):
        raise ApiError(400, 'prompt must end with "\\n\\nAssistant:" turn')
    return body


async def stream_completion(
    request: web.Request, delay: float, whole: dict[str, Any], failure: Failure | None
) -> web.StreamResponse:
    """`completion` events a few characters each, a `ping` after the first,
    then an empty completion that carries the stop reason."""
    sse = await SseStream.open(request, delay, {"request-id": request_id()})
    piece = {k: v for k, v in whole.items() if k != "stop_reason"}
    for sent, text in enumerate(pieces(whole["completion"])):
        if failure is not None and sent == failure.after_deltas:
            kind = failure.kind or ERROR_TYPES.get(failure.status, "api_error")
            await sse.send(
                {"type": "error", "error": {"type": kind, "message": failure.message}}, "error"
            )
            return await sse.close()
        await sse.send({**piece, "completion": text, "stop_reason": None}, "completion")
        if sent == 0:
            await sse.send({"type": "ping"}, "ping")
        await sse.pace()
    await sse.send({**piece, "completion": "", "stop_reason": whole["stop_reason"]}, "completion")
    return await sse.close()


def model_info(model: tuple[str, str, str]) -> dict[str, Any]:
    model_id, name, created = model
    return {"type": "model", "id": model_id, "display_name": name, "created_at": created}


async def stream(
    request: web.Request,
    delay: float,
    full: dict[str, Any],
    failure: Failure | None,
) -> web.StreamResponse:
    """Sends `full` as the event sequence the real API uses, deltas a few characters each."""
    sse = await SseStream.open(request, delay, {"request-id": request_id()})
    start = {**full, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**full["usage"], "output_tokens": 1}
    await sse.send({"type": "message_start", "message": start}, "message_start")
    sent = 0
    for index, block in enumerate(full["content"]):
        await sse.send(
            {"type": "content_block_start", "index": index, "content_block": opening(block)},
            "content_block_start",
        )
        if index == 0:
            await sse.send('{"type": "ping"}', "ping")
        for delta in deltas(block):
            if failure is not None and sent == failure.after_deltas:
                kind = failure.kind or ERROR_TYPES.get(failure.status, "api_error")
                await sse.send(
                    {"type": "error", "error": {"type": kind, "message": failure.message}},
                    "error",
                )
                return await sse.close()
            await sse.send(
                {"type": "content_block_delta", "index": index, "delta": delta},
                "content_block_delta",
            )
            sent += 1
            await sse.pace()
        await sse.send({"type": "content_block_stop", "index": index}, "content_block_stop")
    await sse.send(
        {
            "type": "message_delta",
            "delta": {"stop_reason": full["stop_reason"], "stop_sequence": None},
            "usage": {k: v for k, v in full["usage"].items() if k != "service_tier"},
        },
        "message_delta",
    )
    await sse.send({"type": "message_stop"}, "message_stop")
    return await sse.close()


def opening(block: dict[str, Any]) -> dict[str, Any]:
    if block["type"] == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    if block["type"] == "text":
        return {"type": "text", "text": ""}
    return {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}


def deltas(block: dict[str, Any]) -> list[dict[str, Any]]:
    if block["type"] == "thinking":
        out = [{"type": "thinking_delta", "thinking": p} for p in pieces(block["thinking"])]
        return [*out, {"type": "signature_delta", "signature": block["signature"]}]
    if block["type"] == "text":
        return [{"type": "text_delta", "text": p} for p in pieces(block["text"])]
    arguments = json_text(block["input"])
    first = [{"type": "input_json_delta", "partial_json": ""}]
    return first + [{"type": "input_json_delta", "partial_json": p} for p in pieces(arguments, 8)]


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
