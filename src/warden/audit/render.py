"""Reading recorded payloads back as text: what the agent sent, what streamed back.

The recorder stores what the pipeline handed it (masked). These helpers pull
the human-readable parts out of the provider shapes they know (Anthropic
Messages, OpenAI Chat Completions and Responses, MCP JSON-RPC) and fall back
to compact JSON for anything else, so an unknown shape still shows.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.text import Text

PLACEHOLDER = re.compile(r"\[(?:REDACTED|TOKEN|MASKED|SECRET|PII|HELD)(?::[^\]\s]{1,120})?\]")
"""A masking placeholder such as ``[REDACTED:aws-access-key]`` or ``[TOKEN:ab12]``."""
PLACEHOLDER_STYLE = "bold black on yellow"


def highlight(text: str, style: str = "") -> Text:
    """``text`` with every masking placeholder styled so it stands out."""
    out = Text(text, style=style)
    for match in PLACEHOLDER.finditer(text):
        out.stylize(PLACEHOLDER_STYLE, match.start(), match.end())
    return out


def compact(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                return json.loads(stripped)
            except ValueError:
                return value
    return value


def content_text(content: Any) -> str:
    """The text of a message's ``content`` (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return "" if content is None else compact(content)
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
            continue
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind in ("text", "input_text", "output_text") and isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif kind in ("tool_use", "server_tool_use", "function_call"):
            name = block.get("name", "?")
            args = block.get("input", block.get("arguments", {}))
            parts.append(f"[tool call {name} {compact(args)}]")
        elif kind in ("tool_result", "function_call_output"):
            inner = block.get("content", block.get("output", ""))
            parts.append(
                f"[tool result: {content_text(inner) if isinstance(inner, list) else inner}]"
            )
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            parts.append(f"(thinking) {block['thinking']}")
        elif kind in ("image", "input_image", "document"):
            parts.append(f"[{kind}]")
    return "\n".join(p for p in parts if p)


def request_messages(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, text) of each message in a recorded request, oldest first."""
    body = _json(payload.get("body"))
    if not isinstance(body, dict):
        return [("request", compact(body))] if body else []
    out: list[tuple[str, str]] = []
    system = body.get("system", body.get("instructions"))
    if system:
        out.append(("system", content_text(system)))
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                out.append((str(message.get("role", "?")), content_text(message.get("content"))))
    prompt = body.get("prompt")  # the legacy text APIs (Anthropic's and OpenAI's)
    prompts = [prompt] if isinstance(prompt, str) else prompt if isinstance(prompt, list) else []
    out.extend(("prompt", p) for p in prompts if isinstance(p, str))
    inputs = body.get("input")
    if isinstance(inputs, str):
        out.append(("user", inputs))
    elif isinstance(inputs, list):
        for item in inputs:
            if isinstance(item, dict):
                role = str(item.get("role", item.get("type", "input")))
                out.append((role, content_text(item.get("content", [item]))))
    if "method" in body and "jsonrpc" in body:
        out.append(("rpc", f"{body['method']} {compact(body.get('params', {}))}"))
    if not out:
        out.append(("request", compact(body)))
    return out


def stream_piece(payload: dict[str, Any]) -> tuple[str, str] | None:
    """One streamed event as (style, text) to append to the running output.

    Style is ``text``, ``thinking``, ``tool`` (tool arguments), ``marker``
    (a new block starts: the text is its header), ``end`` or ``raw``.
    """
    data = _json(payload.get("data", payload.get("chunk")))
    if not isinstance(data, dict):
        text = payload.get("text")
        if isinstance(text, str):
            return ("text", text)
        return None if data in (None, "") else ("raw", str(data))
    kind = data.get("type")
    delta = data.get("delta")
    if kind == "content_block_start":
        block = data.get("content_block") or {}
        block_type = block.get("type", "")
        if block_type in ("tool_use", "server_tool_use"):
            return ("marker", f"tool call {block.get('name', '?')}: ")
        if block_type == "thinking":
            return ("marker", "thinking: ")
        return ("marker", "")
    if kind == "content_block_delta" and isinstance(delta, dict):
        if isinstance(delta.get("text"), str):
            return ("text", delta["text"])
        if isinstance(delta.get("partial_json"), str):
            return ("tool", delta["partial_json"])
        if isinstance(delta.get("thinking"), str):
            return ("thinking", delta["thinking"])
        return None
    if kind in ("message_stop", "response.completed"):
        return ("end", "")
    if kind == "completion" and isinstance(data.get("completion"), str):
        return ("text", data["completion"])
    if isinstance(kind, str) and kind.startswith("response.") and kind.endswith(".delta"):
        if isinstance(delta, str):
            style = "tool" if "arguments" in kind else "text"
            return (style, delta)
        return None
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        if isinstance(choices[0].get("text"), str):  # a legacy text completion
            return ("text", choices[0]["text"])
        delta = choices[0].get("delta") or {}
        if isinstance(delta.get("content"), str):
            return ("text", delta["content"])
        calls = delta.get("tool_calls")
        if isinstance(calls, list) and calls and isinstance(calls[0], dict):
            function = calls[0].get("function") or {}
            if function.get("name"):
                return ("marker", f"tool call {function['name']}: ")
            if isinstance(function.get("arguments"), str):
                return ("tool", function["arguments"])
        return None
    return None


def stream_pieces(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """Every piece of a ``response.event`` record: one event, or the
    ``events`` list the gateway writes per upstream chunk."""
    lines = payload.get("lines")
    if isinstance(lines, list):  # a batch's results, a line per request
        return [_result_piece(line) for line in lines if isinstance(line, dict)]
    events = payload.get("events")
    items = events if isinstance(events, list) else [payload]
    pieces = [stream_piece(item) for item in items if isinstance(item, dict)]
    return [piece for piece in pieces if piece is not None]


def _result_piece(line: dict[str, Any]) -> tuple[str, str]:
    result = line.get("result")
    if not isinstance(result, dict):
        result = {}
    message = result.get("message")
    if isinstance(message, dict):
        said = content_text(message.get("content"))
    else:
        said = compact(result.get("error"))
    return ("text", f"\n[{line.get('custom_id', '?')}: {result.get('type', '?')}] {said}")


def response_text(payload: dict[str, Any]) -> str:
    """The text of a whole (non-streamed) response body."""
    body = _json(payload.get("body"))
    if not isinstance(body, dict):
        return "" if body is None else compact(body, 2000)
    if "content" in body:
        return content_text(body["content"])
    if isinstance(body.get("completion"), str):
        return str(body["completion"])
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        if isinstance(choices[0].get("text"), str):
            return str(choices[0]["text"])
        message = choices[0].get("message") or {}
        text = content_text(message.get("content"))
        calls = message.get("tool_calls") or []
        for call in calls if isinstance(calls, list) else []:
            function = call.get("function", {}) if isinstance(call, dict) else {}
            text += f"\n[tool call {function.get('name', '?')} {function.get('arguments', '')}]"
        return text
    output = body.get("output")
    if isinstance(output, list):
        return "\n".join(
            content_text(item.get("content", [item])) for item in output if isinstance(item, dict)
        )
    if "result" in body or "error" in body:
        return compact(body.get("result", body.get("error")), 2000)
    return compact(body, 2000)


def decision_line(payload: dict[str, Any]) -> str:
    parts = [f"{payload.get('action', '?')} by {payload.get('rule', '?')}"]
    parts.append(f"({payload.get('flow', '?')})")
    where = payload.get("channel") or payload.get("direction")
    if where:
        parts.append(str(where))
    if payload.get("start") is not None and payload.get("end") is not None:
        parts.append(f"[{payload['start']}:{payload['end']}]")
    if payload.get("reason"):
        parts.append(f"— {payload['reason']}")
    return " ".join(parts)


def summary(kind: str, payload: Any) -> str:
    """One line describing an event, for ``sessions show``."""
    if not isinstance(payload, dict):
        return compact(payload, 120)
    if kind == "request":
        messages = request_messages(payload)
        target = f"{payload.get('method', '')} {payload.get('path', '')}".strip()
        last = messages[-1] if messages else ("", "")
        line = f"{target} {last[0]}: {last[1]}".strip() if messages else target
        if "subject" in payload:  # the exchange's opening request: who sent it
            line = f"{payload.get('subject')} via {payload.get('connection')}: {line}"
        return compact(line, 120)
    if kind == "response.start":
        return f"status {payload.get('status', '?')}"
    if kind == "response.event":
        pieces = stream_pieces(payload)
        return (
            compact("".join(text for _, text in pieces), 120) if pieces else compact(payload, 120)
        )
    if kind == "decision":
        return decision_line(payload)
    if kind == "end":
        line = f"{payload.get('outcome', '?')} status {payload.get('status', '?')}"
        if "body" in payload:
            line += ": " + response_text(payload)
        return compact(line, 120)
    if kind == "raw":
        return f"sealed raw {payload.get('of', '?')} payload ({payload.get('size', '?')} bytes)"
    return compact(payload, 120)
