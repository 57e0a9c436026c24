"""Anthropic's legacy Text Completions (``/v1/complete``).

One prompt in (``\\n\\nHuman: ...\\n\\nAssistant:``, inspected on the request
side with the Messages API's slots), text out. What comes back is one
channel, ``completion``: the body's ``completion`` field, or, streamed,
``event: completion`` events whose ``completion`` field is the next piece
of text; the event whose ``stop_reason`` is set is the stream's last.
``ping`` and ``error`` events (and any event this module does not know)
pass as their raw bytes.

Before this module the endpoint's output passed through unread, so an
agent could get unmasked model output by calling it; now it is masked like
every other channel. Denied text ends the completion there with the reason
and ``stop_reason: "stop_sequence"`` (the API's natural end); held text
waits for a reviewer.
"""

from __future__ import annotations

from typing import Any

from warden.pipeline.chain import Pipeline
from warden.pipeline.types import Channel, ChannelKind, Decision, Exchange, Flow
from warden.protocols.base import (
    Block,
    ChannelBook,
    Hold,
    Item,
    Wire,
    denial_text,
    dumps,
    loads_event,
    whole_text,
)
from warden.protocols.sse import RemoteProtocolError, SSEEvent, encode_event

KEY = "completion"
_ENDING = "stop_sequence"


class CompleteStream:
    """Sans-IO transformer of one Text Completions event stream."""

    def __init__(self, exchange: Exchange, pipeline: Pipeline) -> None:
        self.book = ChannelBook(exchange, pipeline)
        self.template: dict[str, Any] = {}
        self.done = False
        self.saw_end = False

    def feed(self, event: SSEEvent) -> list[Item]:
        if self.done:
            return []
        if not event.has_data:
            return [event.raw]
        data = loads_event(event.data)
        if not isinstance(data, dict) or data.get("type") != "completion":
            self.saw_end |= isinstance(data, dict) and data.get("type") == "error"
            return [event.raw]
        if self.saw_end:
            raise RemoteProtocolError("the upstream sent a completion after its last one")
        if not self.template:
            self.template = {k: data[k] for k in ("type", "id", "model") if k in data}
        text = data.get("completion")
        ending = data.get("stop_reason") is not None
        self.saw_end = ending
        released = ""
        if isinstance(text, str) and text:
            if self.book.get(KEY) is None:
                self.book.start(Channel(KEY, ChannelKind.TEXT))
            out, flow = self.book.feed(KEY, text)
            if flow is not None:
                return self._stop(flow, data, out.text, ending)
            released = out.text
        if ending and self.book.get(KEY) is not None:
            last, flow = self.book.end(KEY)
            if flow is not None:
                return self._stop(flow, data, released + last.text, ending)
            released += last.text
        if released == text or (not released and not isinstance(text, str)):
            return [event.raw]
        if not released and not ending:
            return []  # all of it held: nothing to send yet
        data["completion"] = released
        return [self._encode(data)]

    def finish(self) -> list[Item]:
        """The upstream ended without a last completion: release what is held."""
        if self.book.get(KEY) is None:
            return []
        out, flow = self.book.end(KEY)
        if flow is not None and flow.flow is Flow.BLOCK:
            self.done = True
            return [Block(flow)]
        text = denial_text(flow) if flow is not None else out.text
        if not text:
            return []
        return [self._encode({**self.template, "completion": text, "stop_reason": None})]

    def _encode(self, data: dict[str, Any]) -> bytes:
        return encode_event(dumps(data), event="completion")

    def _stop(
        self, decision: Decision, data: dict[str, Any], text: str, ending: bool
    ) -> list[Item]:
        """The channel stopped: block the exchange, deny the rest of the text,
        or hold ``text`` (what approval releases) for a reviewer."""
        if decision.flow is Flow.BLOCK:
            self.done = True
            return [Block(decision)]
        channel = (self.book.get(KEY) or self.book.closed[KEY]).channel

        def deny(why: Decision, message: str | None) -> list[Wire]:
            data["completion"] = "\n" + denial_text(why, message)
            data["stop_reason"] = _ENDING
            self.done = True
            return [self._encode(data)]

        def resume(approved: bool, message: str) -> list[Wire]:
            if not approved:
                return deny(decision, message)
            rest = ""
            if ending and self.book.get(KEY) is not None:
                # the last event: what the channel still holds goes with it
                last, flow = self.book.end(KEY)
                if flow is not None:  # a later rule stopped it: fail closed
                    return deny(flow, None)
                rest = last.text
            data["completion"] = text + rest
            return [self._encode(data)]

        if decision.flow is Flow.HOLD:
            return [Hold(decision, channel, text, resume)]
        data["completion"] = denial_text(decision)
        data["stop_reason"] = _ENDING
        self.done = True
        return [self._encode(data)]


def transform_complete_body(
    body: Any, exchange: Exchange, pipeline: Pipeline
) -> list[Block] | None:
    """Inspect a non-streamed completion in place (what is recorded); returns
    ``[Block]`` to refuse it."""
    if not isinstance(body, dict) or not isinstance(body.get("completion"), str):
        return None
    book = ChannelBook(exchange, pipeline, complete=True)
    text, flow = whole_text(book, KEY, ChannelKind.TEXT, body["completion"])
    if flow is not None and flow.flow is Flow.BLOCK:
        return [Block(flow)]
    # held text in a whole body cannot be paused: it is denied
    body["completion"] = denial_text(flow) if flow else text
    return None
