"""OpenAI's legacy text Completions (``/completions``; Azure deployments too).

One prompt in, text out. What the agent sends: ``prompt`` (a string or a
list of strings; token arrays carry no text to scan) and ``suffix``. What
comes back: each choice's ``text``, the channel ``choice/<i>/text``, streamed
as chunks of the same shape ending with ``data: [DONE]``, or whole.
``logprobs`` (the output again, token by token) are emptied.

Denied or held text works as in Chat Completions: a denial replaces the rest
of the choice's text with the reason and ends it with ``finish_reason:
"stop"``; a hold pauses the chunk until a reviewer answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from warden.pipeline.chain import Pipeline
from warden.pipeline.types import Channel, ChannelKind, Decision, Exchange, Flow, SlotKind, TextSlot
from warden.protocols.base import (
    Block,
    ChannelBook,
    Hold,
    Item,
    Wire,
    denial_text,
    dumps,
    openai_chunk,
    user_strings,
)
from warden.protocols.sse import RemoteProtocolError, SSEEvent, encode_event

_DONE = b"data: [DONE]\n\n"


def iter_completion_slots(body: Any) -> Iterator[TextSlot]:
    if not isinstance(body, dict):
        return
    yield from user_strings(body, "prompt")
    if isinstance(body.get("suffix"), str):
        yield TextSlot(("suffix",), SlotKind.USER, body["suffix"], "user")


class CompletionStream:
    """Sans-IO transformer of one text Completions chunk stream."""

    def __init__(self, exchange: Exchange, pipeline: Pipeline) -> None:
        self.book = ChannelBook(exchange, pipeline)
        self.template: dict[str, Any] = {}
        self.done = False
        self.saw_end = False

    def feed(self, event: SSEEvent) -> list[Item]:
        data = openai_chunk(self, event)
        if isinstance(data, list):
            return data
        changed = False
        for choice in data["choices"]:
            if not isinstance(choice, dict) or not isinstance(choice.get("index"), int):
                continue
            if choice.get("logprobs"):
                choice["logprobs"] = None
                changed = True
            key = f"choice/{choice['index']}/text"
            text = choice.get("text")
            if isinstance(text, str) and text:
                if self.book.get(key) is None:
                    if key in self.book.closed:
                        raise RemoteProtocolError(f"{key} sent text after it finished")
                    self.book.start(Channel(key, ChannelKind.TEXT))
                out, flow = self.book.feed(key, text)
                if flow is not None:
                    return self._stop(flow, data, choice, out.text)
                if out.text != text:
                    choice["text"] = out.text
                    changed = True
            if choice.get("finish_reason") is not None and self.book.get(key) is not None:
                last, flow = self.book.end(key)
                before = choice["text"] if isinstance(choice.get("text"), str) else ""
                if flow is not None:
                    return self._stop(flow, data, choice, before + last.text)
                if last.text:
                    choice["text"] = before + last.text
                    changed = True
        return [self._encode(data)] if changed else [event.raw]

    def finish(self) -> list[Item]:
        """Release what is still held (the upstream ended, or sent ``[DONE]``)."""
        choices = []
        for key in list(self.book.open):
            out, flow = self.book.end(key)
            index = int(key.split("/")[1])
            if flow is not None and flow.flow is Flow.BLOCK:
                self.done = True
                return [Block(flow)]
            text = denial_text(flow) if flow is not None else out.text
            if text:
                choices.append(
                    {"index": index, "text": text, "logprobs": None, "finish_reason": None}
                )
        return [self._encode({**self.template, "choices": choices})] if choices else []

    def _encode(self, data: dict[str, Any]) -> bytes:
        return encode_event(dumps(data))

    def _stop(
        self, decision: Decision, data: dict[str, Any], choice: dict[str, Any], text: str
    ) -> list[Item]:
        """A channel stopped: block the exchange, deny the rest of the text, or
        hold ``text`` (what approval releases) for a reviewer."""
        if decision.flow is Flow.BLOCK:
            self.done = True
            return [Block(decision)]
        key = f"choice/{choice['index']}/text"
        channel = (self.book.get(key) or self.book.closed[key]).channel

        def resume(approved: bool, message: str) -> list[Wire]:
            if approved:
                choice["text"] = text
                return [self._encode(data)]
            choice["text"] = "\n" + denial_text(decision, message)
            choice["finish_reason"] = "stop"
            self.done = True
            return [self._encode(data), _DONE]

        if decision.flow is Flow.HOLD:
            return [Hold(decision, channel, text, resume)]
        choice["text"] = denial_text(decision)
        choice["finish_reason"] = "stop"
        self.done = True
        return [self._encode(data), _DONE]


def transform_completion_body(
    body: Any, exchange: Exchange, pipeline: Pipeline
) -> list[Block] | None:
    """Inspect a non-streamed completion in place (what is recorded); returns
    ``[Block]`` to refuse it."""
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        return None
    book = ChannelBook(exchange, pipeline, complete=True)
    for choice in body["choices"]:
        if not isinstance(choice, dict):
            continue
        if choice.get("logprobs"):
            choice["logprobs"] = None
            exchange.state["rewritten"] = True
        if not isinstance(choice.get("text"), str):
            continue
        key = f"choice/{choice.get('index', 0)}/text"
        book.start(Channel(key, ChannelKind.TEXT))
        first, fed = book.feed(key, choice["text"])
        last, ended = book.end(key)
        flow = fed or ended
        if flow is not None and flow.flow is Flow.BLOCK:
            return [Block(flow)]
        # held text in a whole body cannot be paused: it is denied
        choice["text"] = denial_text(flow) if flow else first.text + last.text
    return None
