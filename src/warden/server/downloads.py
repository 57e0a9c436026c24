"""File downloads: a text file's content inspected as it streams.

What a download holds is known only from its first bytes: the providers
serve a file as ``application/octet-stream`` or as the type it was stored
with. Anthropic's ``GET /v1/files/{id}/content`` serves the files its code
execution tool and skills wrote, which is model output like any other;
OpenAI's ``GET /files/{id}/content`` (and a container's files) may be a
batch's answers, read line by line (:func:`relay.relay_lines`), or any
other file. So, after the batch check:

* a body that starts as UTF-8 text without NUL bytes is one text channel
  through the response inspectors. Each read is scrubbed of credential
  echoes, decoded (a character cut between two reads waits for its end),
  fed to the channel, and what the channel lets through is recorded and
  written at once: a large file is never held whole (the channel keeps no
  copy), and the stream masker holds back only what could still become a
  match, so the agent gets the file as it arrives.
* anything else (an image, a PDF, an archive) passes byte for byte, as
  :func:`relay.relay_raw` passes it, recorded as not inspected.

The status line goes out before the body is read past its start, so what
cannot be finished is cut short (no last chunk), and the agent's client
reports an incomplete body: bytes that are not UTF-8 after a text start, a
rule that blocks, an inspector that fails, an upstream that breaks.
Nothing of a text file goes out unread.
"""

from __future__ import annotations

import codecs
import logging
import time
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from warden.errors import ErrorKind, GatewayError
from warden.pipeline.chain import Pipeline
from warden.pipeline.record import RecordingFailed, RecordKind
from warden.pipeline.types import EMPTY, Channel, ChannelKind, ChannelOut
from warden.protocols.registry import Operation
from warden.server.relay import (
    Chunks,
    close_cut,
    cut_short,
    error_answer,
    ids,
    record_decisions,
    record_end,
    relay_lines,
    relay_raw,
)

if TYPE_CHECKING:
    from warden.server.handler import Context

log = logging.getLogger("warden.exchange")

SNIFF_BYTES = 8192
"""How much of a download's start decides whether it is text."""
_BINARY_TYPES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")
"""Content types that say a file is binary whatever its first bytes look like."""
CHANNEL = Channel("file", ChannelKind.TEXT)


def looks_like_text(head: bytes) -> bool:
    """Whether a body starting with ``head`` is UTF-8 text: its first
    :data:`SNIFF_BYTES` (or fewer, all that came) decode, a character cut at
    their end aside, and hold no NUL byte."""
    sample = head[:SNIFF_BYTES]
    if not sample or b"\x00" in sample:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


async def relay_download(
    ctx: Context,
    operation: Operation,
    pipeline: Pipeline,
    upstream: aiohttp.ClientResponse,
    headers: CIMultiDict[str],
) -> web.StreamResponse:
    """A file's content: a batch's output line by line, a text file through
    the inspectors as it streams, anything else as it is."""
    if upstream.status >= 400:
        return await relay_raw(ctx, upstream, headers)
    limit = ctx.runtime.config.limits.max_event_bytes
    try:
        head = await _head(upstream.content, limit, line=operation.sniff is not None)
    except (aiohttp.ClientError, TimeoutError) as exc:
        ctx.outcome = "upstream_error"  # nothing was sent yet: an error answer
        message = f"the upstream broke the body before its start was read ({type(exc).__name__})"
        return error_answer(ctx, GatewayError(ErrorKind.UPSTREAM, message))
    if operation.sniff is not None and operation.sniff(head.split(b"\n", 1)[0]):
        return await relay_lines(ctx, operation, pipeline, upstream, headers, first=head)
    if not head:
        return await relay_raw(ctx, upstream, headers)
    if upstream.content_type.startswith(_BINARY_TYPES) or not looks_like_text(head):
        return await relay_raw(ctx, upstream, headers, first=head, why="binary (not UTF-8 text)")
    return await _relay_text(ctx, pipeline, upstream, headers, head)


async def _head(reader: aiohttp.StreamReader, limit: int, *, line: bool) -> bytes:
    """A body's start: its first read, and with ``line`` up to the end of its
    first line (at most ``limit`` bytes), for the batch check. Never more: an
    upstream may send a little and wait for the agent to have it."""
    head = bytearray()
    while not head or (line and b"\n" not in head and len(head) <= limit):
        chunk = await reader.readany()
        if not chunk:
            break
        head += chunk
    return bytes(head)


async def _relay_text(
    ctx: Context,
    pipeline: Pipeline,
    upstream: aiohttp.ClientResponse,
    headers: CIMultiDict[str],
    head: bytes,
) -> web.StreamResponse:
    response = web.StreamResponse(status=upstream.status, headers=headers)
    await response.prepare(ctx.request)
    channel = pipeline.open_channel(ctx.exchange, CHANNEL, keep=False)
    scrubber = ctx.connection.broker.scrubber()
    decoder = codecs.getincrementaldecoder("utf-8")()
    chunks = Chunks(upstream.content, head)
    total = 0
    t0 = time.monotonic()
    while True:
        try:
            chunk = await chunks.next()
        except (aiohttp.ClientError, TimeoutError) as exc:
            await cut_short(ctx, response, upstream, total, exc)
            return response
        total += len(chunk)
        try:
            if chunk:
                text = decoder.decode(scrubber.feed(chunk))
                out = channel.feed(text) if text else EMPTY
            else:
                text = decoder.decode(scrubber.finish(), final=True)
                fed = channel.feed(text) if text else EMPTY
                last = channel.end()
                out = ChannelOut(fed.text + last.text, fed.decisions + last.decisions)
        except UnicodeDecodeError:
            message = f"the file is not UTF-8 text after {total} bytes: the rest cannot be read"
            await _stop(ctx, response, upstream, total, "error", message)
            return response
        except Exception:
            log.exception("download inspection failed", extra={"fields": ids(ctx)})
            await _stop(ctx, response, upstream, total, "error", "an inspector failed")
            return response
        ctx.exchange.decisions.extend(out.decisions)
        stop = out.flow_decision
        if stop is not None:
            message = f"rule {stop.rule} stopped the download ({stop.reason})"
            await _stop(ctx, response, upstream, total, "blocked", message)
            return response
        if out.text or out.decisions:
            try:
                if out.text:
                    await ctx.recorder.record(
                        ctx.exchange,
                        RecordKind.RESPONSE_EVENT,
                        {"t": round(time.monotonic() - t0, 4), "text": out.text},
                    )
                await record_decisions(ctx)
            except RecordingFailed:
                # Strict mode: what cannot be recorded is not sent.
                log.exception("recording failed in strict mode", extra={"fields": ids(ctx)})
                ctx.outcome = "recording_failed"
                close_cut(ctx, response)
                return response
            if out.text:
                await response.write(out.text.encode("utf-8"))
        if not chunk:
            break
    await response.write_eof()
    await record_end(ctx, content_type=upstream.content_type, bytes=total, inspected="text")
    return response


async def _stop(
    ctx: Context,
    response: web.StreamResponse,
    upstream: aiohttp.ClientResponse,
    total: int,
    outcome: str,
    message: str,
) -> None:
    """End a text download already on its way, without its last chunk."""
    log.warning(message, extra={"fields": ids(ctx)})
    ctx.outcome = outcome
    try:
        await record_decisions(ctx)
        await record_end(ctx, content_type=upstream.content_type, bytes=total, error=message)
    except RecordingFailed:  # strict mode: the body is cut all the same
        log.exception("recording failed in strict mode", extra={"fields": ids(ctx)})
        ctx.outcome = "recording_failed"
    close_cut(ctx, response)
