"""The Anthropic Messages API: where text lives, and its stream events.

Request side: :func:`iter_slots` yields the system prompt, every message's
text, tool results (file contents, command output), tool inputs, documents
and thinking, each addressed by its JSON path.

Response side: :class:`AnthropicStream` maps content blocks to channels
(``content/<index>``): ``text_delta``, ``thinking_delta`` and
``input_json_delta`` feed the channel; every other event, known or not, is
forwarded as its raw bytes. A ``tool_use`` block's start is held until its
input is released, so a denied call can be replaced by a text block and the
message ends without a ``tool_use`` stop reason. The input of a ``tool_use``
block (a tool Claude Code runs) reaches the agent in the chain's delivery
form (vault values restored, when the policy allows it); the recording keeps
the placeholders. Server and MCP tool blocks run at the provider: they never
get values back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from warden.pipeline.chain import Pipeline
from warden.pipeline.types import (
    Channel,
    ChannelKind,
    Decision,
    Exchange,
    Flow,
    SlotKind,
    TextSlot,
)
from warden.protocols.base import (
    Block,
    ChannelBook,
    Hold,
    Item,
    Patch,
    Restored,
    Wire,
    denial_text,
    dumps,
    loads_event,
    whole_text,
)
from warden.protocols.sse import SSEEvent, encode_event

TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
RESULT_BLOCKS = frozenset({"mcp_tool_result"})
"""Results of tools the provider runs whose texts reach the agent: masked."""
AGENT_TOOLS = frozenset({"tool_use"})
"""Tool blocks the agent runs (the others run at the provider)."""
_DELTA_FIELD = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "input_json_delta": "partial_json",
}


def _content_slots(
    content: Any, path: tuple[str | int, ...], role: str | None, out: list[TextSlot]
) -> None:
    kind = SlotKind.USER if role == "user" else SlotKind.ASSISTANT
    if isinstance(content, str):
        out.append(TextSlot(path, kind, content, role))
        return
    if not isinstance(content, list):
        return
    for i, block in enumerate(content):
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "text":
            text = block.get("text")
            if isinstance(text, str):
                out.append(TextSlot((*path, i, "text"), kind, text, role))
        elif btype == "tool_result":
            here = (*path, i)
            inner = block.get("content")
            if isinstance(inner, str):
                out.append(TextSlot((*here, "content"), SlotKind.TOOL_RESULT, inner, role))
            elif isinstance(inner, list):
                for j, part in enumerate(inner):
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        out.append(
                            TextSlot(
                                (*here, "content", j, "text"),
                                SlotKind.TOOL_RESULT,
                                part["text"],
                                role,
                            )
                        )
        elif btype == "thinking" and isinstance(block.get("thinking"), str):
            out.append(TextSlot((*path, i, "thinking"), SlotKind.THINKING, block["thinking"], role))
        elif btype in TOOL_BLOCKS:
            _json_strings(block.get("input"), (*path, i, "input"), role, out)
        elif btype == "document":
            here = (*path, i)
            source = block.get("source")
            if isinstance(source, dict) and source.get("type") == "text":
                if isinstance(source.get("data"), str):
                    out.append(TextSlot((*here, "source", "data"), kind, source["data"], role))
            elif isinstance(source, dict) and source.get("type") == "content":
                _content_slots(source.get("content"), (*here, "source", "content"), role, out)


def _json_strings(
    value: Any, path: tuple[str | int, ...], role: str | None, out: list[TextSlot]
) -> None:
    if isinstance(value, str):
        out.append(TextSlot(path, SlotKind.TOOL_INPUT, value, role))
    elif isinstance(value, dict):
        for key, item in value.items():
            _json_strings(item, (*path, key), role, out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _json_strings(item, (*path, i), role, out)


def iter_slots(body: Any) -> Iterator[TextSlot]:
    # Built as a list, not a chain of generators: a resent conversation has
    # hundreds of slots, and resuming nested generators per slot cost a
    # third of an incremental turn.
    out: list[TextSlot] = []
    if not isinstance(body, dict):
        return iter(out)
    system = body.get("system")
    if isinstance(system, str):
        out.append(TextSlot(("system",), SlotKind.SYSTEM, system, "system"))
    elif isinstance(system, list):
        for i, block in enumerate(system):
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                out.append(
                    TextSlot(("system", i, "text"), SlotKind.SYSTEM, block["text"], "system")
                )
    messages = body.get("messages")
    if isinstance(messages, list):
        for i, message in enumerate(messages):
            if isinstance(message, dict):
                _content_slots(
                    message.get("content"), ("messages", i, "content"), message.get("role"), out
                )
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        out.append(TextSlot(("prompt",), SlotKind.USER, prompt, "user"))
    return iter(out)


def _event(name: str, data: dict[str, Any]) -> bytes:
    return encode_event(dumps(data), event=name)


def _result_texts(index: int, block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """The texts of a result block: (channel key, the dict holding it, its field)."""
    content = block.get("content")
    if isinstance(content, str):
        yield f"content/{index}/result", block, "content"
    elif isinstance(content, list):
        for j, part in enumerate(content):
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield f"content/{index}/result/{j}", part, "text"


_LAST = frozenset({"message_stop", "error"})
"""Events after which a Messages stream has nothing more to say."""


class _Block:
    __slots__ = ("agent_tool", "field", "index", "kind", "start", "start_raw", "trailing")

    def __init__(self, index: int, kind: ChannelKind, field: str, start: dict[str, Any] | None):
        self.index = index
        self.kind = kind
        self.field = field
        self.start = start
        """A tool block's start event, held until its input is released."""
        self.start_raw: bytes | None = None
        self.trailing: list[bytes] = []
        block = start.get("content_block") if start else None
        self.agent_tool = isinstance(block, dict) and block.get("type") in AGENT_TOOLS


class AnthropicStream:
    """Sans-IO transformer of one Messages API event stream."""

    def __init__(self, exchange: Exchange, pipeline: Pipeline) -> None:
        self.book = ChannelBook(exchange, pipeline)
        self._blocks: dict[int, _Block] = {}
        self._tools_emitted = 0
        self._tools_denied = 0
        self.done = False
        self.saw_end = False

    def feed(self, event: SSEEvent) -> list[Item]:
        if self.done:
            return []
        if not event.has_data:
            return [event.raw]
        data = loads_event(event.data)
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "content_block_start":
            return self._start(event, data)
        if kind == "content_block_delta":
            return self._delta(event, data)
        if kind == "content_block_stop":
            return self._stop(event, data)
        if kind == "message_delta":
            return [self._message_delta(event, data)]
        if kind in _LAST:
            self.saw_end = True
        return [event.raw]

    def finish(self) -> list[Item]:
        """The upstream ended; channels still open are ended and released."""
        out: list[Item] = []
        for index in sorted(self._blocks):
            out.extend(self._close(index, None))
        return out

    def _key(self, index: int) -> str:
        return f"content/{index}"

    def _start(self, event: SSEEvent, data: dict[str, Any]) -> list[Item]:
        index = data.get("index")
        block = data.get("content_block")
        if not isinstance(index, int) or not isinstance(block, dict):
            return [event.raw]
        btype = block.get("type")
        if btype in TOOL_BLOCKS:
            channel = Channel(
                self._key(index),
                ChannelKind.TOOL_INPUT,
                tool_name=block.get("name"),
                tool_id=block.get("id"),
                tool_type=btype,
            )
            self.book.start(channel)
            held = self._blocks[index] = _Block(index, ChannelKind.TOOL_INPUT, "partial_json", data)
            initial = block.get("input")
            if isinstance(initial, dict) and initial:
                block["input"] = {}
                return self._feed(index, dumps(initial))
            held.start_raw = event.raw
            return []
        if btype in RESULT_BLOCKS:
            return self._result(event, index, data, block)
        if btype in ("text", "thinking"):
            kind = ChannelKind.TEXT if btype == "text" else ChannelKind.THINKING
            self.book.start(Channel(self._key(index), kind))
            self._blocks[index] = _Block(index, kind, btype, None)
            initial = block.get(btype)
            if isinstance(initial, str) and initial:
                block[btype] = ""
                return [_event("content_block_start", data), *self._feed(index, initial)]
        return [event.raw]

    def _result(
        self, event: SSEEvent, index: int, data: dict[str, Any], block: dict[str, Any]
    ) -> list[Item]:
        """A tool the provider ran (an MCP server's) answers whole in the start
        event: each text in the result goes through a text channel."""
        changed = False
        for key, holder, field in _result_texts(index, block):
            text, flow = whole_text(self.book, key, ChannelKind.TEXT, holder[field])
            if flow is not None and flow.flow is Flow.BLOCK:
                self.done = True
                return [Block(flow)]
            text = denial_text(flow) if flow is not None else text
            if text != holder[field]:
                holder[field] = text
                changed = True
        return [_event("content_block_start", data)] if changed else [event.raw]

    def _delta(self, event: SSEEvent, data: dict[str, Any]) -> list[Item]:
        index = data.get("index")
        delta = data.get("delta")
        if not isinstance(index, int) or not isinstance(delta, dict) or index not in self._blocks:
            return [event.raw]
        if self._blocks[index].field == "drop":
            return []
        field = _DELTA_FIELD.get(str(delta.get("type")))
        text = delta.get(field) if field else None
        if not isinstance(text, str):
            # signature_delta, citations_delta, ...: keep their order relative
            # to the text this block still holds back.
            self._blocks[index].trailing.append(event.raw)
            return []
        return self._feed(index, text, event.raw)

    def _feed(self, index: int, text: str, raw: bytes | None = None) -> list[Item]:
        block = self._blocks[index]
        out, flow = self.book.feed(self._key(index), text)
        if flow is not None:
            return self._flow(block, flow, out.text, ending=False)
        if (
            raw is not None
            and out.text == text
            and not block.trailing
            and (text or not block.start)
        ):
            return [*self._release_start(block), raw]
        return self._release(block, out.text)

    def _release_start(self, block: _Block) -> list[Item]:
        if block.start is None:
            return []
        start = block.start_raw or _event("content_block_start", block.start)
        block.start = None
        self._tools_emitted += 1
        return [start]

    def _release(self, block: _Block, text: str) -> list[Item]:
        items: list[Item] = []
        if text or block.kind is not ChannelKind.TOOL_INPUT:
            items.extend(self._release_start(block))
        if text:
            delta_type = {"text": "text_delta", "thinking": "thinking_delta"}.get(
                block.field, "input_json_delta"
            )
            event = self._delta_event(block, delta_type, text)
            delivered = (
                self.book.deliver(self._key(block.index), text) if block.agent_tool else text
            )
            if delivered != text:
                items.append(Restored(event, self._delta_event(block, delta_type, delivered)))
            else:
                items.append(event)
        return items

    @staticmethod
    def _delta_event(block: _Block, delta_type: str, text: str) -> bytes:
        return _event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": block.index,
                "delta": {"type": delta_type, block.field: text},
            },
        )

    def _stop(self, event: SSEEvent, data: dict[str, Any]) -> list[Item]:
        index = data.get("index")
        if not isinstance(index, int) or index not in self._blocks:
            return [event.raw]
        return self._close(index, event.raw)

    def _close(self, index: int, stop: bytes | None) -> list[Item]:
        block = self._blocks.pop(index)
        out, flow = self.book.end(self._key(index))
        if block.field == "drop":
            return []
        if flow is not None:
            return self._flow(block, flow, out.text, ending=True, stop=stop)
        items = self._release(block, out.text)
        items.extend(self._release_start(block))  # a tool call with no input at all
        items.extend(block.trailing)
        items.append(stop or self._stop_event(index))
        return items

    def _stop_event(self, index: int) -> bytes:
        return _event("content_block_stop", {"type": "content_block_stop", "index": index})

    def _flow(
        self,
        block: _Block,
        decision: Decision,
        text: str,
        *,
        ending: bool,
        stop: bytes | None = None,
    ) -> list[Item]:
        if decision.flow is Flow.BLOCK:
            self.done = True
            return [Block(decision)]
        if decision.flow is Flow.DENY:
            return self._deny(block, decision, None, ending)
        channel = Channel(self._key(block.index), block.kind)

        def resume(approved: bool, message: str) -> list[Wire]:
            if not approved:
                return self._bytes(self._deny(block, decision, message, ending))
            items = self._release(block, text)
            if ending:
                items.extend(self._release_start(block))
                items.extend(block.trailing)
                items.append(stop or self._stop_event(block.index))
            return self._bytes(items)

        return [Hold(decision, channel, text, resume)]

    def _deny(
        self, block: _Block, decision: Decision, message: str | None, ending: bool
    ) -> list[Item]:
        """Replace the block by a text explaining the decision, end cleanly."""
        note = denial_text(decision, message)
        items: list[Item] = []
        if block.kind is ChannelKind.TOOL_INPUT and block.start is not None:
            self._tools_denied += 1
            block.start = None
            items.append(
                _event(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": block.index,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
            )
            items.append(
                _event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": block.index,
                        "delta": {"type": "text_delta", "text": note},
                    },
                )
            )
            items.append(self._stop_event(block.index))
            if not ending:
                # The rest of this block's input is dropped as it arrives.
                self._blocks[block.index] = _Block(block.index, block.kind, "drop", None)
            return items
        # Output already flowing (text, or a tool whose input began): end the
        # message here with the explanation.
        self.done = True
        if block.kind is ChannelKind.TOOL_INPUT:
            # Input bytes already left; the call must not complete.
            items.append(
                _event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": block.index,
                        "delta": {"type": "input_json_delta", "partial_json": ""},
                    },
                )
            )
        items.append(
            _event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": block.index,
                    "delta": {"type": "text_delta", "text": "\n" + note},
                },
            )
            if block.kind is ChannelKind.TEXT
            else b""
        )
        items.append(self._stop_event(block.index))
        items.append(
            _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 0},
                },
            )
        )
        items.append(_event("message_stop", {"type": "message_stop"}))
        return [item for item in items if item != b""]

    def _message_delta(self, event: SSEEvent, data: dict[str, Any]) -> bytes:
        delta = data.get("delta")
        if (
            self._tools_denied
            and not self._tools_emitted
            and isinstance(delta, dict)
            and delta.get("stop_reason") == "tool_use"
        ):
            delta["stop_reason"] = "end_turn"
            return _event("message_delta", data)
        return event.raw

    @staticmethod
    def _bytes(items: list[Item]) -> list[Wire]:
        return [item for item in items if isinstance(item, bytes | Restored)]


def transform_body(
    body: Any, exchange: Exchange, pipeline: Pipeline
) -> list[Block] | list[Patch] | None:
    """Inspect a non-streamed Messages response in place (what is recorded).

    Returns ``[Block]`` when the exchange must be refused, and the patches of
    the agent's copy when a ``tool_use`` input gets vault values back. Held
    content in a non-streamed body is treated as denied (there is no stream
    to pause).
    """
    if not isinstance(body, dict) or not isinstance(body.get("content"), list):
        return None
    book = ChannelBook(exchange, pipeline, complete=True)
    content: list[Any] = body["content"]
    patches: list[Patch] = []
    denied = emitted = 0
    for index, block in enumerate(content):
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype in ("text", "thinking") and isinstance(block.get(btype), str):
            kind = ChannelKind.TEXT if btype == "text" else ChannelKind.THINKING
            key = f"content/{index}"
            book.start(Channel(key, kind))
            first, flow1 = book.feed(key, block[btype])
            last, flow2 = book.end(key)
            flow = flow1 or flow2
            if flow is not None and flow.flow is Flow.BLOCK:
                return [Block(flow)]
            if flow is not None:
                content[index] = {"type": "text", "text": denial_text(flow)}
                continue
            block[btype] = first.text + last.text
        elif btype in RESULT_BLOCKS:
            for key, holder, field in _result_texts(index, block):
                text, flow = whole_text(book, key, ChannelKind.TEXT, holder[field])
                if flow is not None and flow.flow is Flow.BLOCK:
                    return [Block(flow)]
                holder[field] = denial_text(flow) if flow is not None else text
        elif btype in TOOL_BLOCKS:
            key = f"content/{index}"
            book.start(
                Channel(key, ChannelKind.TOOL_INPUT, block.get("name"), block.get("id"), btype)
            )
            first, flow1 = book.feed(key, dumps(block.get("input", {})))
            last, flow2 = book.end(key)
            flow = flow1 or flow2
            if flow is not None and flow.flow is Flow.BLOCK:
                return [Block(flow)]
            if flow is not None:
                content[index] = {"type": "text", "text": denial_text(flow)}
                denied += 1
                continue
            emitted += 1
            text = first.text + last.text
            block["input"] = _parse_input(text)
            if btype in AGENT_TOOLS:
                delivered = book.deliver(key, text)
                if delivered != text:
                    patches.append(Patch(block, "input", _parse_input(delivered)))
    if denied and not emitted and body.get("stop_reason") == "tool_use":
        body["stop_reason"] = "end_turn"
    return patches or None


def _parse_input(text: str) -> Any:
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {"_warden_unparsed": text}
