"""Guardrails: what holding and checking a tool call costs.

    .venv/bin/python benchmarks/bench_guard.py [--quick] [--out-json PATH]

Measured in-process on the Anthropic stream adapter, the same code the
gateway runs per event, so the numbers isolate Warden's own work:

- **added latency of a held tool call**: the time from feeding the event
  that completes a call's arguments (``content_block_stop``) to having the
  bytes to write, with the guardrail pipeline vs. an empty pipeline;
- **throughput on a tool-heavy stream**: events per second through the
  adapter for a stream of many tool calls (realistic shell commands, SQL,
  file writes) with text between them, guardrails on vs. off.

Targets (issue: guardrails and approvals): added latency <= 1 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from warden.guard import GuardEngine, GuardrailInspector  # noqa: E402
from warden.pipeline.chain import Pipeline  # noqa: E402
from warden.pipeline.types import Exchange, Identity  # noqa: E402
from warden.protocols.anthropic import AnthropicStream  # noqa: E402
from warden.protocols.sse import NEED_DATA, SSE_CLOSED, SSEDecoder, SSEEvent, encode_event  # noqa: E402

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("Bash", {"command": "ls -la src && git status --short", "description": "look around"}),
    ("Bash", {"command": "python -m pytest -q tests/unit -k 'not slow' 2>&1 | tail -20"}),
    ("Bash", {"command": "grep -rn 'TODO' src | sort | uniq -c | sort -rn | head"}),
    ("Bash", {"command": "git add -A && git commit -m \"$(cat <<'EOF'\nFix the parser\nEOF\n)\""}),
    ("Bash", {"command": "psql -c 'SELECT id, name FROM users WHERE id = 42'"}),
    ("Bash", {"command": "kubectl get pods -n staging -o wide"}),
    (
        "Write",
        {"file_path": "/work/app/src/util.py", "content": "def f(x):\n    return x * 2\n" * 20},
    ),
    ("Edit", {"file_path": "/work/app/README.md", "old_string": "foo", "new_string": "bar"}),
    ("Bash", {"command": "curl -s https://example.test/api | jq '.items[] | .name'"}),
    ("Bash", {"command": "docker build -t app:dev . && docker run --rm app:dev pytest"}),
]


def ev(name: str, data: dict[str, Any]) -> bytes:
    return encode_event(json.dumps(data), event=name)


def tool_stream(index: int, name: str, args: dict[str, Any]) -> list[bytes]:
    text = json.dumps(args)
    pieces = [text[i : i + 12] for i in range(0, len(text), 12)]
    out = [
        ev(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {
                    "type": "tool_use",
                    "id": f"toolu_{index}",
                    "name": name,
                    "input": {},
                },
            },
        )
    ]
    for piece in pieces:
        out.append(
            ev(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                },
            )
        )
    out.append(ev("content_block_stop", {"type": "content_block_stop", "index": index}))
    return out


def text_block(index: int, words: int) -> list[bytes]:
    out = [
        ev(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            },
        )
    ]
    for i in range(words):
        out.append(
            ev(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": f"word{i} "},
                },
            )
        )
    out.append(ev("content_block_stop", {"type": "content_block_stop", "index": index}))
    return out


def decode(chunks: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    decoder.receive_data(b"".join(chunks))
    decoder.receive_data(b"")
    events = []
    while (event := decoder.next_event()) not in (NEED_DATA, SSE_CLOSED):
        assert isinstance(event, SSEEvent)
        events.append(event)
    return events


def pipelines() -> dict[str, Pipeline]:
    return {
        "off": Pipeline([]),
        "guardrails": Pipeline([GuardrailInspector(GuardEngine.default())]),
    }


def exchange() -> Exchange:
    return Exchange("ex", "s", "claude", "anthropic", Identity("bench"))


def held_call_latency(rounds: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    streams = [decode(tool_stream(0, name, args)) for name, args in CALLS]
    for label, pipeline in pipelines().items():
        samples: list[float] = []
        for r in range(rounds):
            events = streams[r % len(streams)]
            adapter = AnthropicStream(exchange(), pipeline)
            for event in events[:-1]:
                adapter.feed(event)
            start = time.perf_counter()
            out = adapter.feed(events[-1])
            samples.append((time.perf_counter() - start) * 1e6)
            assert out, "the completed call produced nothing"
        samples.sort()
        results[label] = {
            "p50_us": statistics.median(samples),
            "p99_us": samples[int(len(samples) * 0.99) - 1],
        }
    return results


def stream_throughput(calls: int, repeat: int) -> dict[str, float]:
    chunks: list[bytes] = []
    index = 0
    for i in range(calls):
        chunks += text_block(index, 20)
        index += 1
        name, args = CALLS[i % len(CALLS)]
        chunks += tool_stream(index, name, args)
        index += 1
    events = decode(chunks)
    out: dict[str, float] = {"events": float(len(events))}
    for label, pipeline in pipelines().items():
        best = float("inf")
        for _ in range(repeat):
            adapter = AnthropicStream(exchange(), pipeline)
            start = time.perf_counter()
            for event in events:
                adapter.feed(event)
            best = min(best, time.perf_counter() - start)
        out[f"{label}_events_per_s"] = len(events) / best
        out[f"{label}_ms"] = best * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out-json")
    args = parser.parse_args()
    rounds = 200 if args.quick else 2000
    latency = held_call_latency(rounds)
    throughput = stream_throughput(calls=20 if args.quick else 100, repeat=3 if args.quick else 5)
    added_p50 = (latency["guardrails"]["p50_us"] - latency["off"]["p50_us"]) / 1000
    added_p99 = (latency["guardrails"]["p99_us"] - latency["off"]["p99_us"]) / 1000
    cost = 1 - throughput["guardrails_events_per_s"] / throughput["off_events_per_s"]
    ok = "✅" if added_p50 <= 1.0 else "❌"
    print("## Guardrails (held tool calls)\n")
    print(
        f"In-process on the Anthropic stream adapter; {rounds} completed tool calls, "
        f"{len(CALLS)} realistic commands in rotation.\n"
    )
    print("| measure | guardrails off | guardrails on | added | target |")
    print("|---|---:|---:|---:|---|")
    print(
        f"| release of a completed call, p50 | {latency['off']['p50_us']:.0f} µs | "
        f"{latency['guardrails']['p50_us']:.0f} µs | {added_p50:.3f} ms | ≤ 1 ms {ok} |"
    )
    print(
        f"| release of a completed call, p99 | {latency['off']['p99_us']:.0f} µs | "
        f"{latency['guardrails']['p99_us']:.0f} µs | {added_p99:.3f} ms | |"
    )
    print(
        f"| tool-heavy stream ({int(throughput['events'])} events) | "
        f"{throughput['off_events_per_s']:,.0f} events/s | "
        f"{throughput['guardrails_events_per_s']:,.0f} events/s | {cost:.0%} slower | |"
    )
    print()
    if args.out_json:
        Path(args.out_json).write_text(
            json.dumps({"latency": latency, "throughput": throughput}, indent=2)
        )


if __name__ == "__main__":
    main()
