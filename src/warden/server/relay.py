"""Carrying the upstream's answer back to the agent.

Three shapes: an SSE stream run event by event through the protocol's
stream adapter; a JSON body run through its body transform; anything else
streamed through untouched. Back-pressure is natural: the next upstream
chunk is read only after the previous write to the agent has drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from warden.errors import (
    ErrorKind,
    Flavor,
    GatewayError,
    error_body,
    recording_failed,
    stream_error_event,
)
from warden.httpio import read_up_to
from warden.pipeline.chain import Pipeline
from warden.pipeline.record import NullRecorder, RecordingFailed, RecordKind
from warden.protocols.base import (
    Block,
    ChannelBook,
    Hold,
    Item,
    Patch,
    Restored,
    Wire,
    blocked_error,
    dumps_bytes,
    patched,
)
from warden.protocols.registry import Operation
from warden.protocols.sse import RemoteProtocolError, SSEDecoder, SSEEvent
from warden.server.keys import APPROVALS

if TYPE_CHECKING:
    from warden.server.handler import Context


log = logging.getLogger("warden.exchange")

MAX_JSON_RESPONSE = 64 * 1024 * 1024
KEEPALIVE_SECONDS = 10.0
_ANTHROPIC_PING = b'event: ping\ndata: {"type":"ping"}\n\n'
_SSE_COMMENT = b": warden holding for review\n\n"


async def send_now(ctx: Context, response: web.Response) -> web.Response:
    """Send a whole response before the handler returns it, so the agent
    does not wait for what follows (the record, the log line, metrics)."""
    try:
        await response.prepare(ctx.request)
        await response.write_eof()
    except ConnectionError:
        ctx.outcome = "cancelled"  # the agent went away; aiohttp ignores the rest
    return response


async def record_end(ctx: Context, **response: Any) -> None:
    """Close the exchange's record: outcome, status, duration, and for a
    whole response the response itself (one event, not two)."""
    ms = round((time.perf_counter() - ctx.started) * 1000, 2)
    ctx.ended = True
    await ctx.recorder.record(
        ctx.exchange,
        RecordKind.END,
        {"outcome": ctx.outcome, "status": ctx.status, "ms": ms, **response},
    )


class Chunks:
    """An upstream body's reads, after bytes already read from it (a peek)."""

    def __init__(self, reader: aiohttp.StreamReader, first: bytes = b"") -> None:
        self._reader = reader
        self._first = first

    async def next(self) -> bytes:
        """The next bytes; ``b""`` at the end."""
        if self._first:
            first, self._first = self._first, b""
            return first
        return await self._reader.readany()


async def relay_raw(
    ctx: Context,
    upstream: aiohttp.ClientResponse,
    headers: CIMultiDict[str],
    *,
    first: bytes = b"",
    why: str | None = None,
) -> web.StreamResponse:
    """Pass a body through, scrubbing any echo of the upstream credential.

    An error body is read whole (it is small, and the agent needs all of
    it); anything else is streamed, however large (a file download), with
    a scrubber that finds a credential split across two reads. ``why``:
    the body is one the inspectors would read but cannot (a binary
    download), recorded as not inspected, and why."""
    broker = ctx.connection.broker
    if upstream.status >= 400:
        body = await upstream.read()
        body = broker.scrub(body)
        await record_end(ctx, content_type=upstream.content_type, bytes=len(body))
        await ctx.recorder.settle(ctx.exchange)
        return web.Response(status=upstream.status, body=body, headers=headers)
    response = web.StreamResponse(status=upstream.status, headers=headers)
    await response.prepare(ctx.request)
    scrubber = broker.scrubber()
    total = 0
    chunks = Chunks(upstream.content, first)
    while True:
        try:
            chunk = await chunks.next()
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Only the upstream's read is guarded: a failed write to the
            # agent (it went away) is a ConnectionResetError for the caller.
            await cut_short(ctx, response, upstream, total, exc)
            return response
        if not chunk:
            break
        total += len(chunk)
        out = scrubber.feed(chunk)
        if out:
            await response.write(out)
    await response.write_eof(scrubber.finish())
    unread = {} if why is None else {"inspected": False, "why": why}
    await record_end(ctx, content_type=upstream.content_type, bytes=total, **unread)
    return response


async def cut_short(
    ctx: Context,
    response: web.StreamResponse,
    upstream: aiohttp.ClientResponse,
    total: int,
    exc: BaseException,
) -> None:
    """The upstream broke a body that is already on its way to the agent.

    The status line went out, so no error response can follow: the agent's
    connection is closed without the body's end (no last chunk), which is
    how the agent's HTTP client learns the body is incomplete, exactly as
    it would from the upstream itself. The bytes the scrubber still holds
    (at most a possible credential echo's length) are dropped: the body is
    cut anyway, and they could be the start of a credential."""
    message = f"the upstream broke the response body after {total} bytes ({type(exc).__name__})"
    log.warning(message, extra={"fields": {"exchange": ctx.exchange.id}})
    ctx.outcome = "upstream_error"
    try:
        await record_end(ctx, content_type=upstream.content_type, bytes=total, error=message)
    except RecordingFailed:  # strict mode: the body is cut all the same
        log.exception("recording failed in strict mode", extra={"fields": ids(ctx)})
        ctx.outcome = "recording_failed"
    close_cut(ctx, response)


def close_cut(ctx: Context, response: web.StreamResponse) -> None:
    """End a body already on its way without its last chunk: the agent's
    client learns it is incomplete."""
    transport = ctx.request.transport
    if transport is not None:
        transport.close()
    # What aiohttp does with the returned response (its last chunk) now
    # meets a closed transport and goes nowhere.
    response.force_close()


async def relay_json(
    ctx: Context,
    operation: Operation,
    pipeline: Pipeline,
    upstream: aiohttp.ClientResponse,
    headers: CIMultiDict[str],
) -> web.StreamResponse:
    assert operation.body is not None
    raw = await read_up_to(upstream.content, MAX_JSON_RESPONSE + 1)
    if len(raw) > MAX_JSON_RESPONSE:
        return error_answer(
            ctx, GatewayError(ErrorKind.UPSTREAM, "the upstream response is too large")
        )
    try:
        body = json.loads(raw)
    except ValueError:
        return error_answer(
            ctx, GatewayError(ErrorKind.UPSTREAM, "the upstream sent malformed JSON")
        )
    if ctx.policy.raw_recording and getattr(ctx.recorder, "raw_enabled", False):
        await ctx.recorder.record_raw(  # type: ignore[attr-defined]
            ctx.exchange, RecordKind.RESPONSE_BODY, {"body": json.loads(raw)}
        )
    try:
        result = operation.body(body, ctx.exchange, pipeline) or []
    except Exception:
        log.exception("response inspection failed", extra={"fields": {"exchange": ctx.exchange.id}})
        return error_answer(ctx, _failed(ctx))
    await record_decisions(ctx)
    blocks = [item for item in result if isinstance(item, Block)]
    if blocks:
        ctx.outcome = "blocked"
        return error_answer(ctx, blocked_error(blocks[0].decision))
    patches = [item for item in result if isinstance(item, Patch)]
    if patches:
        # The agent's copy gets vault values back in its tool arguments; the
        # body recorded below keeps the placeholders.
        with patched(patches):
            encoded = dumps_bytes(body)
    elif ctx.exchange.state.get("rewritten"):
        encoded = dumps_bytes(body)
    else:
        encoded = raw  # nothing changed: the upstream's bytes, as they were
    out = ctx.connection.broker.scrub(encoded)
    headers["Content-Type"] = "application/json"
    response = web.Response(status=upstream.status, body=out, headers=headers)
    if ctx.recorder.strict_for(ctx.exchange):
        # The answer waits for its record: one that cannot be stored fails it.
        await record_end(ctx, content_type=upstream.content_type, body=body)
        await ctx.recorder.settle(ctx.exchange)
        return await send_now(ctx, response)
    try:
        return await send_now(ctx, response)
    finally:
        await record_end(ctx, content_type=upstream.content_type, body=body)


async def relay_lines(
    ctx: Context,
    operation: Operation,
    pipeline: Pipeline,
    upstream: aiohttp.ClientResponse,
    headers: CIMultiDict[str],
    *,
    first: bytes = b"",
) -> web.StreamResponse:
    """A JSON Lines body (batch results), inspected a line at a time as it
    streams, however large the file: each whole line read is parsed,
    inspected, recorded and written; a part line waits for its end.

    The status line is out before the first line is read, so a line that
    is not JSON, one longer than the event limit, an inspector that fails
    or an upstream that breaks cut the body short (no last chunk): the
    agent's client reports an incomplete body rather than take the rest.

    ``first``: the start of the body, read already (a download's first line,
    which told it from other files: :mod:`warden.server.downloads`)."""
    assert operation.lines is not None
    transform = operation.lines
    limit = ctx.runtime.config.limits.max_event_bytes
    response = web.StreamResponse(status=upstream.status, headers=headers)
    await response.prepare(ctx.request)
    broker = ctx.connection.broker
    pending = bytearray()  # the part line read so far
    total = lines = 0
    t0 = time.monotonic()
    chunks = Chunks(upstream.content, first)
    while True:
        try:
            chunk = await chunks.next()
        except (aiohttp.ClientError, TimeoutError) as exc:
            await cut_short(ctx, response, upstream, total, exc)
            return response
        total += len(chunk)
        pending += chunk
        cut = pending.rfind(b"\n") + 1 if chunk else len(pending)
        parts = bytes(pending[:cut]).split(b"\n")
        del pending[:cut]
        if len(pending) > limit:
            await cut_short(ctx, response, upstream, total, ValueError("a line over the limit"))
            return response
        wire: list[bytes] = []
        recorded: list[Any] = []
        for raw in parts:
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError as exc:
                await cut_short(ctx, response, upstream, total, exc)
                return response
            try:
                patches = transform(line, ctx.exchange, pipeline) or []
            except Exception:
                log.exception("results inspection failed", extra={"fields": ids(ctx)})
                ctx.outcome = "error"  # the exchange's end is recorded as it finishes
                close_cut(ctx, response)
                return response
            with patched(patches):
                wire.append(dumps_bytes(line) + b"\n")
            recorded.append(line)
        lines += len(recorded)
        if recorded:
            try:
                await ctx.recorder.record(
                    ctx.exchange,
                    RecordKind.RESPONSE_EVENT,
                    {"t": round(time.monotonic() - t0, 4), "lines": recorded},
                )
                await record_decisions(ctx)
            except RecordingFailed:
                # Strict mode: what cannot be recorded is not sent, and the
                # status is out, so the body is cut (not an error answer).
                log.exception("recording failed in strict mode", extra={"fields": ids(ctx)})
                ctx.outcome = "recording_failed"
                close_cut(ctx, response)
                return response
            await response.write(broker.scrub(b"".join(wire)))
        if not chunk:
            break
    await response.write_eof()
    await record_end(ctx, content_type=upstream.content_type, lines=lines, bytes=total)
    return response


def ids(ctx: Context) -> dict[str, Any]:
    return {"exchange": ctx.exchange.id, "session": ctx.exchange.session_id}


def error_answer(ctx: Context, error: GatewayError) -> web.Response:
    ctx.status = error.status
    if ctx.outcome == "ok":
        ctx.outcome = "error"
    return web.Response(
        status=error.status,
        body=error_body(error, ctx.connection.flavor),
        content_type="application/json",
    )


def _failed(ctx: Context) -> GatewayError:
    return GatewayError(
        ErrorKind.INTERNAL,
        f"Warden stopped this response because an inspector failed (exchange {ctx.exchange.id})",
    )


async def record_decisions(ctx: Context) -> None:
    """Record the response decisions not recorded yet.

    Also called when the exchange ends, however it ends: an agent that
    closes the connection as soon as it has the last bytes (SDKs do, at
    ``[DONE]``) can cut the relay off between its write and this, and a
    decision the agent already got the effect of must still be in the record.
    """
    decisions = ctx.exchange.decisions
    while ctx.decisions_recorded < len(decisions):
        decision = decisions[ctx.decisions_recorded]
        ctx.decisions_recorded += 1
        await ctx.recorder.record(
            ctx.exchange, RecordKind.DECISION, {**decision.as_record(), "direction": "response"}
        )


def _event_fields(raw: bytes) -> dict[str, str]:
    r"""One encoded SSE event as ``{"event", "data"}`` for the recording.

    Lines end only in ``\n``, ``\r\n`` or ``\r`` (not at U+2028 or U+0085,
    which JSON carries raw in a string); one ``data:`` line, the usual
    event, is read without a split."""
    text = raw.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.rstrip("\n")
    if text.startswith("data: ") and "\n" not in text:
        return {"data": text[6:]}
    name = ""
    data: list[str] = []
    for line in text.split("\n"):
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line.startswith("event:"):
            name = line[6:].strip()
    out = {"data": "\n".join(data)}
    if name:
        out["event"] = name
    return out


class StreamRelay:
    """Runs one SSE response through the stream adapter to the agent."""

    def __init__(
        self,
        ctx: Context,
        operation: Operation,
        pipeline: Pipeline,
        headers: CIMultiDict[str],
    ) -> None:
        assert operation.stream is not None
        self.ctx = ctx
        self.operation = operation
        self.adapter = operation.stream(ctx.exchange, pipeline)
        book = getattr(self.adapter, "book", None)
        self.book: ChannelBook | None = book if isinstance(book, ChannelBook) else None
        self.first_out = False
        self.headers = headers
        self.response = web.StreamResponse(status=200, headers=headers)
        self.decoder = SSEDecoder(max_event_bytes=ctx.runtime.config.limits.max_event_bytes)
        self.t0 = time.monotonic()
        self.recording = not isinstance(ctx.recorder, NullRecorder)
        """Whether released events are recorded (parsing them back costs per event)."""
        self.strict = ctx.recorder.strict_for(ctx.exchange)

    async def run(self, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
        ctx = self.ctx
        self.response.headers["Cache-Control"] = "no-cache"
        await self.response.prepare(ctx.request)
        try:
            ended = False
            raw = ctx.policy.raw_recording and getattr(ctx.recorder, "raw_enabled", False)
            async for chunk in upstream.content.iter_any():
                if raw:
                    await ctx.recorder.record_raw(  # type: ignore[attr-defined]
                        ctx.exchange,
                        RecordKind.RESPONSE_EVENT,
                        {
                            "t": round(time.monotonic() - self.t0, 4),
                            "data": chunk.decode("utf-8", "replace"),
                        },
                    )
                self.decoder.receive_data(chunk)
                if await self._pump():
                    ended = True
                    break
            if not ended:
                cut = self.decoder.buffered
                self.decoder.receive_data(b"")
                if (
                    not await self._pump()
                    and not await self._write(self.adapter.finish())
                    and not self.adapter.saw_end
                ):
                    # What was said is released (masked as a whole text);
                    # the agent must not take it for a finished answer.
                    where = "inside an event" if cut else "between events"
                    await self._end_with(
                        GatewayError(
                            ErrorKind.UPSTREAM,
                            f"the upstream closed the stream {where}, before its last event",
                        )
                    )
        except RemoteProtocolError as exc:
            await self._end_with(
                GatewayError(ErrorKind.UPSTREAM, f"the upstream broke the stream: {exc}")
            )
        except (ConnectionResetError, asyncio.CancelledError):
            # The agent went away (aiohttp's ClientConnectionResetError, raised
            # by a write to the agent, is also a ClientError: this comes first).
            ctx.outcome = "cancelled"
            raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            await self._end_with(
                GatewayError(
                    ErrorKind.UPSTREAM, f"the upstream stream failed ({type(exc).__name__})"
                )
            )
        except RecordingFailed:
            log.exception(
                "recording failed in strict mode", extra={"fields": {"exchange": ctx.exchange.id}}
            )
            ctx.outcome = "recording_failed"
            await self._end_with(recording_failed(ctx.exchange.id), log_it=False)
        except Exception:
            log.exception(
                "stream inspection failed", extra={"fields": {"exchange": ctx.exchange.id}}
            )
            ctx.outcome = "error"
            await self._end_with(_failed(ctx), log_it=False)
        try:
            await ctx.recorder.settle(ctx.exchange)
        except RecordingFailed:
            log.exception(
                "recording failed in strict mode", extra={"fields": {"exchange": ctx.exchange.id}}
            )
            ctx.outcome = "recording_failed"
            await self._end_with(recording_failed(ctx.exchange.id), log_it=False)
        await self.response.write_eof()
        return self.response

    async def _pump(self) -> bool:
        """Feed every complete event, then write what they released at once;
        True once the adapter ended the stream.

        Except the stream's first content: it is written as soon as a
        channel releases it, not after the rest of the read (an upstream
        read can hold a whole short reply), so time to first token stays
        the upstream's own."""
        items: list[Item] = []
        book = self.book
        while True:
            event = self.decoder.next_event()
            if not isinstance(event, SSEEvent):
                break
            released = self.adapter.feed(event)
            items.extend(released)
            if self.adapter.done:
                break
            if book is not None and book.released and not self.first_out and items:
                self.first_out = True
                if not isinstance(items[-1], Hold):
                    if await self._write(items) or self.adapter.done:
                        return True
                    items = []
                    continue
            if released and isinstance(released[-1], Hold):
                # Nothing more is fed until the hold is answered; the
                # events after it wait in the decoder.
                ended = await self._write(items)
                if ended or self.adapter.done:
                    return True
                items = []
        ended = await self._write(items)
        return ended or self.adapter.done

    async def _write(self, items: list[Item]) -> bool:
        """Write items; True when the stream has ended (a block)."""
        pending: list[Wire] = []
        for item in items:
            if isinstance(item, (bytes, Restored)):
                pending.append(item)
                continue
            await self._flush(pending)
            pending = []
            if isinstance(item, Block):
                self.ctx.outcome = "blocked"
                await self._record_decisions()
                await self._end_with(blocked_error(item.decision), log_it=False)
                return True
            if isinstance(item, Hold):
                approved, message = await self._hold(item)
                await self._flush(item.resume(approved, message))
                if not approved:
                    self.ctx.outcome = "denied"
        await self._flush(pending)
        await self._record_decisions()
        return False

    async def _flush(self, chunks: list[Wire]) -> None:
        """One write to the agent and one record for everything released
        (a :class:`Restored` event: its delivered form written, its recorded
        form, with the placeholders, recorded)."""
        if not chunks:
            return
        broker = self.ctx.connection.broker
        sent = [c if isinstance(c, bytes) else c.delivered for c in chunks]
        data = broker.scrub(b"".join(sent))
        if not self.recording:
            await self.response.write(data)
            return
        t = round(time.monotonic() - self.t0, 4)
        if self.strict:
            # Recorded first: what cannot be recorded is never sent.
            await self._record(chunks, t)
            await self.response.write(data)
            return
        # Best effort: the agent does not wait for the record. The write is
        # where an agent that has gone away surfaces; what was released is
        # recorded all the same.
        try:
            await self.response.write(data)
        finally:
            await self._record(chunks, t)

    async def _record(self, chunks: list[Wire], t: float) -> None:
        events = [_event_fields(c if isinstance(c, bytes) else c.recorded) for c in chunks]
        await self.ctx.recorder.record(
            self.ctx.exchange, RecordKind.RESPONSE_EVENT, {"t": t, "events": events}
        )

    async def _record_decisions(self) -> None:
        await record_decisions(self.ctx)

    async def _hold(self, hold: Hold) -> tuple[bool, str]:
        ctx = self.ctx
        await self._record_decisions()
        approvals = ctx.request.app[APPROVALS]
        await ctx.recorder.record(
            ctx.exchange,
            RecordKind.HOLD,
            {"rule": hold.decision.rule, "channel": hold.channel.key},
        )
        task = asyncio.ensure_future(approvals.review(ctx.exchange, hold))
        keepalive = _ANTHROPIC_PING if ctx.connection.flavor is Flavor.ANTHROPIC else _SSE_COMMENT
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=KEEPALIVE_SECONDS)
                if done:
                    break
                await self.response.write(keepalive)
        finally:
            if not task.done():
                task.cancel()
        approved, message = task.result()
        await ctx.recorder.record(
            ctx.exchange,
            RecordKind.APPROVAL,
            {"rule": hold.decision.rule, "approved": approved, "message": message},
        )
        return approved, message

    async def _end_with(self, error: GatewayError, *, log_it: bool = True) -> None:
        ctx = self.ctx
        if log_it:
            log.warning(error.message, extra={"fields": {"exchange": ctx.exchange.id}})
        if ctx.outcome == "ok":
            ctx.outcome = "error"
        event = stream_error_event(
            error, ctx.connection.flavor, responses_api=self.operation.responses_api
        )
        await ctx.recorder.record(ctx.exchange, RecordKind.ERROR, {"message": error.message})
        with contextlib.suppress(ConnectionResetError):
            await self.response.write(event)
