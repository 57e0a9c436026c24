"""The proxy handler: one exchange from the agent to the upstream and back.

identify → authorize → read and decode the request → request inspectors →
broker → upstream → decode the response → channel inspectors → encode →
agent, with the recorder tapping each step. Anything that fails on the way
ends the exchange with an error in the client's own format; raw data never
passes because something broke.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from warden.access.static import presented_credential
from warden.config.model import PolicyConfig, RecordingMode
from warden.errors import ErrorKind, Flavor, GatewayError, error_body, recording_failed
from warden.pipeline.chain import Pipeline
from warden.pipeline.record import NullRecorder, Recorder, RecordingFailed, RecordKind
from warden.pipeline.request import JsonRequestView, SlotWalker
from warden.pipeline.types import Decision, Direction, Exchange, Flow, Identity
from warden.protocols.anthropic_batches import LINKS
from warden.protocols.base import blocked_error, dumps_bytes
from warden.protocols.registry import Operation, around_the_gateway, resolve
from warden.protocols.uploads import Upload, read_upload
from warden.server.downloads import relay_download
from warden.server.keys import RECORDER, RUNTIME, STATE
from warden.server.logs import log_fields
from warden.server.relay import (
    StreamRelay,
    record_decisions,
    record_end,
    relay_json,
    relay_lines,
    relay_raw,
)
from warden.server.runtime import Connection, Runtime
from warden.upstream.broker import CredentialUnavailable, response_headers

log = logging.getLogger("warden.exchange")
NULL_RECORDER = NullRecorder()


def _id_source() -> Iterator[str]:
    """Exchange ids: a random per-process prefix and a counter (unique
    across replicas and restarts, without a system call per exchange)."""
    prefix = "ex_" + secrets.token_hex(5)
    for n in itertools.count(1):
        yield f"{prefix}{n:06x}"


_exchange_ids = _id_source()

_SESSION_HEADERS = ("x-warden-session", "x-claude-code-session-id")


@dataclass(slots=True)
class Context:
    """What one exchange carries from step to step (never stored on self)."""

    request: web.Request
    runtime: Runtime
    connection: Connection
    exchange: Exchange
    recorder: Recorder
    started: float
    policy_name: str
    policy: PolicyConfig
    pipeline: Pipeline
    status: int = 0
    outcome: str = "ok"
    ended: bool = False
    """The ``end`` event is recorded (a whole response travels in it)."""
    decisions_recorded: int = 0
    """How many of ``exchange.decisions`` (the response's) are recorded."""


def error_response(error: GatewayError, flavor: Flavor) -> web.Response:
    headers = {"x-should-retry": "false"} if error.status < 500 else {}
    return web.Response(
        status=error.status,
        body=error_body(error, flavor),
        content_type="application/json",
        headers=headers,
    )


def guess_flavor(request: web.Request) -> Flavor:
    headers = request.headers
    if "x-api-key" in headers or "anthropic-version" in headers:
        return Flavor.ANTHROPIC
    return Flavor.OPENAI


def _credential_hint(connection: Connection) -> str:
    header = {
        Flavor.ANTHROPIC: "x-api-key (ANTHROPIC_API_KEY) or Authorization: Bearer",
        Flavor.OPENAI: "Authorization: Bearer (OPENAI_API_KEY)",
    }[connection.flavor]
    return (
        f"Warden needs a gateway credential for connection {connection.name!r}: send your "
        f"Warden token as {header}. Get one with `warden token`, or ask your Warden admin "
        "for a service token. Provider API keys are held by the gateway, not by agents."
    )


async def proxy(request: web.Request) -> web.StreamResponse:
    runtime: Runtime = request.app[STATE].runtime
    name = request.match_info["connection"]
    connection = runtime.connections.get(name)
    if connection is None:
        served = ", ".join(sorted(runtime.connections)) or "none"
        return error_response(
            GatewayError(
                ErrorKind.NOT_FOUND,
                f"no connection named {name!r} on this gateway (it serves: {served})",
            ),
            guess_flavor(request),
        )
    credential = presented_credential(request.headers)
    identity = await runtime.identify(credential) if credential else None
    if identity is None:
        return error_response(
            GatewayError(ErrorKind.AUTHENTICATION, _credential_hint(connection)),
            connection.flavor,
        )
    permitted, why = await runtime.may_use(identity, name)
    if not permitted:
        return error_response(GatewayError(ErrorKind.PERMISSION, why), connection.flavor)
    exchange = Exchange(
        id=next(_exchange_ids),
        session_id="",
        connection=name,
        connection_type=connection.config.type.value,
        identity=identity,
        client_address=request.remote,
        user_agent=request.headers.get("user-agent"),
    )
    exchange.session_id = _session_id(request, exchange.id)
    policy_name, pipeline = runtime.pipeline_for(name, identity)
    policy = runtime.config.policies[policy_name]
    exchange.state["recording"] = policy.recording.value
    exchange.state["review_timeout"] = policy.guardrails.review_timeout
    recorder: Recorder = (
        NULL_RECORDER if policy.recording is RecordingMode.OFF else request.app[RECORDER]
    )
    ctx = Context(
        request,
        runtime,
        connection,
        exchange,
        recorder,
        time.perf_counter(),
        policy_name,
        policy,
        pipeline,
    )
    try:
        return await _exchange(ctx)
    except RecordingFailed:
        log.exception("recording failed in strict mode", extra={"fields": _ids(ctx)})
        return _fail(ctx, recording_failed(ctx.exchange.id), outcome="recording_failed")
    except asyncio.CancelledError:
        ctx.outcome = "cancelled"
        raise
    finally:
        await _finish(ctx)


def _walker_for(ctx: Context) -> Callable[[str], SlotWalker | None]:
    """How a batch input line's ``url`` is inspected on this connection."""
    kind = ctx.connection.config.type

    def walker(url: str) -> SlotWalker | None:
        operation = resolve(kind, "POST", url)
        return None if operation is None or operation.upload else operation.walker

    return walker


def _raw_enabled(recorder: Recorder) -> bool:
    return bool(getattr(recorder, "raw_enabled", False))


def _session_id(request: web.Request, fallback: str) -> str:
    for header in _SESSION_HEADERS:
        value = request.headers.get(header)
        if value and len(value) <= 200:
            return value
    return fallback


async def _exchange(ctx: Context) -> web.StreamResponse:
    request = ctx.request
    connection = ctx.connection
    limits = ctx.runtime.config.limits
    tail = request.match_info.get("tail", "")
    operation = resolve(connection.config.type, request.method, tail)
    ctx.exchange.operation = operation.name if operation else ""

    target: dict[str, Any] = {
        "method": request.method,
        "path": tail,
        "policy": ctx.policy_name,
    }
    if operation is not None:
        target["operation"] = operation.name
    if "websocket" in request.headers.get("Upgrade", "").lower():
        # The upgrade header is hop-by-hop and never reaches the upstream;
        # say why rather than let the upstream answer a plain GET.
        await ctx.recorder.record(ctx.exchange, RecordKind.REQUEST, target)
        return _fail(
            ctx,
            GatewayError(
                ErrorKind.INVALID_REQUEST,
                "Warden does not relay WebSocket connections (such as the Realtime API): "
                "their frames would pass uninspected; use the HTTP API",
            ),
        )
    around = around_the_gateway(connection.config.type, request.method, tail)
    if around is not None:
        await ctx.recorder.record(ctx.exchange, RecordKind.REQUEST, target)
        return _fail(ctx, GatewayError(ErrorKind.PERMISSION, around), outcome="blocked")
    body = await _read_body(request, limits.max_body_bytes)
    if isinstance(body, GatewayError):
        await ctx.recorder.record(ctx.exchange, RecordKind.REQUEST, target)
        return _fail(ctx, body)

    parsed: Any = None
    if operation is not None and body and not operation.upload:
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            target["bytes"] = len(body)
            await ctx.recorder.record(ctx.exchange, RecordKind.REQUEST, target)
            return _fail(
                ctx,
                GatewayError(
                    ErrorKind.INVALID_REQUEST, f"the request body is not valid JSON: {exc}"
                ),
            )
        ctx.exchange.streaming = isinstance(parsed, dict) and parsed.get("stream") is True
        refused = operation.refuse(parsed) if operation.refuse is not None else None
        if refused is not None:
            await ctx.recorder.record(
                ctx.exchange, RecordKind.REQUEST, {**target, "bytes": len(body)}
            )
            return _fail(ctx, GatewayError(ErrorKind.INVALID_REQUEST, refused))

    # The request event opens the exchange's record (the recorder adds who
    # sent it); the decisions on it and a sealed raw copy follow.
    original = body
    opening: dict[str, Any] = {**target, "bytes": len(body)}
    decisions: list[Decision] = []
    failure: GatewayError | None = None
    outcome = "error"
    upload: Upload | None = None
    view: JsonRequestView | None = None
    if operation is not None and operation.upload and body:
        found = read_upload(
            request.headers.get("Content-Type", ""),
            body,
            _walker_for(ctx),
            field=operation.upload,
            cut=operation.fixed_size,
        )
        if isinstance(found, Upload):
            upload, view = found, found.view
        else:
            opening["file"] = found
            masking = ctx.policy.masking
            if "bytes" in found and masking.enabled and masking.binary_uploads == "refuse":
                await ctx.recorder.record(ctx.exchange, RecordKind.REQUEST, opening)
                why = (
                    f"the file {found['name']!r} is not text, so Warden cannot inspect it, "
                    f"and policy {ctx.policy_name!r} refuses uploads it cannot inspect"
                )
                return _fail(ctx, GatewayError(ErrorKind.INVALID_REQUEST, why), outcome="blocked")
    elif operation is not None and parsed is not None:
        view = JsonRequestView(parsed, operation.name, operation.walker)
    if view is not None:
        try:
            decisions = ctx.pipeline.inspect_request(ctx.exchange, view)
        except Exception:
            log.exception("request inspection failed", extra={"fields": _ids(ctx)})
            failure = _inspection_failed(ctx)
        else:
            blocked = next((d for d in decisions if d.flow is Flow.BLOCK), None)
            if blocked is not None:
                # Only the size: a blocking rule may leave its match unmasked.
                failure, outcome = blocked_error(blocked, request=True), "blocked"
            elif upload is not None:
                if view.dirty and operation is not None and operation.fixed_size:
                    failure, outcome = _part_refused(decisions), "blocked"
                elif view.dirty:
                    body = upload.rebuilt()
                opening = {**target, "bytes": len(body), "file": upload.record()}
            else:
                if view.dirty:
                    body = dumps_bytes(parsed)
                opening = {**target, "body": parsed}
    await ctx.recorder.record(ctx.exchange, RecordKind.REQUEST, opening)
    await _record_decisions(ctx, decisions, Direction.REQUEST)
    if ctx.policy.raw_recording and view is not None and _raw_enabled(ctx.recorder):
        await ctx.recorder.record_raw(  # type: ignore[attr-defined]
            ctx.exchange,
            RecordKind.REQUEST,
            {"file": upload.original} if upload is not None else {"body": json.loads(original)},
        )
    if failure is not None:
        return _fail(ctx, failure, outcome=outcome)
    return await _forward(ctx, operation, body, ctx.pipeline)


def _part_refused(decisions: Sequence[Decision]) -> GatewayError:
    """A part of a chunked upload the inspectors would change: its size is
    fixed (declared when the upload was created), so it is not sent at all."""
    rules = ", ".join(dict.fromkeys(d.rule for d in decisions if d.rule)) or "a rule"
    return GatewayError(
        ErrorKind.INVALID_REQUEST,
        f"Warden found {rules} in this part of a chunked upload and did not send it: a "
        "part cannot be masked without changing the size the upload was created with. "
        "Upload the file with POST /v1/files instead, where Warden masks it.",
    )


async def _forward(
    ctx: Context, operation: Operation | None, body: bytes, pipeline: Any
) -> web.StreamResponse:
    request = ctx.request
    connection = ctx.connection
    broker = connection.broker
    try:
        headers = await broker.headers(request.headers)
    except CredentialUnavailable as exc:
        log_fields(
            log, logging.ERROR, "upstream credential unavailable", reason=str(exc), **_ids(ctx)
        )
        return _fail(
            ctx,
            GatewayError(
                ErrorKind.UNAVAILABLE,
                f"the gateway could not obtain the upstream credential for {connection.name!r}; "
                "an administrator must check its configuration",
            ),
        )
    url = broker.url(_raw_tail(request), request.rel_url.raw_query_string)
    if operation is not None and operation.links:
        base = f"{request.url.origin()}/{connection.name}"
        ctx.exchange.state[LINKS] = (connection.config.upstream, base)
    timeouts = connection.config.timeouts
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=timeouts.connect, sock_read=timeouts.read
    )
    session: aiohttp.ClientSession = request.app[STATE].session
    try:
        async with session.request(
            request.method,
            url,
            headers=headers,
            data=body if body else None,
            timeout=timeout,
            allow_redirects=False,
        ) as upstream:
            ctx.status = upstream.status
            out_headers = response_headers(upstream.headers)
            # Whole bodies carry their status in their one response.body
            # event; a stream records when its headers came, for the replay.
            if upstream.status >= 400 or operation is None:
                if upstream.status >= 400:
                    ctx.outcome = "upstream_error"
                return await relay_raw(ctx, upstream, out_headers)
            if operation.download:
                return await relay_download(ctx, operation, pipeline, upstream, out_headers)
            if operation.lines is not None:
                return await relay_lines(ctx, operation, pipeline, upstream, out_headers)
            if upstream.content_type == "text/event-stream" and operation.stream is not None:
                await ctx.recorder.record(
                    ctx.exchange,
                    RecordKind.RESPONSE_START,
                    {"status": upstream.status, "content_type": upstream.content_type},
                )
                relay = StreamRelay(ctx, operation, pipeline, out_headers)
                return await relay.run(upstream)
            if operation.body is not None and upstream.content_type.endswith("json"):
                return await relay_json(ctx, operation, pipeline, upstream, out_headers)
            if (operation.body is not None or operation.stream is not None) and (
                upstream.content_length != 0
            ):
                # Model output in a form no adapter reads would pass every
                # response inspector by: refuse it rather than relay it unread.
                return _fail(
                    ctx,
                    GatewayError(
                        ErrorKind.UPSTREAM,
                        f"the upstream answered {operation.name} with content type "
                        f"{upstream.content_type!r}, which Warden cannot inspect",
                    ),
                )
            return await relay_raw(ctx, upstream, out_headers)
    except TimeoutError:
        return _fail(
            ctx,
            GatewayError(ErrorKind.TIMEOUT, f"the upstream of {connection.name!r} timed out"),
            outcome="upstream_timeout",
        )
    except aiohttp.ClientError as exc:
        log_fields(log, logging.WARNING, "upstream failed", error=type(exc).__name__, **_ids(ctx))
        return _fail(
            ctx,
            GatewayError(
                ErrorKind.UPSTREAM,
                f"the upstream of {connection.name!r} is unreachable or failed "
                f"({type(exc).__name__})",
            ),
            outcome="upstream_error",
        )


async def _read_body(request: web.Request, limit: int) -> bytes | GatewayError:
    declared = request.content_length
    if declared is not None and declared > limit:
        return GatewayError(
            ErrorKind.TOO_LARGE, f"the request body is {declared} bytes; the limit is {limit}"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            return GatewayError(ErrorKind.TOO_LARGE, f"the request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _raw_tail(request: web.Request) -> str:
    """The path after ``/<connection>/`` exactly as the agent sent it: the
    decoded form would turn ``a%2Fb`` into two segments and ``%3F`` into
    the start of a query."""
    return request.rel_url.raw_path.lstrip("/").partition("/")[2]


def _ids(ctx: Context) -> dict[str, Any]:
    return {
        "exchange": ctx.exchange.id,
        "session": ctx.exchange.session_id,
        "connection": ctx.connection.name,
        "subject": ctx.exchange.identity.subject,
    }


def _inspection_failed(ctx: Context) -> GatewayError:
    return GatewayError(
        ErrorKind.INTERNAL,
        f"Warden stopped this exchange because an inspector failed (exchange {ctx.exchange.id}); "
        "nothing was forwarded",
    )


def _fail(ctx: Context, error: GatewayError, outcome: str = "error") -> web.Response:
    ctx.status = error.status
    if ctx.outcome == "ok":
        ctx.outcome = outcome
    return error_response(error, ctx.connection.flavor)


async def _record_decisions(ctx: Context, decisions: list[Decision], direction: Direction) -> None:
    for decision in decisions:
        await ctx.recorder.record(
            ctx.exchange,
            RecordKind.DECISION,
            {**decision.as_record(), "direction": direction.value},
        )


async def _finish(ctx: Context) -> None:
    ms = round((time.perf_counter() - ctx.started) * 1000, 2)
    exchange = ctx.exchange
    fields = {
        **_ids(ctx),
        "method": ctx.request.method,
        "path": ctx.request.match_info.get("tail", ""),
        "operation": exchange.operation,
        "stream": exchange.streaming,
        "status": ctx.status,
        "outcome": ctx.outcome,
        "ms": ms,
        "decisions": len(exchange.decisions),
    }
    if "held_max" in exchange.state:
        fields["held_max"] = exchange.state["held_max"]
    log_fields(log, logging.INFO, "exchange", **fields)
    state = ctx.request.app[STATE]
    state.metrics.observe(ctx.connection.name, ctx.status, ctx.outcome, exchange)
    try:
        if not ctx.ended:
            await record_decisions(ctx)
            await record_end(ctx)
        await ctx.recorder.settle(exchange)
    except Exception:
        log.exception("recording the end of an exchange failed", extra={"fields": _ids(ctx)})


__all__ = ["Context", "Identity", "error_response", "guess_flavor", "proxy"]
_ = RUNTIME
