"""File downloads: what inspecting a text file as it streams costs.

    .venv/bin/python benchmarks/bench_downloads.py [--quick] [--out-json PATH]

Starts the fake provider and `warden serve` (the quickstart) as
bench_gateway.py does, stores two files at the fake (OpenAI's Files API,
straight to the fake, so nothing is masked on the way in), then downloads
each (`GET /v1/files/{id}/content`) straight from the fake and through
Warden, in turn, round after round:

- **text**: standard-library sources and prose with examples of the rules
  the quickstart turns on planted (the detection benchmark's corpus, PII
  left out as the quickstart leaves it), which Warden masks as it streams;
- **binary**: bytes that are not UTF-8, which Warden passes as they are.

Reported: MB/s (the file's size over the time to read it whole, median of
rounds), the time to the first byte, and how many of the planted examples
the agent still got (0 expected). No target is set by an issue; the
direct and binary rows are the baselines of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from bench_gateway import OPENAI_KEY, WARDEN_TOKEN, WORK, fleet_of, log
from detect_inputs import build_text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from warden.detect.catalogue import Catalogue  # noqa: E402


async def upload(base: str, name: str, content: bytes) -> str:
    """Store a file at the fake, the way the OpenAI SDK uploads one."""
    form = aiohttp.FormData()
    form.add_field("purpose", "assistants")
    form.add_field("file", content, filename=name, content_type="application/octet-stream")
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            base + "/v1/files", data=form, headers={"authorization": f"Bearer {OPENAI_KEY}"}
        ) as reply,
    ):
        reply.raise_for_status()
        return str((await reply.json())["id"])


async def download(url: str, secret: str) -> tuple[bytes, float, float]:
    """The body, seconds to its first byte, seconds to its end."""
    chunks: list[bytes] = []
    first = 0.0
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        started = time.perf_counter()
        async with session.get(url, headers={"authorization": f"Bearer {secret}"}) as reply:
            reply.raise_for_status()
            async for chunk in reply.content.iter_any():
                if not chunks:
                    first = time.perf_counter() - started
                chunks.append(chunk)
        return b"".join(chunks), first, time.perf_counter() - started


async def measure(
    bases: dict[str, str], files: dict[str, tuple[str, bytes]], rounds: int, planted: list[str]
) -> dict[str, Any]:
    runs: dict[str, list[tuple[float, float]]] = {}
    leaked: dict[str, int] = {}
    for _ in range(rounds):
        for kind, (file_id, content) in files.items():
            for contender, base in bases.items():
                secret = WARDEN_TOKEN if contender == "warden" else OPENAI_KEY
                body, first, total = await download(f"{base}/v1/files/{file_id}/content", secret)
                name = f"{contender}/{kind}"
                runs.setdefault(name, []).append((first, total))
                if kind == "text":
                    if name not in leaked:  # the first round tells
                        got = body.decode("utf-8", "replace")
                        leaked[name] = sum(1 for example in planted if example in got)
                elif body != content:
                    raise SystemExit(f"{name}: the binary file changed on the way")
    out: dict[str, Any] = {}
    for name, samples in runs.items():
        kind = name.split("/")[1]
        size = len(files[kind][1])
        total = statistics.median(t for _, t in samples)
        out[name] = {
            "bytes": size,
            "mb_per_s": size / total / 1e6,
            "ttfb_ms": statistics.median(f for f, _ in samples) * 1000,
            "seconds": total,
            "planted_received": leaked.get(name),
        }
    return out


def markdown(report: dict[str, Any]) -> str:
    results = report["results"]
    lines = [
        "## File downloads (`benchmarks/bench_downloads.py`)",
        "",
        f"`GET /v1/files/{{id}}/content` of a {report['mb']:.0f} MB text file "
        f"(stdlib sources and prose, {report['planted']} examples of the quickstart's rules "
        f"planted) and a "
        f"{report['mb']:.0f} MB binary one, straight from the fake provider and through "
        f"Warden (the quickstart), median of {report['rounds']} rounds. Warden masks the "
        "text as it streams and passes the binary file as it is.",
        "",
        "| route | MB/s | first byte (ms) | planted examples the agent got |",
        "|---|---:|---:|---:|",
    ]
    for name, row in results.items():
        got = row["planted_received"]
        lines.append(
            f"| {name} | {row['mb_per_s']:.1f} | {row['ttfb_ms']:.1f} | "
            f"{'n/a' if got is None else got} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small files: a smoke run")
    parser.add_argument("--out-json")
    parser.add_argument("--workdir", type=Path, default=WORK / "downloads")
    args = parser.parse_args(argv)
    size = (2 if args.quick else 32) << 20
    rounds = 2 if args.quick else 5
    catalogue = Catalogue.default()
    # The rules the quickstart's policy turns on: those on by default but PII.
    examples = [
        (r.id, ex) for r in catalogue.rules if r.enabled and r.family != "pii" for ex in r.examples
    ]
    log(f"building a {size >> 20} MiB text file")
    text, spans = build_text(size, random.Random(7), examples)
    planted = sorted({text[start:end] for start, end, _ in spans})
    binary = random.Random(7).randbytes(4096) * (size // 4096)
    with fleet_of(["warden"], args.workdir) as fleet:
        if "warden" not in fleet.servers:
            raise SystemExit(f"warden did not start: {fleet.skipped.get('warden')}")
        fake = fleet.servers["fake"].url
        files = {
            "text": (asyncio.run(upload(fake, "notes.txt", text.encode())), text.encode()),
            "binary": (asyncio.run(upload(fake, "blob.bin", binary)), binary),
        }
        bases = {"direct": fake, "warden": fleet.servers["warden"].url + "/openai"}
        log(f"{rounds} rounds")
        results = asyncio.run(measure(bases, files, rounds, planted))
    report = {
        "mb": size / 1e6,
        "rounds": rounds,
        "planted": len(planted),
        "results": results,
    }
    if args.out_json:
        Path(args.out_json).write_text(json.dumps(report, indent=2))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
