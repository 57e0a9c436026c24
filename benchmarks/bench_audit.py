#!/usr/bin/env python3
"""Benchmark the audit recorder: writer throughput, verify cost, kill -9 loss window.

    .venv/bin/python benchmarks/bench_audit.py [--events 200000] [--out results.json]

For SQLite (a temporary file) and PostgreSQL (``--pg-url``, default
``$WARDEN_TEST_PG_URL`` or the local server; a throwaway schema, dropped
afterwards; ``--no-pg`` skips it) it measures:

* **writer throughput**: events/s committed by one recorder in strict mode
  (back-pressure, nothing dropped), from the first ``record`` to the last
  commit, streaming-shaped events (one request, many SSE deltas, a decision
  and an end per exchange);
* **record() cost**: microseconds the event loop spends per ``record`` call
  in best-effort mode (the gateway's hot-path share);
* **verify**: seconds to verify the store just written, scaled to one
  million events;
* **loss window after kill -9**: a child process records ~5,000 events/s in
  best-effort mode with the default 0.2 s batch interval and is SIGKILLed;
  the window is the kill time minus the newest stored event's timestamp
  (worst of ``--kill-trials``). The chain must still verify.

Prints a markdown table; ``--out FILE`` also writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from warden.audit import schema  # noqa: E402
from warden.audit.recorder import Recorder  # noqa: E402
from warden.audit.store import Store, open_store, open_store_sync  # noqa: E402
from warden.audit.verify import verify  # noqa: E402
from warden.pipeline.record import RecordKind  # noqa: E402
from warden.pipeline.types import Exchange, Identity  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DELTAS_PER_EXCHANGE = 96  # + exchange, request, start, decision, end = 101 events
IDENTITY = Identity("bench", frozenset({"dev"}), "service-token")
REQUEST = {
    "method": "POST",
    "path": "/v1/messages",
    "headers": {"content-type": "application/json", "anthropic-version": "2023-06-01"},
    "body": {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Explain [REDACTED:aws-access-key] " * 8}],
    },
}


def delta(i: int) -> dict[str, Any]:
    data = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": f"token {i} of a streamed answer "},
    }
    return {"t": i / 50, "event": "content_block_delta", "data": json.dumps(data)}


def make_exchange(n: int) -> Exchange:
    return Exchange(
        id=f"ex-{n}",
        session_id=f"sess-{n // 10}",
        connection="claude",
        connection_type="anthropic",
        identity=IDENTITY,
        operation="messages",
        streaming=True,
        client_address="127.0.0.1",
        user_agent="bench/1.0",
    )


async def produce(recorder: Recorder, events: int) -> int:
    """Record about ``events`` events; returns how many ``record`` calls were made."""
    calls = 0
    n = 0
    payloads = [delta(i) for i in range(DELTAS_PER_EXCHANGE)]
    while calls < events:
        ex = make_exchange(n)
        await recorder.record(ex, RecordKind.REQUEST, REQUEST)
        await recorder.record(ex, RecordKind.RESPONSE_START, {"status": 200})
        for payload in payloads:
            await recorder.record(ex, RecordKind.RESPONSE_EVENT, payload)
        await recorder.record(
            ex,
            RecordKind.DECISION,
            {"flow": "rewrite", "rule": "aws-access-key", "action": "mask", "channel": "request"},
        )
        await recorder.record(ex, RecordKind.END, {"outcome": "ok", "status": 200})
        calls += DELTAS_PER_EXCHANGE + 4
        n += 1
    return calls


async def throughput(store: Store, events: int) -> dict[str, float]:
    recorder = Recorder(store, mode="strict", instance_id=f"bench-{uuid.uuid4().hex[:6]}")
    await recorder.start()
    started = time.perf_counter()
    await produce(recorder, events)
    await recorder.stop()
    elapsed = time.perf_counter() - started
    written = recorder.metrics["written"]
    return {
        "events": written,
        "seconds": round(elapsed, 3),
        "events_per_s": round(written / elapsed),
        "batches": recorder.metrics["batches"],
    }


async def record_cost(store: Store, events: int) -> float:
    """Loop time per best-effort ``record`` call, in microseconds."""
    recorder = Recorder(store, instance_id=f"cost-{uuid.uuid4().hex[:6]}", queue_size=events + 1000)
    await recorder.start()
    started = time.perf_counter()
    calls = await produce(recorder, events)
    elapsed = time.perf_counter() - started
    await recorder.stop()
    return round(elapsed / calls * 1e6, 2)


def count_events(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.events)).scalar_one())


def verify_cost(store: Store) -> dict[str, float]:
    report = verify(store)
    if not report.ok:
        raise SystemExit(f"verify found problems: {report.all_problems[:3]}")
    per_million = report.seconds / max(report.events, 1) * 1_000_000
    return {
        "events": report.events,
        "seconds": round(report.seconds, 3),
        "seconds_per_million": round(per_million, 2),
    }


# -- kill -9 ---------------------------------------------------------------


async def child(url: str, state_dir: str) -> None:
    store = await open_store(url, state_dir=Path(state_dir))
    recorder = Recorder(store, instance_id="killed")
    await recorder.start()
    print("ready", flush=True)
    n = 0
    while True:
        ex = make_exchange(n)
        await recorder.record(ex, RecordKind.REQUEST, REQUEST)
        for i in range(DELTAS_PER_EXCHANGE):
            await recorder.record(ex, RecordKind.RESPONSE_EVENT, delta(i))
            if i % 50 == 0:
                await asyncio.sleep(0.01)
        await recorder.record(ex, RecordKind.END, {"outcome": "ok", "status": 200})
        n += 1


def loss_window(url: str, state_dir: Path, seconds: float) -> dict[str, Any]:
    with subprocess.Popen(
        [sys.executable, __file__, "--child", url, str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            proc.kill()
            raise SystemExit(f"child failed: {proc.communicate()[1]}")
        time.sleep(seconds)
        killed_at = time.time_ns() // 1000
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    store = open_store_sync(url, state_dir=state_dir)
    try:
        ev = schema.events
        with store.engine.connect() as conn:
            newest, stored = conn.execute(
                select(func.max(ev.c.ts), func.count()).where(ev.c.chain_id == "killed")
            ).one()
        report = verify(store)
        # Clean up for the next trial: drop this chain's rows.
        with store.engine.begin() as conn:
            for table in (schema.events, schema.checkpoints):
                conn.execute(table.delete().where(table.c.chain_id == "killed"))
            conn.execute(schema.chains.delete().where(schema.chains.c.chain_id == "killed"))
    finally:
        store.close()
    return {
        "window_ms": round((killed_at - newest) / 1000, 1),
        "stored": stored,
        "verified": report.ok,
    }


# -- backends ---------------------------------------------------------------


@contextmanager
def backend_url(name: str, pg_url: str, workdir: Path) -> Iterator[str]:
    if name == "sqlite":
        yield f"sqlite:///{workdir}/bench.db"
        return
    schema_name = f"warden_bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(pg_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema_name}"'))
    try:
        url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema_name}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE'))
        engine.dispose()


async def run_backend(
    name: str, url: str, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    state = workdir / f"state-{name}"
    store = await open_store(url, state_dir=state)
    try:
        result: dict[str, Any] = {"backend": name}
        print(f"[{name}] writer throughput, {args.events} events…", file=sys.stderr)
        result["throughput"] = await throughput(store, args.events)
        print(f"[{name}] record() cost…", file=sys.stderr)
        result["record_us"] = await record_cost(store, min(args.events, 100_000))
        print(f"[{name}] verify {count_events(store)} events…", file=sys.stderr)
        result["verify"] = await asyncio.to_thread(verify_cost, store)
    finally:
        store.close()
    trials = []
    for trial in range(args.kill_trials):
        print(f"[{name}] kill -9 trial {trial + 1}…", file=sys.stderr)
        trials.append(loss_window(url, state, args.kill_after))
    result["kill"] = {
        "trials": trials,
        "max_window_ms": max(t["window_ms"] for t in trials) if trials else None,
        "all_verified": all(t["verified"] for t in trials),
    }
    return result


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| backend | writer events/s | record() µs/call | verify s/1M events | "
        "kill -9 loss window (max) | chain verifies after kill |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        kill = r["kill"]
        window = f"{kill['max_window_ms']:.0f} ms" if kill["max_window_ms"] is not None else "-"
        lines.append(
            f"| {r['backend']} | {r['throughput']['events_per_s']:,} | {r['record_us']} | "
            f"{r['verify']['seconds_per_million']} | {window} | "
            f"{'yes' if kill['all_verified'] else 'NO'} |"
        )
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        asyncio.run(child(sys.argv[2], sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--pg-url", default=os.environ.get("WARDEN_TEST_PG_URL") or DEFAULT_PG)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--kill-trials", type=int, default=3)
    parser.add_argument("--kill-after", type=float, default=2.0, help="seconds before SIGKILL")
    parser.add_argument("--out", "--out-json", dest="out", type=Path)
    parser.add_argument("--quick", action="store_true", help="20,000 events, one kill trial")
    args = parser.parse_args()
    if args.quick:
        args.events = min(args.events, 20_000)
        args.kill_trials = 1
    backends = ["sqlite"] if args.no_pg else ["sqlite", "postgresql"]
    results = []
    with tempfile.TemporaryDirectory(prefix="warden-bench-") as tmp:
        for name in backends:
            with backend_url(name, args.pg_url, Path(tmp)) as url:
                results.append(asyncio.run(run_backend(name, url, Path(tmp), args)))
    print("## Recording: the audit writer (`benchmarks/bench_audit.py`)\n")
    print(
        f"{args.events:,} events through the recorder's queue into each store; `verify` "
        "extrapolated to one million events; the loss window is the age of the newest "
        "event found after a `kill -9` of a writing process. Targets: ≥ 20,000 events/s "
        "on SQLite; a kill -9 loses at most one batch interval (≤ 1 s). Gateway throughput "
        "with recording on vs off is in the gateway section (`warden-norec`).\n"
    )
    print(table(results))
    if args.out:
        document = {
            "benchmark": "audit",
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "events": args.events,
            "results": results,
        }
        args.out.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
