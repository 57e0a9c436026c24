"""The OpenAI Responses API (what Codex speaks).

Channels: ``output/<i>/content/<j>`` for output text and refusals,
``output/<i>/summary/<j>`` and ``output/<i>/reasoning/<j>`` for reasoning
text, ``output/<i>`` for a tool call's input: a function call's arguments, or
the JSON of a local shell call's ``action``, which arrives whole (its item's
events are held until ``output_item.done``). ``*.done`` events and
the final ``response.completed`` carry whole texts again; they are rewritten
to what the channel actually released, so the agent's accumulated text and
the final object agree. Once the gateway adds or drops an event, later
``sequence_number`` values are renumbered so they stay consecutive.

A function call's arguments (or a custom tool call's input) reach the agent
in the chain's delivery form (vault values restored, when the policy allows
it) in every event that carries them; the recording keeps the placeholders.
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
    Patch,
    Restored,
    Wire,
    denial_text,
    dumps,
    loads_event,
    split,
    strip_logprobs,
)
from warden.protocols.openai_responses_events import (
    ARGS_DONE,
    CALLS,
    DONE,
    FINAL,
    PART_DONE,
    TEXT_EVENTS,
    WHOLE_CALLS,
    part_kind,
)
from warden.protocols.sse import SSEEvent, encode_event


class _Stopped(Exception):
    """A channel stopped text that arrived whole (see ``ResponsesStream._unstreamed``)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.rule)
        self.decision = decision


class ResponsesStream:
    """Sans-IO transformer of one Responses API event stream."""

    def __init__(self, exchange: Exchange, pipeline: Pipeline) -> None:
        self.book = ChannelBook(exchange, pipeline)
        self._held_added: dict[int, dict[str, Any]] = {}
        self._whole: dict[int, list[dict[str, Any]]] = {}
        """Events of a whole-input call (see ``WHOLE_CALLS``), held until it is done."""
        self._denied: dict[int, Decision] = {}
        self._notes: dict[int, str] = {}
        self._seq = 0
        self._renumber = False
        self._changed = False
        self._patches: list[Patch] = []
        self.done = False
        self.saw_end = False

    # -- plumbing ---------------------------------------------------------
    def _emit(self, data: dict[str, Any], raw: bytes | None = None) -> bytes:
        changed = raw is None
        if "sequence_number" in data:
            if data["sequence_number"] != self._seq:
                data["sequence_number"] = self._seq
                changed = True
            self._seq += 1
        if not changed and raw is not None:
            return raw
        return encode_event(dumps(data), event=data.get("type"))

    def _emit_delivered(self, data: dict[str, Any], raw: bytes | None = None) -> Wire:
        """``_emit``, with the agent's own copy when the pending patches
        (tool arguments with vault values back) change it."""
        patches, self._patches = self._patches, []
        recorded = self._emit(data, raw)
        return split(recorded, patches, lambda: encode_event(dumps(data), event=data.get("type")))

    def _drop(self) -> None:
        self._renumber = True

    def feed(self, event: SSEEvent) -> list[Item]:
        if self.done:
            return []
        try:
            return self._feed(event)
        except _Stopped as stopped:
            return self._text_flow(stopped.decision)

    def _feed(self, event: SSEEvent) -> list[Item]:
        if not event.has_data:
            return [event.raw]
        data = loads_event(event.data)
        if not isinstance(data, dict):
            return [event.raw]
        raw: bytes | None = event.raw
        if b'"logprobs"' in event.raw and strip_logprobs(data):
            raw = None  # re-encoded without them
        if isinstance(data.get("sequence_number"), int) and not self._renumber:
            self._seq = data["sequence_number"]
        kind = data.get("type")
        held = self._whole.get(data.get("output_index", -1))
        if held is not None and kind != "response.output_item.done":
            held.append(data)
            self._drop()
            return []
        if kind in TEXT_EVENTS:
            return self._text_delta(data, raw)
        if kind in DONE:
            return self._text_done(data, raw)
        if kind == "response.output_item.added":
            return self._item_added(data, raw)
        if kind in ARGS_DONE.values():
            return self._args_delta(data)
        if kind in ARGS_DONE:
            return self._args_done(data)
        if kind in PART_DONE:
            return [self._part_done(data, raw)]
        if kind == "response.output_item.done":
            if held is not None:
                return self._whole_done(data)
            return [self._item_done(data, raw)]
        if kind in FINAL:
            self.saw_end = True
            return [self._final(data, raw)]
        self.saw_end |= kind == "error"
        return [self._emit(data, raw)]

    def finish(self) -> list[Item]:
        out: list[Item] = []
        for key in list(self.book.open):
            _, flow = self.book.end(key)
            if flow is not None and flow.flow is Flow.BLOCK:
                return [Block(flow)]
        return out

    # -- text ---------------------------------------------------------------
    def _text_key(self, data: dict[str, Any], part: str) -> str:
        index = data.get("summary_index", data.get("content_index", 0))
        return f"output/{data.get('output_index', 0)}/{part}/{index}"

    def _text_delta(self, data: dict[str, Any], raw: bytes | None) -> list[Item]:
        _, _, kind, part = TEXT_EVENTS[data["type"]]
        key = self._text_key(data, part)
        if self.book.get(key) is None:
            self.book.start(Channel(key, kind))
        text = data.get("delta")
        if not isinstance(text, str):
            return [self._emit(data, raw)]
        out, flow = self.book.feed(key, text)
        if flow is not None:
            return self._text_flow(flow)
        if not out.text:
            self._drop()
            return []
        if out.text == text:
            return [self._emit(data, raw)]
        data["delta"] = out.text
        return [self._emit(data)]

    def _text_done(self, data: dict[str, Any], raw: bytes | None) -> list[Item]:
        delta_type, field, part = DONE[data["type"]]
        key = self._text_key(data, part)
        items: list[Item] = []
        if self.book.get(key) is not None:
            out, flow = self.book.end(key)
            if flow is not None:
                return self._text_flow(flow)
            if out.text:
                flush: dict[str, Any] = {
                    k: data[k] for k in ("item_id", "output_index", "content_index") if k in data
                }
                if "summary_index" in data:
                    flush["summary_index"] = data["summary_index"]
                items.append(
                    self._emit(
                        {"type": delta_type, **flush, "delta": out.text, "sequence_number": 0}
                    )
                )
                self._renumber = True
        self._unstreamed(key, TEXT_EVENTS[delta_type][2], data.get(field))
        emitted = self.book.emitted(key)
        if emitted is not None and data.get(field) != emitted:
            data[field] = emitted
            items.append(self._emit(data))
        else:
            items.append(self._emit(data, raw))
        return items

    def _unstreamed(self, key: str, kind: ChannelKind, text: Any) -> None:
        """Text a finishing event carries for a part no delta streamed (an
        upstream that sends it only whole) goes through a channel of its own
        now, so :meth:`ChannelBook.emitted` has the released form; a channel
        that stops it stops the stream (raises :class:`_Stopped`)."""
        if not isinstance(text, str) or not text or self.book.emitted(key) is not None:
            return
        self.book.start(Channel(key, kind))
        _, flow = self.book.feed(key, text)
        _, ended = self.book.end(key)
        flow = flow or ended
        if flow is not None:
            raise _Stopped(flow)

    def _text_flow(self, decision: Decision) -> list[Item]:
        # Blocked, denied or held text in a Responses stream: the stream ends
        # with an error event that names the rule (the agent shows it).
        self.done = True
        return [Block(decision)]

    def _part_done(self, data: dict[str, Any], raw: bytes | None) -> bytes:
        """A finished part repeats its whole text: the channel's, as released."""
        part = data.get("part")
        if isinstance(part, dict):
            where = PART_DONE[data["type"]]
            if part.get("type") == "reasoning_text":
                where = "reasoning"  # reasoning content parts stream as reasoning_text
            index = data.get("summary_index", data.get("content_index", 0))
            key = f"output/{data.get('output_index', 0)}/{where}/{index}"
            field = "refusal" if part.get("type") == "refusal" else "text"
            self._unstreamed(key, part_kind(where, part), part.get(field))
            emitted = self.book.emitted(key)
            if emitted is not None and field in part and part[field] != emitted:
                part[field] = emitted
                return self._emit(data)
        return self._emit(data, raw)

    # -- function calls -----------------------------------------------------
    def _item_added(self, data: dict[str, Any], raw: bytes | None) -> list[Item]:
        """A tool call the agent runs is held from here (a whole-input call
        with every event of its item) until its input is released."""
        item = data.get("item")
        index = data.get("output_index")
        if not isinstance(item, dict) or not isinstance(index, int):
            return [self._emit(data, raw)]
        kind = item.get("type")
        if kind not in CALLS and kind not in WHOLE_CALLS:
            return [self._emit(data, raw)]
        name = item.get("name") if kind in CALLS else kind
        key = f"output/{index}"
        self.book.start(Channel(key, ChannelKind.TOOL_INPUT, name, item.get("call_id"), kind))
        if kind in WHOLE_CALLS:
            self._whole[index] = [data]
        else:
            self._held_added[index] = data
        self._drop()
        return []

    def _args_delta(self, data: dict[str, Any]) -> list[Item]:
        index = data.get("output_index")
        key = f"output/{index}"
        text = data.get("delta")
        if self.book.get(key) is None or not isinstance(text, str) or not isinstance(index, int):
            return [self._emit(data)]
        out, flow = self.book.feed(key, text)
        if flow is not None:
            if flow.flow is Flow.BLOCK:
                self.done = True
                return [Block(flow)]
            self._denied[index] = flow
        items: list[Item] = []
        if out.text and index not in self._denied:
            items.extend(self._release_added(index))
            data["delta"] = out.text
            items.append(self._emit(data))
        else:
            self._drop()
        return items

    def _release_added(self, index: int) -> list[Item]:
        added = self._held_added.pop(index, None)
        return [] if added is None else [self._emit(added)]

    def _args_done(self, data: dict[str, Any]) -> list[Item]:
        index = data.get("output_index")
        key = f"output/{index}"
        if self.book.get(key) is None or not isinstance(index, int):
            return [self._emit(data)]
        out, flow = self.book.end(key)
        if flow is not None:
            if flow.flow is Flow.BLOCK:
                self.done = True
                return [Block(flow)]
            if flow.flow is Flow.HOLD and index not in self._denied:
                return [self._hold(index, key, data, out.text, flow)]
            self._denied[index] = flow
        if index in self._denied:
            return self._replace_with_message(index, data.get("item_id"), self._denied[index])
        return self._release_call(index, key, data, out.text)

    def _hold(
        self, index: int, key: str, data: dict[str, Any], text: str, decision: Decision
    ) -> Hold:
        """Pause before the call is announced; a reviewer decides."""

        def resume(approved: bool, message: str) -> list[Wire]:
            if approved:
                items = self._release_call(index, key, data, text)
            else:
                self._denied[index] = decision
                self._notes[index] = message
                items = self._replace_with_message(index, data.get("item_id"), decision)
            return [item for item in items if isinstance(item, bytes | Restored)]

        return Hold(decision, self.book.closed[key].channel, text, resume)

    def _release_call(self, index: int, key: str, data: dict[str, Any], text: str) -> list[Item]:
        out_text = text
        items = self._release_added(index)
        if out_text:
            delta: dict[str, Any] = {
                "type": ARGS_DONE.get(
                    str(data.get("type")), "response.function_call_arguments.delta"
                ),
                "item_id": data.get("item_id"),
                "output_index": index,
                "delta": out_text,
                "sequence_number": 0,
            }
            self._deliver(key, delta, "delta")
            items.append(self._emit_delivered(delta))
            self._renumber = True
        field = (
            "input" if data.get("type") == "response.custom_tool_call_input.done" else "arguments"
        )
        data[field] = self.book.emitted(key) or ""
        self._deliver(key, data, field)
        items.append(self._emit_delivered(data))
        return items

    def _deliver(self, key: str, target: dict[str, Any], field: str) -> None:
        """Note the agent's form of ``target[field]``, tool arguments from ``key``."""
        text = target.get(field)
        if isinstance(text, str):
            delivered = self.book.deliver(key, text)
            if delivered != text:
                self._patches.append(Patch(target, field, delivered))

    def _replace_with_message(self, index: int, item_id: Any, decision: Decision) -> list[Item]:
        """A denied function call becomes an assistant message saying why."""
        self._held_added.pop(index, None)
        note = denial_text(decision, self._notes.get(index))
        msg_id = f"msg_warden_{item_id or index}"
        message = {
            "type": "message",
            "id": msg_id,
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        part = {"type": "output_text", "text": "", "annotations": []}
        done_part = {**part, "text": note}
        where = {"item_id": msg_id, "output_index": index, "content_index": 0}
        events: list[dict[str, Any]] = [
            {"type": "response.output_item.added", "output_index": index, "item": message},
            {"type": "response.content_part.added", **where, "part": part},
            {"type": "response.output_text.delta", **where, "delta": note},
            {"type": "response.output_text.done", **where, "text": note},
            {"type": "response.content_part.done", **where, "part": done_part},
        ]
        self._renumber = True
        return [self._emit({**e, "sequence_number": 0}) for e in events]

    def _message_item(self, index: int, item_id: Any) -> dict[str, Any]:
        note = denial_text(self._denied[index], self._notes.get(index))
        return {
            "type": "message",
            "id": f"msg_warden_{item_id or index}",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": note, "annotations": []}],
        }

    def _fix_item(self, index: int, item: dict[str, Any]) -> dict[str, Any]:
        if index in self._denied:
            self._changed = True
            return self._message_item(index, item.get("id"))
        if item.get("type") in CALLS:
            emitted = self.book.emitted(f"output/{index}")
            field = "arguments" if item.get("type") == "function_call" else "input"
            if emitted is not None:
                self._set(item, field, emitted)
                self._deliver(f"output/{index}", item, field)
        elif item.get("type") in WHOLE_CALLS:
            emitted = self.book.emitted(f"output/{index}")
            field = WHOLE_CALLS[item["type"]]
            if emitted is not None:
                self._set(item, field, loads_event(emitted))
                delivered = self.book.deliver(f"output/{index}", emitted)
                if delivered != emitted:
                    self._patches.append(Patch(item, field, loads_event(delivered)))
        if (
            item.get("type") == "mcp_call"
            and isinstance(item.get("output"), str)
            and item["output"]
        ):
            # what an MCP server the provider called answered: response text
            self._unstreamed(f"output/{index}/output", ChannelKind.TEXT, item["output"])
            self._set(item, "output", self.book.emitted(f"output/{index}/output"))
        reasoning = item.get("type") == "reasoning"
        for j, part in enumerate([] if reasoning else item.get("content") or []):
            if isinstance(part, dict):
                key = f"output/{index}/content/{j}"
                field = "refusal" if part.get("type") == "refusal" else "text"
                self._unstreamed(key, part_kind("content", part), part.get(field))
                emitted = self.book.emitted(key)
                if emitted is not None and field in part:
                    self._set(part, field, emitted)
        for part_name, key_part in (("summary", "summary"), ("content", "reasoning")):
            if not reasoning:
                break
            for j, part in enumerate(item.get(part_name) or []):
                if not isinstance(part, dict):
                    continue
                key = f"output/{index}/{key_part}/{j}"
                self._unstreamed(key, ChannelKind.THINKING, part.get("text"))
                emitted = self.book.emitted(key)
                if emitted is not None:
                    self._set(part, "text", emitted)
        return item

    def _whole_done(self, data: dict[str, Any]) -> list[Item]:
        """A whole-input call is done: its input goes through its channel in one piece."""
        index: int = data["output_index"]
        events = self._whole.pop(index)
        item = data.get("item")
        if not isinstance(item, dict) or item.get("type") not in WHOLE_CALLS:
            item = events[0]["item"]  # the done event must describe the same call
            data["item"] = item
        key = f"output/{index}"
        first, flow = self.book.feed(key, dumps(item.get(WHOLE_CALLS[item["type"]])))
        last, ended = self.book.end(key)
        flow = flow or ended
        if flow is not None and flow.flow is Flow.BLOCK:
            self.done = True
            return [Block(flow)]
        if flow is not None and flow.flow is Flow.HOLD:
            decision = flow

            def resume(approved: bool, message: str) -> list[Wire]:
                if not approved:
                    self._denied[index] = decision
                    self._notes[index] = message
                return self._release_whole(index, item, data, events)

            return [Hold(flow, self.book.closed[key].channel, first.text + last.text, resume)]
        if flow is not None:
            self._denied[index] = flow
        return list(self._release_whole(index, item, data, events))

    def _release_whole(
        self, index: int, item: dict[str, Any], data: dict[str, Any], events: list[dict[str, Any]]
    ) -> list[Wire]:
        if index in self._denied:
            told = self._replace_with_message(index, item.get("id"), self._denied[index])
            data["item"] = self._message_item(index, item.get("id"))
            return [*(w for w in told if isinstance(w, bytes)), self._emit(data)]
        self._changed = False
        data["item"] = self._fix_item(index, item)
        added = events[0]
        if self._changed and isinstance(added.get("item"), dict):
            # rewritten: events that carried the input as sent stay here
            field = WHOLE_CALLS[item["type"]]
            added["item"] = {**added["item"], field: item[field]}
            events = [added]
        return [*(self._emit(e) for e in events), self._emit_delivered(data)]

    def _item_done(self, data: dict[str, Any], raw: bytes | None) -> Wire:
        item = data.get("item")
        index = data.get("output_index")
        self._changed = False
        if isinstance(item, dict) and isinstance(index, int):
            data["item"] = self._fix_item(index, item)
        return self._emit_delivered(data, None if self._changed else raw)

    def _final(self, data: dict[str, Any], raw: bytes | None) -> Wire:
        response = data.get("response")
        self._changed = False
        if isinstance(response, dict) and isinstance(response.get("output"), list):
            response["output"] = [
                self._fix_item(i, item) if isinstance(item, dict) else item
                for i, item in enumerate(response["output"])
            ]
        return self._emit_delivered(data, None if self._changed else raw)

    def _set(self, target: dict[str, Any], field: str, value: Any) -> None:
        if target.get(field) != value:
            target[field] = value
            self._changed = True


def transform_responses_body(
    body: Any, exchange: Exchange, pipeline: Pipeline
) -> list[Block] | list[Patch] | None:
    """Inspect a non-streamed response in place (what is recorded); returns
    ``[Block]`` to refuse it, or the patches of the agent's copy."""
    if not isinstance(body, dict) or not isinstance(body.get("output"), list):
        return None
    if strip_logprobs(body["output"]):
        exchange.state["rewritten"] = True
    stream = ResponsesStream(exchange, pipeline)
    stream.book.complete = True  # each item's text arrives whole
    try:
        _inspect_items(stream, body["output"])
    except _Stopped as stopped:
        return [Block(stopped.decision)]
    if isinstance(body.get("output_text"), str):
        body["output_text"] = "".join(
            part.get("text", "")
            for item in body["output"]
            if isinstance(item, dict) and item.get("type") == "message"
            for part in item.get("content") or []
            if isinstance(part, dict) and part.get("type") == "output_text"
        )
    return stream._patches or None


def _inspect_items(stream: ResponsesStream, output: list[Any]) -> None:
    """Each output item of a whole response through its channels; raises
    :class:`_Stopped` when one stops it."""
    book = stream.book
    for index, item in enumerate(output):
        if not isinstance(item, dict):
            continue
        itype = item.get("type")
        if itype in CALLS or itype in WHOLE_CALLS:
            key = f"output/{index}"
            name = item.get("name") if itype not in WHOLE_CALLS else itype
            book.start(Channel(key, ChannelKind.TOOL_INPUT, name, item.get("call_id"), itype))
            if itype in WHOLE_CALLS:
                text = dumps(item.get(WHOLE_CALLS[itype]))
            else:
                text = str(item.get("arguments" if itype == "function_call" else "input", ""))
            _, flow1 = book.feed(key, text)
            _, flow2 = book.end(key)
            flow = flow1 or flow2
            if flow is not None and flow.flow is Flow.BLOCK:
                raise _Stopped(flow)
            if flow is not None:
                stream._denied[index] = flow
        parts = [("content", "content", ChannelKind.TEXT)]
        if itype == "reasoning":
            parts = [
                ("summary", "summary", ChannelKind.THINKING),
                ("content", "reasoning", ChannelKind.THINKING),
            ]
        for part_name, key_part, kind in parts:
            for j, part in enumerate(item.get(part_name) or []):
                if not isinstance(part, dict):
                    continue
                field = "refusal" if part.get("type") == "refusal" else "text"
                if not isinstance(part.get(field), str):
                    continue
                key = f"output/{index}/{key_part}/{j}"
                book.start(Channel(key, kind))
                _, flow1 = book.feed(key, part[field])
                _, flow2 = book.end(key)
                flow = flow1 or flow2
                if flow is not None:
                    # Held or denied text in a non-streamed body cannot be paused.
                    raise _Stopped(flow)
        output[index] = stream._fix_item(index, item)
