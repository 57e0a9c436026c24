"""OpenAI Chat Completions (also what Azure OpenAI deployments speak).

Channels: ``choice/<i>/content``, ``choice/<i>/refusal``, the reasoning
that OpenAI-compatible servers stream beside the content
(``choice/<i>/reasoning_content``: DeepSeek, vLLM; ``choice/<i>/reasoning``:
OpenRouter, Ollama) and ``choice/<i>/tool/<j>`` (one tool call's JSON
arguments). A tool call is
announced to the agent only once its arguments are released, so a denied
call can be turned into content and ``finish_reason`` into ``stop``.
Chunks the gateway does not change are forwarded as their raw bytes. Tool
call arguments reach the agent in the chain's delivery form (vault values
restored, when the policy allows it); the recording keeps the placeholders.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from warden.pipeline.chain import Pipeline
from warden.pipeline.types import Channel, ChannelKind, Decision, Exchange, Flow, SlotKind, TextSlot
from warden.protocols.base import (
    ROLE_KINDS,
    Block,
    ChannelBook,
    Hold,
    Item,
    Patch,
    Wire,
    content_slots,
    denial_text,
    dumps,
    openai_chunk,
    split,
    strip_logprobs,
    user_strings,
)
from warden.protocols.sse import RemoteProtocolError, SSEEvent, encode_event

_ROLE_KINDS = {**ROLE_KINDS, "tool": SlotKind.TOOL_RESULT, "function": SlotKind.TOOL_RESULT}
_TEXT_FIELDS = {
    "content": ChannelKind.TEXT,
    "refusal": ChannelKind.REFUSAL,
    "reasoning_content": ChannelKind.THINKING,
    "reasoning": ChannelKind.THINKING,
}
"""The text fields of a delta or message, each a channel of its own."""


def iter_chat_slots(body: Any) -> Iterator[TextSlot]:
    if not isinstance(body, dict):
        return
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        kind = _ROLE_KINDS.get(str(role), SlotKind.OTHER)
        yield from content_slots(("messages", i, "content"), kind, message.get("content"), role)
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            for j, call in enumerate(calls):
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                    yield TextSlot(
                        ("messages", i, "tool_calls", j, "function", "arguments"),
                        SlotKind.TOOL_INPUT,
                        fn["arguments"],
                        role,
                    )
        legacy = message.get("function_call")  # an old conversation's call
        if isinstance(legacy, dict) and isinstance(legacy.get("arguments"), str):
            path = ("messages", i, "function_call", "arguments")
            yield TextSlot(path, SlotKind.TOOL_INPUT, legacy["arguments"], role)


def refuse_chat(body: Any) -> str | None:
    """The deprecated ``functions`` API's calls stream as ``function_call``,
    which this adapter does not hold or inspect as tool calls: refused, so no
    call reaches the agent unchecked."""
    if isinstance(body, dict) and (body.get("functions") or body.get("function_call")):
        return (
            "Warden does not relay the deprecated `functions` / `function_call` parameters "
            "(their calls would reach the agent without tool-call inspection): "
            "send the same definitions as `tools`"
        )
    return None


def iter_embedding_slots(body: Any) -> Iterator[TextSlot]:
    return user_strings(body, "input")


class _Tool:
    __slots__ = ("announced", "denied", "id", "key", "name", "type")

    def __init__(self, key: str) -> None:
        self.key = key
        self.id: str | None = None
        self.type = "function"
        self.name = ""
        self.announced = False
        self.denied = False


class ChatStream:
    """Sans-IO transformer of one Chat Completions chunk stream."""

    def __init__(self, exchange: Exchange, pipeline: Pipeline) -> None:
        self.book = ChannelBook(exchange, pipeline)
        self._tools: dict[tuple[int, int], _Tool] = {}
        self.template: dict[str, Any] = {}
        self._held: list[tuple[int, _Tool, str, Decision, dict[str, Any]]] = []
        self._text_hold: tuple[Decision, str, str, dict[str, Any]] | None = None
        self._patches: list[Patch] = []
        self.done = False
        self.saw_end = False

    def feed(self, event: SSEEvent) -> list[Item]:
        data = openai_chunk(self, event)
        if isinstance(data, list):
            return data
        changed = False
        had_text = False
        extra: list[Item] = []
        for choice in data["choices"]:
            if not isinstance(choice, dict) or not isinstance(choice.get("index"), int):
                continue
            result = self._choice(choice)
            if isinstance(result, Block):
                self.done = True
                return [result]
            changed |= result[0]
            had_text |= result[1]
        if self._text_hold is not None:
            return [*extra, self._hold_text(data)]
        if self._held:
            return [*extra, self._hold(data)]
        if not changed:
            return [event.raw, *extra]
        if had_text and self._empty(data):
            return extra
        return [self._encode(data), *extra]

    def _encode(self, data: dict[str, Any]) -> Wire:
        """A chunk the gateway built or changed; with the agent's own copy
        when a tool call in it gets vault values back."""
        patches, self._patches = self._patches, []
        return split(encode_event(dumps(data)), patches, lambda: encode_event(dumps(data)))

    def finish(self) -> list[Item]:
        """Release anything still held (a stream that ended without finish)."""
        choices: dict[int, dict[str, Any]] = {}
        for key in list(self.book.open):
            i = int(key.split("/")[1])
            choice = choices.setdefault(i, {"index": i, "delta": {}, "finish_reason": None})
            result = self._end_key(key, choice)
            if isinstance(result, Block):
                self.done = True
                return [result]
            if not result:
                del choices[i]
        if not choices:
            return []
        chunk = {**self.template, "choices": list(choices.values())}
        return [self._encode(chunk)]

    @staticmethod
    def _empty(data: dict[str, Any]) -> bool:
        if data.get("usage"):
            return False
        for choice in data["choices"]:
            if choice.get("finish_reason") is not None or choice.get("logprobs"):
                return False
            delta = choice.get("delta") or {}
            if any(v not in (None, "", []) for v in delta.values()):
                return False
        return True

    def _text_key(self, i: int, field: str) -> str:
        key = f"choice/{i}/{field}"
        if self.book.get(key) is None and key not in self.book.closed:
            kind = _TEXT_FIELDS[field]
            self.book.start(Channel(key, kind))
        return key

    def _choice(self, choice: dict[str, Any]) -> tuple[bool, bool] | Block:
        i: int = choice["index"]
        delta = choice.get("delta")
        changed = had_text = False
        if choice.get("logprobs"):  # the output again, token by token
            choice["logprobs"] = None
            changed = True
        if isinstance(delta, dict):
            for field in _TEXT_FIELDS:
                text = delta.get(field)
                if isinstance(text, str) and text:
                    had_text = True
                    key = self._text_key(i, field)
                    if self.book.get(key) is None:
                        raise RemoteProtocolError(f"choice {i} sent {field} after it finished")
                    out, flow = self.book.feed(key, text)
                    if flow is not None:
                        delta[field] = out.text  # what a hold would release
                        return self._deny_or_block(flow, choice, key)
                    if out.text != text:
                        delta[field] = out.text
                        changed = True
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                kept = []
                for call in calls:
                    if not isinstance(call, dict) or not isinstance(call.get("index"), int):
                        kept.append(call)
                        continue
                    result = self._tool_delta(i, call)
                    if isinstance(result, Block):
                        return result
                    if result is not None:
                        kept.append(result)
                delta["tool_calls"] = kept
                if not kept:
                    del delta["tool_calls"]
                changed = True
        if choice.get("finish_reason") is not None:
            for key in [k for k in self.book.open if k.startswith(f"choice/{i}/")]:
                ended = self._end_key(key, choice, hold_ok=True)
                if isinstance(ended, Block):
                    return ended
                changed |= ended
            tools = [t for (ci, _), t in self._tools.items() if ci == i]
            if (
                choice.get("finish_reason") == "tool_calls"
                and tools
                and all(t.denied for t in tools)
            ):
                choice["finish_reason"] = "stop"
                changed = True
        return changed, had_text

    def _tool_delta(self, i: int, call: dict[str, Any]) -> dict[str, Any] | Block | None:
        j: int = call["index"]
        tool = self._tools.get((i, j))
        key = f"choice/{i}/tool/{j}"
        fn = call.get("function") if isinstance(call.get("function"), dict) else {}
        assert isinstance(fn, dict)
        if tool is None:
            tool = self._tools[(i, j)] = _Tool(key)
        if call.get("id"):
            tool.id = call["id"]
        if call.get("type"):
            tool.type = call["type"]
        if isinstance(fn.get("name"), str):
            tool.name += fn["name"]
        if self.book.get(key) is None and key not in self.book.closed:
            self.book.start(Channel(key, ChannelKind.TOOL_INPUT, tool.name, tool.id, tool.type))
        args = fn.get("arguments")
        if not isinstance(args, str) or not args or self.book.get(key) is None:
            return None
        out, flow = self.book.feed(key, args)
        if flow is not None:
            if flow.flow is Flow.BLOCK:
                return Block(flow)
            tool.denied = True
            return None
        return self._announce(j, tool, out.text) if out.text else None

    def _hold(self, data: dict[str, Any]) -> Hold:
        """Pause the finishing chunk until a reviewer answers for the tool
        calls held in it (one answer covers all of them)."""
        held, self._held = self._held, []
        first = held[0]
        key = f"choice/{first[4].get('index', 0)}/tool/{first[0]}"

        def resume(approved: bool, message: str) -> list[Wire]:
            for j, tool, text, decision, choice in held:
                delta = choice.setdefault("delta", {})
                if approved:
                    delta.setdefault("tool_calls", []).append(self._announce(j, tool, text))
                else:
                    tool.denied = True
                    delta["content"] = (delta.get("content") or "") + denial_text(decision, message)
            for choice in {id(c): c for *_, c in held}.values():
                i = choice.get("index", 0)
                tools = [t for (ci, _), t in self._tools.items() if ci == i]
                if choice.get("finish_reason") == "tool_calls" and all(t.denied for t in tools):
                    choice["finish_reason"] = "stop"
            return [self._encode(data)]

        return Hold(first[3], self.book.closed[key].channel, "".join(h[2] for h in held), resume)

    def _announce(self, j: int, tool: _Tool, args: str) -> dict[str, Any]:
        if tool.announced:
            call: dict[str, Any] = {"index": j, "function": {"arguments": args}}
        else:
            tool.announced = True
            call = {
                "index": j,
                "id": tool.id,
                "type": tool.type,
                "function": {"name": tool.name, "arguments": args},
            }
        delivered = self.book.deliver(tool.key, args)
        if delivered != args:
            self._patches.append(Patch(call["function"], "arguments", delivered))
        return call

    def _end_key(self, key: str, choice: dict[str, Any], hold_ok: bool = False) -> Block | bool:
        """End a channel, appending what it still held to this choice's delta.

        Returns whether the choice changed (or a Block)."""
        out, flow = self.book.end(key)
        parts = key.split("/")
        delta = choice.setdefault("delta", {})
        if flow is not None and flow.flow is Flow.BLOCK:
            return Block(flow)
        if parts[2] == "tool":
            tool = self._tools[(int(parts[1]), int(parts[3]))]
            if flow is not None and flow.flow is Flow.HOLD and hold_ok and not tool.denied:
                self._held.append((int(parts[3]), tool, out.text, flow, choice))
                return False
            if flow is not None or tool.denied:
                tool.denied = True
                note = denial_text(flow) if flow is not None else "[Warden] tool call denied"
                delta["content"] = (delta.get("content") or "") + note
                return True
            if out.text or not tool.announced:
                delta.setdefault("tool_calls", []).append(
                    self._announce(int(parts[3]), tool, out.text)
                )
                return True
            return False
        if flow is not None:
            delta[parts[2]] = (delta.get(parts[2]) or "") + out.text + "\n" + denial_text(flow)
            return True
        if out.text:
            delta[parts[2]] = (delta.get(parts[2]) or "") + out.text
            return True
        return False

    def _deny_or_block(
        self, decision: Decision, choice: dict[str, Any], key: str
    ) -> tuple[bool, bool] | Block:
        if decision.flow is Flow.BLOCK:
            return Block(decision)
        delta = choice.setdefault("delta", {})
        field = key.split("/")[2]
        if decision.flow is Flow.HOLD:
            # Pause here: the text waits for a reviewer (see feed()).
            self._text_hold = (decision, key, delta.get(field) or "", choice)
            delta[field] = ""
            return True, True
        delta[field] = denial_text(decision)
        choice["finish_reason"] = "stop"
        self.done = True
        return True, True

    def _hold_text(self, data: dict[str, Any]) -> Hold:
        assert self._text_hold is not None
        decision, key, text, choice = self._text_hold
        self._text_hold = None
        field = key.split("/")[2]

        def resume(approved: bool, message: str) -> list[Wire]:
            delta = choice.setdefault("delta", {})
            if approved:
                delta[field] = text
                return [self._encode(data)]
            delta[field] = "\n" + denial_text(decision, message)
            choice["finish_reason"] = "stop"
            self.done = True
            return [self._encode(data), b"data: [DONE]\n\n"]

        return Hold(decision, self.book.open[key].channel, text, resume)


def transform_chat_body(
    body: Any, exchange: Exchange, pipeline: Pipeline
) -> list[Block] | list[Patch] | None:
    """Inspect a non-streamed completion in place (what is recorded); returns
    ``[Block]`` to refuse it, or the patches of the agent's copy."""
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        return None
    book = ChannelBook(exchange, pipeline, complete=True)
    patches: list[Patch] = []
    if strip_logprobs(body["choices"]):
        exchange.state["rewritten"] = True
    for choice in body["choices"]:
        if not isinstance(choice, dict):
            continue
        i = choice.get("index", 0)
        message = choice.get("message")
        if not isinstance(message, dict):
            continue
        for field, kind in _TEXT_FIELDS.items():
            if isinstance(message.get(field), str):
                key = f"choice/{i}/{field}"
                book.start(Channel(key, kind))
                first, flow1 = book.feed(key, message[field])
                last, flow2 = book.end(key)
                flow = flow1 or flow2
                if flow is not None and flow.flow is Flow.BLOCK:
                    return [Block(flow)]
                message[field] = denial_text(flow) if flow else first.text + last.text
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            kept = []
            notes = []
            for j, call in enumerate(calls):
                fn = call.get("function") if isinstance(call, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("arguments"), str):
                    kept.append(call)
                    continue
                key = f"choice/{i}/tool/{j}"
                book.start(
                    Channel(key, ChannelKind.TOOL_INPUT, fn.get("name"), call.get("id"), "function")
                )
                first, flow1 = book.feed(key, fn["arguments"])
                last, flow2 = book.end(key)
                flow = flow1 or flow2
                if flow is not None and flow.flow is Flow.BLOCK:
                    return [Block(flow)]
                if flow is not None:
                    notes.append(denial_text(flow))
                    continue
                fn["arguments"] = first.text + last.text
                delivered = book.deliver(key, fn["arguments"])
                if delivered != fn["arguments"]:
                    patches.append(Patch(fn, "arguments", delivered))
                kept.append(call)
            if notes:
                message["content"] = "\n".join(filter(None, [message.get("content"), *notes]))
                if kept:
                    message["tool_calls"] = kept
                else:
                    message.pop("tool_calls", None)
                    if choice.get("finish_reason") == "tool_calls":
                        choice["finish_reason"] = "stop"
    return patches or None
