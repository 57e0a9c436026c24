"""One streamed reply through the Anthropic stream adapter, in-process (not a benchmark).

    .venv/bin/python benchmarks/profile_adapter.py [--deltas 14] [--runs 2000] [--profile]

Builds the quickstart's pipeline (masking with the default catalogue,
guardrails) exactly as `warden serve` does, then decodes and feeds the
Messages API event stream of the gateway benchmark's reply (the fake
provider's wire format: `message_start`, `content_block_start`, `ping`,
three-character `text_delta`s, `content_block_stop`, `message_delta`,
`message_stop`) through the SSE decoder and `AnthropicStream`, and prints
microseconds per stream: the CPU the gateway spends on a stream's events,
without the network. `--profile` adds cProfile's top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import aiohttp  # noqa: E402

from warden.config.loader import load_config  # noqa: E402
from warden.pipeline.chain import Pipeline  # noqa: E402
from warden.pipeline.types import Exchange, Identity  # noqa: E402
from warden.protocols.anthropic import AnthropicStream  # noqa: E402
from warden.protocols.base import Item  # noqa: E402
from warden.protocols.sse import SSEDecoder, SSEEvent, encode_event  # noqa: E402
from warden.server.assemble import INSPECTOR_FACTORIES  # noqa: E402
from warden.server.runtime import build_runtime  # noqa: E402

REPLY = "ok: Say hello to the benchmark, briefly."  # what the fake answers the bench prompt


def wire(text: str, size: int = 3) -> bytes:
    def event(name: str, data: dict[str, Any]) -> bytes:
        return encode_event(json.dumps(data, separators=(",", ":")), event=name)

    usage = {"input_tokens": 17, "output_tokens": 1}
    out = event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-6",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            },
        },
    )
    out += event(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    out += event("ping", {"type": "ping"})
    for at in range(0, len(text), size):
        delta = {"type": "text_delta", "text": text[at : at + size]}
        out += event(
            "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
        )
    out += event("content_block_stop", {"type": "content_block_stop", "index": 0})
    out += event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {**usage, "output_tokens": 17},
        },
    )
    return out + event("message_stop", {"type": "message_stop"})


def one(pipeline: Pipeline, data: bytes) -> list[Item]:
    identity = Identity("bench")
    exchange = Exchange("x", "s", "claude", "anthropic", identity, streaming=True)
    adapter = AnthropicStream(exchange, pipeline)
    decoder = SSEDecoder()
    decoder.receive_data(data)
    decoder.receive_data(b"")
    out: list[Item] = []
    while isinstance(event := decoder.next_event(), SSEEvent):
        out.extend(adapter.feed(event))
    out.extend(adapter.finish())
    return out


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deltas", type=int, default=14, help="text deltas in the reply")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    text = (REPLY * (args.deltas * 3 // len(REPLY) + 1))[: args.deltas * 3]
    data = wire(text)
    with tempfile.TemporaryDirectory() as state:
        env = {
            **os.environ,
            "WARDEN_STATE_DIR": state,
            "WARDEN_TOKEN": "t" * 40,
            "ANTHROPIC_UPSTREAM": "http://127.0.0.1:9",
            "OPENAI_UPSTREAM": "http://127.0.0.1:9",
            "ANTHROPIC_API_KEY": "unused",
            "OPENAI_API_KEY": "unused",
        }
        config = load_config(ROOT / "examples" / "quickstart.yaml", env=env)
        async with aiohttp.ClientSession() as session:
            runtime = build_runtime(config, session, INSPECTOR_FACTORIES)
            _, pipeline = runtime.pipeline_for("claude", Identity("bench"))
            for _ in range(200):  # warm: re2 programs compile on first use
                one(pipeline, data)
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                for _ in range(args.runs):
                    one(pipeline, data)
                best = min(best, (time.perf_counter() - start) / args.runs)
            events = data.count(b"\n\n")
            print(
                f"{best * 1e6:.1f} µs per stream of {events} events ({args.deltas} text deltas), "
                f"{best * 1e6 / events:.1f} µs per event; best of 3 runs of {args.runs}"
            )
            if args.profile:
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(args.runs):
                    one(pipeline, data)
                profile.disable()
                pstats.Stats(profile).sort_stats("tottime").print_stats(20)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
