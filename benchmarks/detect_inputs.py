"""Inputs for ``bench_detect.py``: realistic text built from what is installed.

Prose from everyday words, source code from the standard library,
catalogue examples planted at known offsets; a Claude Code style
conversation (user turns, ``Read`` tool calls and their results).
"""

from __future__ import annotations

import json
import random
import sysconfig
from pathlib import Path
from typing import Any

STDLIB = Path(sysconfig.get_paths()["stdlib"])


# Everyday English and the words that surround code in a model's answer.
WORDS = [
    *("the", "a", "to", "of", "and", "in", "is", "it", "that", "for", "on", "with", "as"),
    *("this", "be", "are", "was", "by", "at", "from", "or", "an", "we", "you", "can"),
    *("will", "if", "not", "but", "all", "when", "then", "so", "now", "here", "there"),
    *("function", "value", "request", "response", "server", "client", "config", "user"),
    *("session", "file", "deploy", "build", "test", "error", "return", "result", "data"),
    *("model", "stream", "handler", "cache", "because", "before", "after", "should"),
    *("would", "could", "might", "please", "note", "however", "change", "update", "run"),
]


def prose(rnd: random.Random, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        sentence = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 18)))
        sentence = sentence[0].upper() + sentence[1:] + rnd.choice([". ", ". ", "? ", ".\n\n"])
        out.append(sentence)
        size += len(sentence)
    return "".join(out)


def build_text(
    size: int, rnd: random.Random, examples: list[tuple[str, str]]
) -> tuple[str, list[tuple[int, int, str]]]:
    """``size`` characters of source + prose with examples planted; their spans."""
    sources = sorted(STDLIB.glob("*.py")) + sorted(STDLIB.glob("*/*.py"))
    parts: list[str] = []
    planted: list[tuple[int, int, str]] = []
    total = 0
    for path in sources:
        if total >= size:
            break
        try:
            code = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for chunk in (code, prose(rnd, len(code) // 4)):
            parts.append(chunk)
            total += len(chunk)
            rule, example = rnd.choice(examples)
            piece = f"\n{example}\n"
            planted.append((total + 1, total + 1 + len(example), rule))
            parts.append(piece)
            total += len(piece)
    return "".join(parts)[:size], [p for p in planted if p[1] <= size]


def sse_deltas(text: str, rnd: random.Random) -> list[str]:
    """``text`` cut as a model streams it: deltas of 3 to 50 characters."""
    deltas: list[str] = []
    i = 0
    while i < len(text):
        size = rnd.randint(3, 50)
        deltas.append(text[i : i + size])
        i += size
    return deltas


def stream_text(rnd: random.Random, examples: list[tuple[str, str]], size: int) -> str:
    """What a model streams: prose, code blocks, now and then a credential."""
    code = (STDLIB / "argparse.py").read_text(encoding="utf-8")
    parts: list[str] = []
    while sum(map(len, parts)) < size:
        parts.append(prose(rnd, rnd.randint(200, 1200)))
        start = rnd.randint(0, len(code) - 2000)
        parts.append("```python\n" + code[start : start + rnd.randint(200, 1500)] + "\n```\n")
        if rnd.random() < 0.3:
            parts.append(f"Set it like this: {rnd.choice(examples)[1]}\n")
    return "".join(parts)[:size]


def conversation(
    rnd: random.Random, target: int, examples: list[tuple[str, str]]
) -> dict[str, Any]:
    code = (STDLIB / "typing.py").read_text(encoding="utf-8")
    messages: list[dict[str, Any]] = []
    size = 0
    n = 0
    while size < target:
        n += 1
        start = rnd.randint(0, len(code) - 4000)
        result = code[start : start + rnd.randint(500, 3500)]
        if rnd.random() < 0.1:
            result += "\n" + rnd.choice(examples)[1]
        messages.append({"role": "user", "content": prose(rnd, rnd.randint(80, 400))})
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": prose(rnd, rnd.randint(80, 300))},
                    {
                        "type": "tool_use",
                        "id": f"toolu_{n}",
                        "name": "Read",
                        "input": {"file_path": f"/repo/src/module_{n}.py"},
                    },
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": result}
                ],
            }
        )
        size += len(json.dumps(messages[-3:]))
    return {"model": "claude", "system": prose(rnd, 4000), "messages": messages}
