"""The OpenAI Responses API's stream vocabulary, as Warden reads it.

Which events carry text and which repeat it whole, which end the stream,
and which output items are tool calls the agent runs (and where their input
is). The adapter is :mod:`warden.protocols.openai_responses`; the request
walker :mod:`warden.protocols.openai_responses_request`.
"""

from __future__ import annotations

from typing import Any

from warden.pipeline.types import ChannelKind

# delta event -> (done event, text field on the done event, channel kind, key part)
TEXT_EVENTS = {
    "response.output_text.delta": (
        "response.output_text.done",
        "text",
        ChannelKind.TEXT,
        "content",
    ),
    "response.refusal.delta": ("response.refusal.done", "refusal", ChannelKind.REFUSAL, "content"),
    "response.reasoning_summary_text.delta": (
        "response.reasoning_summary_text.done",
        "text",
        ChannelKind.THINKING,
        "summary",
    ),
    "response.reasoning_text.delta": (
        "response.reasoning_text.done",
        "text",
        ChannelKind.THINKING,
        "reasoning",
    ),
}
DONE = {done: (delta, field, part) for delta, (done, field, _, part) in TEXT_EVENTS.items()}
# a finished part, which repeats its whole text -> the key part of its channel
PART_DONE = {
    "response.content_part.done": "content",
    "response.reasoning_summary_part.done": "summary",
    "response.reasoning_part.done": "reasoning",  # vLLM's name for a reasoning content part
}


def part_kind(where: str, part: dict[str, Any]) -> ChannelKind:
    if where != "content":
        return ChannelKind.THINKING
    return ChannelKind.REFUSAL if part.get("type") == "refusal" else ChannelKind.TEXT


FINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
CALLS = frozenset({"function_call", "custom_tool_call"})
"""Tool calls the agent runs whose input streams as argument deltas."""
# A tool call's input: done event -> delta event (the done event's field: "arguments" / "input")
ARGS_DONE = {
    "response.function_call_arguments.done": "response.function_call_arguments.delta",
    "response.custom_tool_call_input.done": "response.custom_tool_call_input.delta",
}

WHOLE_CALLS = {"local_shell_call": "action"}
"""Tool calls the agent runs whose input arrives as one object (in
``output_item.added`` / ``.done`` only, no argument deltas): item type ->
the field that holds it."""
