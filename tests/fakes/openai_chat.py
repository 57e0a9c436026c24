"""OpenAI chat completions, embeddings and models, as api.openai.com speaks them.

The handlers are built by factories that take the auth check and a flavour, so
Azure OpenAI (tests.fakes.azure) serves the same bodies with its own auth and
its content-filter annotations.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from tests.fakes.script import (
    Failure,
    ModelRequest,
    Reply,
    Text,
    ToolCall,
    estimate_tokens,
    pieces,
)
from tests.fakes.wire import SseStream, form_fields, json_response, token

if TYPE_CHECKING:
    from tests.fakes.provider import FakeProvider

Flavor = Literal["openai", "azure"]
Authorize = Callable[[web.Request], None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MODELS = [
    ("gpt-5", 1754425777),
    ("gpt-4.1", 1744316542),
    ("gpt-4o", 1715367049),
    ("gpt-4o-mini", 1721172741),
    ("text-embedding-3-small", 1705948997),
    ("text-embedding-3-large", 1705953180),
]

AZURE_FILTERS = {
    name: {"filtered": False, "severity": "safe"}
    for name in ("hate", "self_harm", "sexual", "violence")
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind or error_type(status)
        self.param = param
        self.code = code

    @classmethod
    def scripted(cls, failure: Failure) -> ApiError:
        code = "rate_limit_exceeded" if failure.status == 429 else None
        return cls(failure.status, failure.message, kind=failure.kind, code=code)

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": str(self),
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }


def error_type(status: int) -> str:
    if status == 429:
        return "requests"
    return "server_error" if status >= 500 else "invalid_request_error"


def request_id() -> str:
    return "req_" + token(32, "0123456789abcdef")


def error_response(error: ApiError) -> web.Response:
    return json_response(error.body(), status=error.status, headers={"x-request-id": request_id()})


def masked(key: str) -> str:
    return key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 8 else "*" * len(key)


def bearer_auth(provider: FakeProvider) -> Authorize:
    def authorize(request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        key = header[7:].strip()
        if key != provider.credentials.openai_key:
            raise ApiError(
                401,
                f"Incorrect API key provided: {masked(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    return authorize


async def read_json(request: web.Request, required: tuple[str, ...]) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    for name in required:
        if name not in body:
            raise ApiError(
                400,
                f"Missing required parameter: '{name}'.",
                param=name,
                code="missing_required_parameter",
            )
    return body


def guarded(authorize: Authorize, handler: Handler) -> Handler:
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            authorize(request)
            return await handler(request)
        except ApiError as error:
            return error_response(error)

    return run


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            texts = [p.get("text", "") for p in content if p.get("type") in ("text", "input_text")]
            if texts:
                return str(texts[-1])
    return ""


def usage_of(prompt: Any, reply: Reply) -> tuple[int, int]:
    completion = sum(estimate_tokens(b.text) for b in reply.blocks if isinstance(b, Text))
    completion += sum(estimate_tokens(b.arguments) for b in reply.tool_calls)
    return estimate_tokens(prompt), max(1, completion)


def chat_usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def tool_calls(reply: Reply) -> list[ToolCall]:
    return [ToolCall(c.name, c.arguments, c.id or "call_" + token(24)) for c in reply.tool_calls]


def chat_completions(provider: FakeProvider, authorize: Authorize, flavor: Flavor) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        required = ("model", "messages") if flavor == "openai" else ("messages",)
        body = await read_json(request, required)
        model = body.get("model") or "gpt-4o-2024-11-20"
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "Invalid 'messages': empty array.", param="messages")
        reply = provider.script.next_for(
            ModelRequest(
                dialect="openai-chat",
                model=model,
                has_tools=bool(body.get("tools") or body.get("functions")),
                last_user_text=last_user_text(messages),
                body=body,
            )
        )
        failure = reply.failure
        streaming = bool(body.get("stream"))
        if failure is not None and (failure.after_deltas is None or not streaming):
            raise ApiError.scripted(failure)
        calls = tool_calls(reply)
        prompt, completion = usage_of(messages, reply)
        envelope: dict[str, Any] = {
            "id": "chatcmpl-" + token(29),
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_" + token(10, "0123456789abcdef"),
        }
        if flavor == "openai":
            envelope["service_tier"] = "default"
        finish = "tool_calls" if calls else "stop"
        if streaming:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await stream_chat(
                request,
                provider.pacing(reply),
                envelope,
                reply.text,
                calls,
                finish,
                chat_usage(prompt, completion) if include_usage else None,
                flavor,
                failure,
            )
        choice: dict[str, Any] = {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": reply.text or None,
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": finish,
        }
        if calls:
            choice["message"]["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for c in calls
            ]
        result = {
            **envelope,
            "object": "chat.completion",
            "choices": [choice],
            "usage": chat_usage(prompt, completion),
        }
        if flavor == "azure":
            choice["content_filter_results"] = AZURE_FILTERS
            result["prompt_filter_results"] = [
                {"prompt_index": 0, "content_filter_results": AZURE_FILTERS}
            ]
        if body.get("store") is True and flavor == "openai":
            provider.stored[result["id"]] = {**result, "metadata": body.get("metadata") or {}}
        return json_response(result, headers={"x-request-id": request_id()})

    return guarded(authorize, handle)


def files(provider: FakeProvider, authorize: Authorize) -> list[tuple[str, str, Handler]]:
    """``POST /v1/files`` (multipart: ``purpose`` and ``file``) and its content back."""

    async def upload(request: web.Request) -> web.StreamResponse:
        form = await form_fields(request)
        if "file" not in form or form["file"][0] is None:
            raise ApiError(400, "Missing required parameter: 'file'.", param="file")
        if "purpose" not in form:
            raise ApiError(400, "Missing required parameter: 'purpose'.", param="purpose")
        filename, _, content = form["file"]
        purpose = form["purpose"][2].decode()
        kept = {
            "id": "file-" + token(22),
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
        }
        provider.stored[kept["id"]] = {**kept, "content": content}
        return json_response(kept, headers={"x-request-id": request_id()})

    async def content(request: web.Request) -> web.StreamResponse:
        wanted = request.match_info["file_id"]
        found = provider.stored.get(wanted)
        if found is None or found.get("object") != "file":
            raise ApiError(404, f"No such File object: {wanted}", param="id")
        return web.Response(body=found["content"], content_type="application/octet-stream")

    return [
        ("POST", "/v1/files", guarded(authorize, upload)),
        ("GET", "/v1/files/{file_id}/content", guarded(authorize, content)),
    ]


def uploads(provider: FakeProvider, authorize: Authorize) -> list[tuple[str, str, Handler]]:
    """The Uploads API: ``POST /v1/uploads`` declares a file's size, each
    ``/parts`` carries a piece of it (multipart ``data``), ``/complete``
    joins them in the order given and checks the size, making a File."""

    def found(request: web.Request) -> dict[str, Any]:
        wanted = request.match_info["upload_id"]
        upload = provider.stored.get(wanted)
        if upload is None or upload.get("object") != "upload":
            raise ApiError(404, f"No such Upload object: {wanted}", param="upload_id")
        return upload

    def shown(upload: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in upload.items() if k != "parts"}

    async def create(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        upload = {
            "id": "upload_" + token(22),
            "object": "upload",
            "bytes": body["bytes"],
            "created_at": int(time.time()),
            "expires_at": int(time.time()) + 3600,
            "filename": body["filename"],
            "purpose": body["purpose"],
            "status": "pending",
            "file": None,
            "parts": {},
        }
        provider.stored[upload["id"]] = upload
        return json_response(shown(upload), headers={"x-request-id": request_id()})

    async def part(request: web.Request) -> web.StreamResponse:
        upload = found(request)
        form = await form_fields(request)
        if "data" not in form:
            raise ApiError(400, "Missing required parameter: 'data'.", param="data")
        part_id = "part_" + token(22)
        upload["parts"][part_id] = form["data"][2]
        kept = {
            "id": part_id,
            "object": "upload.part",
            "created_at": int(time.time()),
            "upload_id": upload["id"],
        }
        return json_response(kept, headers={"x-request-id": request_id()})

    async def complete(request: web.Request) -> web.StreamResponse:
        upload = found(request)
        body = await request.json()
        content = b"".join(upload["parts"][p] for p in body["part_ids"])
        if len(content) != upload["bytes"]:
            raise ApiError(
                400,
                f"The number of bytes uploaded ({len(content)}) does not match the number "
                f"of bytes the Upload was created with ({upload['bytes']}).",
                param="part_ids",
            )
        file = {
            "id": "file-" + token(22),
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": upload["filename"],
            "purpose": upload["purpose"],
        }
        provider.stored[file["id"]] = {**file, "content": content}
        upload.update(status="completed", file=file)
        return json_response(shown(upload), headers={"x-request-id": request_id()})

    return [
        ("POST", "/v1/uploads", guarded(authorize, create)),
        ("POST", "/v1/uploads/{upload_id}/parts", guarded(authorize, part)),
        ("POST", "/v1/uploads/{upload_id}/complete", guarded(authorize, complete)),
    ]


def batches(provider: FakeProvider, authorize: Authorize) -> list[tuple[str, str, Handler]]:
    """``POST /v1/batches`` over an uploaded ``/v1/chat/completions`` input
    file; the batch has completed by the next look, its answers in an output
    file (one line per request, as the Batch API writes them)."""

    def answer(line: dict[str, Any]) -> dict[str, Any]:
        body = line.get("body") or {}
        messages = body.get("messages") or []
        reply = provider.script.next_for(
            ModelRequest(
                "openai-chat",
                body.get("model", "gpt-4o"),
                False,
                last_user_text(messages),
                body=body,
            )
        )
        prompt, completion = usage_of(messages, reply)
        message = {"role": "assistant", "content": reply.text, "refusal": None, "annotations": []}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        answer_body = {
            "id": "chatcmpl-" + token(29),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "gpt-4o"),
            "choices": [choice],
            "usage": chat_usage(prompt, completion),
        }
        return {
            "id": "batch_req_" + token(24),
            "custom_id": line.get("custom_id"),
            "response": {"status_code": 200, "request_id": request_id(), "body": answer_body},
            "error": None,
        }

    async def create(request: web.Request) -> web.StreamResponse:
        body = await read_json(request, ("input_file_id", "endpoint", "completion_window"))
        found = provider.stored.get(body["input_file_id"])
        if found is None or found.get("object") != "file":
            raise ApiError(400, "Invalid 'input_file_id'.", param="input_file_id")
        lines = [json.loads(x) for x in found["content"].decode().splitlines() if x.strip()]
        output = "".join(json.dumps(answer(line)) + "\n" for line in lines).encode()
        out_id = "file-" + token(22)
        provider.stored[out_id] = {
            "id": out_id,
            "object": "file",
            "bytes": len(output),
            "created_at": int(time.time()),
            "filename": "batch_output.jsonl",
            "purpose": "batch_output",
            "content": output,
        }
        batch = {
            "id": "batch_" + token(24),
            "object": "batch",
            "endpoint": body["endpoint"],
            "input_file_id": body["input_file_id"],
            "completion_window": body["completion_window"],
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(time.time()),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
        }
        provider.stored[batch["id"]] = {
            **batch,
            "status": "completed",
            "output_file_id": out_id,
            "request_counts": {"total": len(lines), "completed": len(lines), "failed": 0},
        }
        return json_response(batch, headers={"x-request-id": request_id()})

    async def retrieve(request: web.Request) -> web.StreamResponse:
        wanted = request.match_info["batch_id"]
        found = provider.stored.get(wanted)
        if found is None or found.get("object") != "batch":
            raise ApiError(404, f"No batch found with id '{wanted}'.", param="batch_id")
        return json_response(found, headers={"x-request-id": request_id()})

    return [
        ("POST", "/v1/batches", guarded(authorize, create)),
        ("GET", "/v1/batches/{batch_id}", guarded(authorize, retrieve)),
    ]


def stored_completions(
    provider: FakeProvider, authorize: Authorize
) -> list[tuple[str, str, Handler]]:
    """Stored chat completions: one by id, the list, and a metadata update."""

    def find(request: web.Request) -> dict[str, Any]:
        wanted = request.match_info["completion_id"]
        found = provider.stored.get(wanted)
        if found is None or found.get("object") != "chat.completion":
            raise ApiError(404, f"Completion with id '{wanted}' not found.", param="completion_id")
        return found

    async def one(request: web.Request) -> web.StreamResponse:
        return json_response(find(request), headers={"x-request-id": request_id()})

    async def update(request: web.Request) -> web.StreamResponse:
        found = find(request)
        body = await read_json(request, ("metadata",))
        found["metadata"] = body["metadata"]
        return json_response(found, headers={"x-request-id": request_id()})

    async def listing(request: web.Request) -> web.StreamResponse:
        data = [c for c in provider.stored.values() if c.get("object") == "chat.completion"]
        page = {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": False,
        }
        return json_response(page, headers={"x-request-id": request_id()})

    return [
        ("GET", "/v1/chat/completions", guarded(authorize, listing)),
        ("GET", "/v1/chat/completions/{completion_id}", guarded(authorize, one)),
        ("POST", "/v1/chat/completions/{completion_id}", guarded(authorize, update)),
    ]


async def stream_chat(
    request: web.Request,
    delay: float,
    envelope: dict[str, Any],
    text: str,
    calls: list[ToolCall],
    finish: str,
    usage: dict[str, Any] | None,
    flavor: Flavor,
    failure: Failure | None,
) -> web.StreamResponse:
    sse = await SseStream.open(request, delay, {"x-request-id": request_id()})
    if flavor == "azure":
        await sse.send(
            {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": [
                    {"prompt_index": 0, "content_filter_results": AZURE_FILTERS}
                ],
            }
        )

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            **envelope,
            "object": "chat.completion.chunk",
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if usage is not None:
            out["usage"] = None
        return out

    deltas: list[dict[str, Any]] = [{"content": p} for p in pieces(text)]
    for i, call in enumerate(calls):
        head = {"name": call.name, "arguments": ""}
        deltas.append(
            {"tool_calls": [{"index": i, "id": call.id, "type": "function", "function": head}]}
        )
        for fragment in pieces(json.dumps(call.arguments), 8):
            deltas.append({"tool_calls": [{"index": i, "function": {"arguments": fragment}}]})
    opening = {"role": "assistant", "content": "" if text else None, "refusal": None}
    await sse.send(chunk(opening))
    for sent, delta in enumerate(deltas):
        if failure is not None and sent == failure.after_deltas:
            await sse.send(ApiError.scripted(failure).body())
            return await sse.close()
        await sse.send(chunk(delta))
        await sse.pace()
    await sse.send(chunk({}, finish))
    if usage is not None:
        await sse.send(
            {**envelope, "object": "chat.completion.chunk", "choices": [], "usage": usage}
        )
    await sse.send("[DONE]")
    return await sse.close()


def embeddings(provider: FakeProvider, authorize: Authorize, flavor: Flavor) -> Handler:
    del provider  # embeddings are not scripted: vectors derive from the input

    async def handle(request: web.Request) -> web.StreamResponse:
        required = ("model", "input") if flavor == "openai" else ("input",)
        body = await read_json(request, required)
        raw = body["input"]
        inputs = [raw] if isinstance(raw, str) or (raw and isinstance(raw[0], int)) else raw
        model = body.get("model") or "text-embedding-3-small"
        size = body.get("dimensions") or (3072 if "large" in model else 1536)
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, item in enumerate(inputs):
            vector = embed(json.dumps(item), size)
            encoded: Any = (
                base64.b64encode(struct.pack(f"<{size}f", *vector)).decode()
                if as_base64
                else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(estimate_tokens(item) for item in inputs)
        return json_response(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            headers={"x-request-id": request_id()},
        )

    return guarded(authorize, handle)


def embed(text: str, size: int) -> list[float]:
    """A deterministic unit-ish vector derived from the text."""
    seed = hashlib.sha256(text.encode()).digest()
    stream = b""
    counter = 0
    while len(stream) < size:
        stream += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return [round((b - 127.5) / 2048, 6) for b in stream[:size]]


def models(authorize: Authorize) -> tuple[Handler, Handler]:
    def info(name: str, created: int) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": created, "owned_by": "system"}

    async def list_all(request: web.Request) -> web.StreamResponse:
        data = [info(name, created) for name, created in MODELS]
        return json_response({"object": "list", "data": data})

    async def get_one(request: web.Request) -> web.StreamResponse:
        wanted = request.match_info["model"]
        for name, created in MODELS:
            if name == wanted:
                return json_response(info(name, created))
        raise ApiError(
            404,
            f"The model '{wanted}' does not exist",
            param="model",
            code="model_not_found",
        )

    return guarded(authorize, list_all), guarded(authorize, get_one)


def routes(provider: FakeProvider) -> list[tuple[str, str, Handler]]:
    authorize = bearer_auth(provider)
    list_all, get_one = models(authorize)
    return [
        ("POST", "/v1/chat/completions", chat_completions(provider, authorize, "openai")),
        *stored_completions(provider, authorize),
        *files(provider, authorize),
        *uploads(provider, authorize),
        *batches(provider, authorize),
        ("POST", "/v1/embeddings", embeddings(provider, authorize, "openai")),
        ("GET", "/v1/models", list_all),
        ("GET", "/v1/models/{model}", get_one),
    ]
