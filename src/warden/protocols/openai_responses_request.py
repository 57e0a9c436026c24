"""What an agent sends to the OpenAI Responses API, as text slots.

``instructions``, the ``input`` messages, function and custom tool calls
(their arguments), the outputs of tool calls, reasoning summaries, and the
whole-input calls (a local shell call's ``action``: every string in it).
The stream adapter that inspects what comes back is
:mod:`warden.protocols.openai_responses`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from warden.pipeline.types import SlotKind, TextSlot
from warden.protocols.base import ROLE_KINDS, content_slots
from warden.protocols.openai_responses_events import WHOLE_CALLS

UNINSPECTED_TOOLS = frozenset({"shell", "apply_patch", "computer_use_preview"})
"""Hosted tool types whose calls (``shell_call``, ``apply_patch_call``,
``computer_call``) the agent carries out and no adapter inspects yet."""


def refuse_responses(body: Any) -> str | None:
    """A request offering a tool whose calls would reach the agent unread is
    refused, naming the tool and what to use instead."""
    tools = body.get("tools") if isinstance(body, dict) else None
    if not isinstance(tools, list):
        return None
    for tool in tools:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind in UNINSPECTED_TOOLS:
            return (
                f"Warden does not relay the `{kind}` tool yet (its calls would reach the "
                "agent without tool-call inspection): declare it as a `function` or "
                "`custom` tool, or use `local_shell`"
            )
    return None


def iter_responses_slots(body: Any) -> Iterator[TextSlot]:
    if not isinstance(body, dict):
        return
    if isinstance(body.get("instructions"), str):
        yield TextSlot(("instructions",), SlotKind.SYSTEM, body["instructions"], "system")
    items = body.get("input")
    if isinstance(items, str):
        yield TextSlot(("input",), SlotKind.USER, items, "user")
        return
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        itype = item.get("type", "message")
        role = item.get("role")
        if itype == "message":
            kind = ROLE_KINDS.get(str(role), SlotKind.OTHER)
            yield from content_slots(("input", i, "content"), kind, item.get("content"), role)
        elif itype in ("function_call", "custom_tool_call") and isinstance(
            item.get("arguments", item.get("input")), str
        ):
            field = "arguments" if "arguments" in item else "input"
            yield TextSlot(("input", i, field), SlotKind.TOOL_INPUT, item[field], "assistant")
        elif itype in WHOLE_CALLS:
            field = WHOLE_CALLS[itype]
            for path, text in _strings(item.get(field), ("input", i, field)):
                yield TextSlot(path, SlotKind.TOOL_INPUT, text, "assistant")
        elif itype in (
            "function_call_output",
            "custom_tool_call_output",
            "local_shell_call_output",
        ):
            output = item.get("output")
            if isinstance(output, str):
                yield TextSlot(("input", i, "output"), SlotKind.TOOL_RESULT, output, "tool")
            elif isinstance(output, list):
                for j, part in enumerate(output):
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        yield TextSlot(
                            ("input", i, "output", j, "text"), SlotKind.TOOL_RESULT, part["text"]
                        )
        elif itype == "reasoning":
            for j, part in enumerate(item.get("summary") or []):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    yield TextSlot(
                        ("input", i, "summary", j, "text"), SlotKind.THINKING, part["text"]
                    )


def _strings(
    value: Any, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string in a JSON value, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))
